"""The path index: every Plex file path → (section, item), kept in SQLite.

Matching a scene by file path must not cost a Plex request per scene, and searching
Plex by file name guesses wrong when two folders hold `scene.mp4`. So the index is
built from one paged listing per movie section, stored in the plugin's database, and
refreshed incrementally with Plex's `updatedAt>>=` filter (a newly scanned item gets
an updatedAt too, so the one filter also finds additions). A lookup reads SQLite only.

Pages are parsed straight from Plex's XML and written as they arrive, so a 50,000-item
library never sits in memory as plexapi objects.

Deletions never show in a listing filtered by updatedAt, so two more things keep the
index true: the sync engine drops a key (`forget`) as soon as a multi-get no longer
returns it or a write to it answers 404, and once per `full_every` seconds a refresh
asks Plex for the section's item count (one request with a page size of 0). When Plex
holds fewer items than the index, a full paged pass replaces the section's rows, keys
not seen are dropped, and that happens at most once per period.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from validation.pathmap import path_key

PAGE_SIZE = 1000
SETTLE_SECONDS = 5
SINCE_KEY = "plex_index_since"  # meta: {section_id: updatedAt the next refresh asks after}
CHECKED_KEY = "plex_index_checked"  # meta: {section_id: when Plex's item count was last compared}
FULL_EVERY_DEFAULT = 24 * 3600.0
# Ask Plex to leave out what the index never reads (a real server honours these; a
# listing still carries <Media><Part file=…>).
_LISTING_TRIM = (
    "excludeFields=summary,tagline"
    "&excludeElements=Genre,Role,Director,Writer,Country,Collection,Label,Guid,Rating,Producer"
)

Match = Tuple[str, str]  # (section_id, rating_key)
Progress = Optional[Callable[[int, int], None]]


@contextmanager
def _write(conn: sqlite3.Connection):
    """One short write transaction (BEGIN IMMEDIATE: no lock upgrade deadlocks).

    Kept per listing page rather than per section: hook processes write the same
    file and must never wait for a 50-request index build.
    """
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


class PathIndex:
    """Build, refresh and query the plex_index tables of the plugin's database."""

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

    # -- writing ---------------------------------------------------------------
    def build(self, server, sections: Sequence, on_progress: Progress = None) -> int:
        """Replace the index of each section with a full paged listing; returns items seen.

        The section's row in plex_index_sections is dropped first and written last, so
        a build cut short (Stop, a crash, Plex gone) is redone on the next run.
        """
        total = 0
        for section in sections:
            sid = str(section.key)
            with _write(self.conn):
                self.conn.execute("DELETE FROM plex_index_sections WHERE section_id = ?", (sid,))
                self.conn.execute("DELETE FROM plex_index WHERE section_id = ?", (sid,))
            started = self.clock()
            seen, max_updated = self._ingest(server, sid, "", on_progress, replace=False)
            with _write(self.conn):
                self._mark(sid, section.title, max_updated, full=True)
                self._set_since(sid, _next_since(max_updated, started))
                checked = db_meta(self.conn, CHECKED_KEY)
                checked[sid] = started
                set_db_meta(self.conn, CHECKED_KEY, checked)
            total += seen
        return total

    def refresh(self, server, sections: Sequence, on_progress: Progress = None,
                full_every: float = FULL_EVERY_DEFAULT) -> int:
        """Bring the index up to date: changed items since the last refresh, or a full
        build for a section never indexed; deletions once per `full_every` seconds (see
        the module docstring). Returns the number of items re-read."""
        built = self.built_sections()
        total = 0
        for section in sections:
            sid = str(section.key)
            if sid not in built:
                total += self.build(server, [section], on_progress)
                continue
            newest = int(built[sid]["max_updated_at"] or 0)
            since = self._since().get(sid, newest - 1)
            started = self.clock()
            seen, max_updated = self._ingest(
                server, sid, f"&updatedAt>>={since}", on_progress, replace=True
            )
            with _write(self.conn):
                newest = max(max_updated, newest)
                self._mark(sid, section.title, newest, full=False)
                self._set_since(sid, _next_since(newest, started))
            total += seen
            total += self._check_count(server, section, full_every)
        return total

    def stale(self, server, section) -> int:
        """Index entries (items) Plex no longer holds in this section, by count: one request."""
        return max(0, self.keys(str(section.key)) - item_count(server, str(section.key)))

    def _check_count(self, server, section, full_every: float) -> int:
        """Once per period: compare Plex's item count; sweep the section when items went away."""
        sid = str(section.key)
        checked = db_meta(self.conn, CHECKED_KEY)
        now = self.clock()
        if now - float(checked.get(sid, 0)) < full_every:
            return 0
        seen = 0
        if item_count(server, sid) < self.keys(sid):
            seen = len(self.sweep(server, section))
        checked[sid] = now
        with _write(self.conn):
            set_db_meta(self.conn, CHECKED_KEY, checked)
        return seen

    def sweep(self, server, section) -> List[str]:
        """A full paged pass that keeps lookups working while it runs: rows are replaced
        page by page, and keys the pass did not see are dropped at the end (returned)."""
        sid = str(section.key)
        started = self.clock()
        seen_keys: set = set()
        max_updated = 0
        for rows, _done, _total in _pages(server, sid, ""):
            with _write(self.conn):
                self.conn.executemany(
                    "DELETE FROM plex_index WHERE section_id = ? AND rating_key = ?", {(sid, r[2]) for r in rows})
                self.conn.executemany(
                    "INSERT OR REPLACE INTO plex_index"
                    "(path_key, section_id, rating_key, file_path, updated_at) VALUES (?, ?, ?, ?, ?)", rows)
            seen_keys.update(r[2] for r in rows)
            max_updated = max([max_updated] + [r[4] for r in rows])
        with _write(self.conn):
            indexed = {r[0] for r in self.conn.execute(
                "SELECT DISTINCT rating_key FROM plex_index WHERE section_id = ?", (sid,))}
            dropped = sorted(indexed - seen_keys, key=int)
            self.conn.executemany("DELETE FROM plex_index WHERE section_id = ? AND rating_key = ?",
                                  [(sid, k) for k in dropped])
            self._mark(sid, section.title, max_updated, full=True)
            self._set_since(sid, _next_since(max_updated, started))
        return dropped

    def clear(self) -> None:
        """Forget everything (the index belongs to another Plex server)."""
        with _write(self.conn):
            self.conn.execute("DELETE FROM plex_index")
            self.conn.execute("DELETE FROM plex_index_sections")
            self.conn.execute("DELETE FROM meta WHERE key IN (?, ?)", (SINCE_KEY, CHECKED_KEY))

    def ensure_built(self, server, sections: Sequence, on_progress: Progress = None) -> int:
        """Build only the sections that have no index yet (the first run)."""
        built = self.built_sections()
        missing = [s for s in sections if str(s.key) not in built]
        return self.build(server, missing, on_progress) if missing else 0

    def replace_item(self, section_id: str, rating_key: str, files: Iterable[str], updated_at: int = 0) -> None:
        """Index an item by the files Plex says it holds now (from a full item)."""
        rows = [(path_key(f), str(section_id), str(rating_key), f, int(updated_at or 0)) for f in files]
        with _write(self.conn):
            self.conn.execute("DELETE FROM plex_index WHERE rating_key = ?", (str(rating_key),))
            self.conn.executemany(
                "INSERT OR REPLACE INTO plex_index"
                "(path_key, section_id, rating_key, file_path, updated_at) VALUES (?, ?, ?, ?, ?)", rows)

    def forget(self, rating_keys: Iterable[str]) -> None:
        """Drop items Plex no longer has (a full fetch did not return them)."""
        keys = [(str(k),) for k in rating_keys]
        if keys:
            with _write(self.conn):
                self.conn.executemany("DELETE FROM plex_index WHERE rating_key = ?", keys)

    # -- internals -------------------------------------------------------------
    def _since(self) -> Dict[str, int]:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (SINCE_KEY,)).fetchone()
        return json.loads(row[0]) if row and row[0] else {}

    def _set_since(self, sid: str, since: int) -> None:
        values = self._since()
        values[sid] = since
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (SINCE_KEY, json.dumps(values)))

    def _mark(self, sid: str, title: str, max_updated: int, full: bool) -> None:
        count = self.conn.execute(
            "SELECT COUNT(DISTINCT rating_key) FROM plex_index WHERE section_id = ?", (sid,)
        ).fetchone()[0]
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

    def _ingest(self, server, sid: str, extra: str, on_progress: Progress, replace: bool):
        seen, max_updated = 0, 0
        for rows, done, total in _pages(server, sid, extra):
            with _write(self.conn):
                if replace:
                    self.conn.executemany(
                        "DELETE FROM plex_index WHERE section_id = ? AND rating_key = ?",
                        {(sid, r[2]) for r in rows},
                    )
                self.conn.executemany(
                    "INSERT OR REPLACE INTO plex_index"
                    "(path_key, section_id, rating_key, file_path, updated_at) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            seen += len({r[2] for r in rows})
            max_updated = max([max_updated] + [r[4] for r in rows])
            if on_progress:
                on_progress(done, total)
        return seen, max_updated


def db_meta(conn: sqlite3.Connection, key: str) -> dict:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def set_db_meta(conn: sqlite3.Connection, key: str, value: dict) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))


