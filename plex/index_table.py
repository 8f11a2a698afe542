"""The path index's tables: every Plex file path → (section, item), and when each section was read.

This module owns plex_index and plex_index_sections (their DDL is `SCHEMA`) and holds
every statement that reads or writes them; plex/index.py keeps them in step with
Plex's listings. A lookup reads SQLite only, never Plex.

Writes are short transactions, one per listing page rather than per section: hook
processes write the same file and must never wait for a 50-request index build.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from validation.pathmap import path_key

# These tables for sync_queue/db.py: (owner, ((version, statements), ...)), append only.
SCHEMA = ("plex_index", (
    (1, (
        "CREATE TABLE IF NOT EXISTS plex_index ("
        " path_key TEXT NOT NULL,"
        " section_id TEXT NOT NULL,"
        " rating_key TEXT NOT NULL,"
        " file_path TEXT NOT NULL,"
        " updated_at INTEGER,"
        " PRIMARY KEY (path_key, rating_key))",
        "CREATE INDEX IF NOT EXISTS plex_index_rating_key ON plex_index (rating_key)",
        "CREATE TABLE IF NOT EXISTS plex_index_sections ("
        " section_id TEXT PRIMARY KEY,"
        " title TEXT,"
        " built_at REAL,"
        " max_updated_at INTEGER,"
        " item_count INTEGER)",
    )),
))
SINCE_KEY = "plex_index_since"  # meta: {section_id: updatedAt the next refresh asks after}
CHECKED_KEY = "plex_index_checked"  # meta: {section_id: when Plex's item count was last compared}
_INSERT_SQL = (
    "INSERT OR REPLACE INTO plex_index"
    "(path_key, section_id, rating_key, file_path, updated_at) VALUES (?, ?, ?, ?, ?)"
)

Match = Tuple[str, str]  # (section_id, rating_key)
Row = Tuple[str, str, str, str, int]  # (path_key, section_id, rating_key, file_path, updated_at)


@contextmanager
def _write(conn: sqlite3.Connection):
    """One short write transaction (BEGIN IMMEDIATE: no lock upgrade deadlocks); nested use joins it."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def _meta(conn: sqlite3.Connection, key: str) -> dict:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def _set_meta(conn: sqlite3.Connection, key: str, value: dict) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))


