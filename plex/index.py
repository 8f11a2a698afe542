"""The path index: every Plex file path → (section, item), kept in SQLite.

Matching a scene by file path must not cost a Plex request per scene, and searching
Plex by file name guesses wrong when two folders hold `scene.mp4`. So the index is
built from one paged listing per movie section, stored in the plugin's database, and
refreshed incrementally with Plex's `updatedAt>>=` filter (a newly scanned item gets
an updatedAt too, so the one filter also finds additions). A lookup reads SQLite only.

Pages are parsed straight from Plex's XML and written as they arrive, so a 50,000-item
library never sits in memory as plexapi objects. Items deleted in Plex cannot be seen
by an incremental refresh; the sync engine drops them (`forget`) when a full fetch no
longer returns them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from plex.pathmap import path_key

PAGE_SIZE = 1000
SETTLE_SECONDS = 5
SINCE_KEY = "plex_index_since"  # meta: {section_id: updatedAt the next refresh asks after}
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
            total += seen
        return total

    def refresh(self, server, sections: Sequence, on_progress: Progress = None) -> int:
        """Bring the index up to date: changed items since the last refresh, or a full
        build for a section never indexed. Returns the number of items re-read."""
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
        return total

    def ensure_built(self, server, sections: Sequence, on_progress: Progress = None) -> int:
        """Build only the sections that have no index yet (the first run)."""
        built = self.built_sections()
        missing = [s for s in sections if str(s.key) not in built]
        return self.build(server, missing, on_progress) if missing else 0

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