def item_count(server, sid: str) -> int:
    """The section's item count: a listing page of size 0 still carries totalSize
    (plexapi's LibrarySection.totalViewSize asks the same way)."""
    data = server.query(f"/library/sections/{sid}/all?type=1",
                        headers={"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "0"})
    if data is None:
        return 0
    return int(data.attrib.get("totalSize") or data.attrib.get("size") or 0)


def _next_since(newest: int, listed_at: float) -> int:
    """The updatedAt the next refresh asks after (Plex's `>>=` is strictly after).

    An item changed later within the newest second we saw would be missed by a strict
    filter, so while that second is recent the next refresh starts one second earlier
    (rows are upserted, re-reading is harmless). Once it is SETTLE_SECONDS old
    (allowing for some clock difference between this machine and Plex's), nothing can
    still change within it, and a refresh with nothing new reads nothing.
    """
    if newest and listed_at - newest < SETTLE_SECONDS:
        return newest - 1
    return newest


def _pages(server, sid: str, extra: str) -> Iterator[Tuple[list, int, int]]:
    """Rows of each listing page: (path_key, section, rating_key, file, updatedAt)."""
    key = f"/library/sections/{sid}/all?type=1&{_LISTING_TRIM}{extra}"
    start = 0
    while True:
        headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(PAGE_SIZE)}
        data = server.query(key, headers=headers)
        if data is None:
            return
        videos = [el for el in data if el.tag == "Video"]
        total = int(data.attrib.get("totalSize") or data.attrib.get("size") or len(videos))
        rows = []
        for video in videos:
            rk = video.attrib.get("ratingKey")
            if not rk:
                continue
            updated = int(video.attrib.get("updatedAt") or video.attrib.get("addedAt") or 0)
            for part in video.iter("Part"):
                file_path = part.attrib.get("file")
                if file_path:
                    rows.append((path_key(file_path), sid, str(rk), file_path, updated))
        start += PAGE_SIZE
        yield rows, min(start, total), total
        if not videos or start >= total:
            return