class IndexTable:
    """Read and write the plex_index tables of the plugin's database."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float] = time.time):
        self.conn = conn
        self.clock = clock

    # -- reading ---------------------------------------------------------------
    def lookup(self, plex_path: str, section_ids: Optional[Iterable[str]] = None) -> List[Match]:
        """Every (section, item) holding this path; no request to Plex."""
        rows = self.conn.execute(
            "SELECT DISTINCT section_id, rating_key FROM plex_index WHERE path_key = ? "
            "ORDER BY section_id, rating_key",
            (path_key(plex_path),),
        ).fetchall()
        if section_ids is not None:
            allowed = {str(s) for s in section_ids}
            rows = [r for r in rows if r[0] in allowed]
        return [(str(s), str(k)) for s, k in rows]

    def claims(self, section_ids: Optional[Iterable[str]] = None) -> List[Tuple[str, str, List[str]]]:
        """Files more than one item of the same section holds: (section, file, keys)."""
        rows = self.conn.execute(
            "SELECT section_id, file_path, group_concat(rating_key) FROM plex_index "
            "GROUP BY section_id, path_key HAVING COUNT(DISTINCT rating_key) > 1 ORDER BY section_id, file_path"
        ).fetchall()
        allowed = None if section_ids is None else {str(s) for s in section_ids}
        return [(str(s), f, sorted(set(k.split(",")), key=int)) for s, f, k in rows
                if allowed is None or str(s) in allowed]

    def keys(self, section_id: str) -> int:
        """Distinct items the index holds for a section."""
        return int(self.conn.execute(
            "SELECT COUNT(DISTINCT rating_key) FROM plex_index WHERE section_id = ?", (str(section_id),)
        ).fetchone()[0])

    def built_sections(self) -> Dict[str, dict]:
        rows = self.conn.execute(
            "SELECT section_id, title, built_at, max_updated_at, item_count FROM plex_index_sections"
        ).fetchall()
        return {
            str(r[0]): {"title": r[1], "built_at": r[2], "max_updated_at": r[3], "item_count": r[4]}
            for r in rows
        }

    def stats(self) -> dict:
        """Rows, items and when each section was built, for the status task."""
        size = self.conn.execute("SELECT COUNT(*) FROM plex_index").fetchone()[0]
        sections = self.built_sections()
        built = [s["built_at"] for s in sections.values() if s["built_at"]]
        return {
            "size": size,
            "items": sum(s["item_count"] or 0 for s in sections.values()),
            "built_at": min(built) if built else None,
            "sections": sections,
        }

    def since(self) -> Dict[str, int]:
        """Per section, the updatedAt the next refresh asks after."""
        return _meta(self.conn, SINCE_KEY)

    def checked(self) -> Dict[str, float]:
        """Per section, when Plex's item count was last compared with the index."""
        return _meta(self.conn, CHECKED_KEY)

    # -- writing ---------------------------------------------------------------
    def drop_section(self, sid: str) -> None:
        """Forget a section before it is listed again; without its sections row it counts as unbuilt."""
        with _write(self.conn):
            self.conn.execute("DELETE FROM plex_index_sections WHERE section_id = ?", (sid,))
            self.conn.execute("DELETE FROM plex_index WHERE section_id = ?", (sid,))

    def put_page(self, sid: str, rows: Sequence[Row], replace: bool) -> None:
        """One listing page; with `replace`, the listed items' old rows go first (a file may have left one)."""
        with _write(self.conn):
            if replace:
                self.conn.executemany(
                    "DELETE FROM plex_index WHERE section_id = ? AND rating_key = ?",
                    {(sid, r[2]) for r in rows},
                )
            self.conn.executemany(_INSERT_SQL, rows)

    def record_pass(self, sid: str, title: str, max_updated: int, full: bool, since: int,
                    checked_at: Optional[float] = None) -> None:
        """A listing of the section ended: its sections row, the next `since`, and when Plex's count was compared."""
        with _write(self.conn):
            self._mark(sid, title, max_updated, full)
            values = self.since()
            values[sid] = since
            _set_meta(self.conn, SINCE_KEY, values)
            if checked_at is not None:
                self.set_checked(sid, checked_at)

    def set_checked(self, sid: str, when: float) -> None:
        with _write(self.conn):
            checked = self.checked()
            checked[sid] = when
            _set_meta(self.conn, CHECKED_KEY, checked)

    def finish_sweep(self, sid: str, title: str, seen_keys: set, max_updated: int, since: int) -> List[str]:
        """A full pass ended: drop the section's keys it did not see (returned) and record it."""
        with _write(self.conn):
            indexed = {r[0] for r in self.conn.execute(
                "SELECT DISTINCT rating_key FROM plex_index WHERE section_id = ?", (sid,))}
            dropped = sorted(indexed - seen_keys, key=int)
            self.conn.executemany("DELETE FROM plex_index WHERE section_id = ? AND rating_key = ?",
                                  [(sid, k) for k in dropped])
            self.record_pass(sid, title, max_updated, full=True, since=since)
        return dropped

    def clear(self) -> None:
        """Forget everything (the index belongs to another Plex server)."""
        with _write(self.conn):
            self.conn.execute("DELETE FROM plex_index")
            self.conn.execute("DELETE FROM plex_index_sections")
            self.conn.execute("DELETE FROM meta WHERE key IN (?, ?)", (SINCE_KEY, CHECKED_KEY))

    def replace_item(self, section_id: str, rating_key: str, files: Iterable[str], updated_at: int = 0) -> None:
        """Index an item by the files Plex says it holds now (from a full item)."""
        rows = [(path_key(f), str(section_id), str(rating_key), f, int(updated_at or 0)) for f in files]
        with _write(self.conn):
            self.conn.execute("DELETE FROM plex_index WHERE rating_key = ?", (str(rating_key),))
            self.conn.executemany(_INSERT_SQL, rows)

    def forget(self, rating_keys: Iterable[str]) -> None:
        """Drop items Plex no longer has (a full fetch did not return them)."""
        keys = [(str(k),) for k in rating_keys]
        if keys:
            with _write(self.conn):
                self.conn.executemany("DELETE FROM plex_index WHERE rating_key = ?", keys)

    def _mark(self, sid: str, title: str, max_updated: int, full: bool) -> None:
        count = self.keys(sid)
        if full:
            self.conn.execute(
                "INSERT OR REPLACE INTO plex_index_sections"
                "(section_id, title, built_at, max_updated_at, item_count) VALUES (?, ?, ?, ?, ?)",
                (sid, title, self.clock(), max_updated, count),
            )
        else:
            self.conn.execute(
                "UPDATE plex_index_sections SET title = ?, max_updated_at = ?, item_count = ? "
                "WHERE section_id = ?",
                (title, max_updated, count, sid),
            )
