"""The scenes the scene filter leaves out of Plex now, and why (Queue Status counts them).

One row per scene the drainer read and left alone (only_organized, required_tags,
excluded_scene_tags; mapping/scene_filter.py), with the reason and the key of the
filter settings it was judged under. A scene that passes the filter on a later read,
or is deleted in Stash, loses its row. Rows judged under other filter settings are the
scenes to read again when those settings change. This module owns the table (`SCHEMA`).
"""

from __future__ import annotations

import sqlite3
from typing import Dict, Iterable, List, Tuple

from sync_queue import db

SCHEMA: db.Schema = ("filter_skips", (
    (1, (
        "CREATE TABLE IF NOT EXISTS filter_skips ("
        " scene_id INTEGER PRIMARY KEY,"
        " reason TEXT NOT NULL,"
        " filter_key TEXT NOT NULL,"
        " skipped_at REAL NOT NULL)",
    )),
))
_CHUNK = 500  # stay well under SQLite's bound-parameter limit on old builds (999)


class FilterSkips:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def update(self, skipped: Iterable[Tuple[int, str]], passed: Iterable[int], key: str, now: float) -> None:
        """Record the scenes left out (scene id, reason) and drop those that passed, at once."""
        rows = [(int(sid), reason, key, now) for sid, reason in skipped]
        gone = [(sid,) for sid in self._recorded(passed)]  # most batches: none, and no write
        if not rows and not gone:
            return
        with db.transaction(self.conn):
            self.conn.executemany("INSERT OR REPLACE INTO filter_skips (scene_id, reason, filter_key, skipped_at) "
                                  "VALUES (?, ?, ?, ?)", rows)
            self.conn.executemany("DELETE FROM filter_skips WHERE scene_id = ?", gone)

    def _recorded(self, scene_ids: Iterable[int]) -> List[int]:
        ids = [int(i) for i in scene_ids]
        found: List[int] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            found += [r[0] for r in self.conn.execute(
                f"SELECT scene_id FROM filter_skips WHERE scene_id IN ({','.join('?' * len(chunk))})", chunk)]
        return found

    def forget(self, scene_ids: Iterable[int]) -> None:
        self.update((), scene_ids, "", 0.0)

    def judged_under_other(self, key: str) -> List[int]:
        """Scenes left out under other filter settings: they may pass now."""
        return [r[0] for r in self.conn.execute(
            "SELECT scene_id FROM filter_skips WHERE filter_key != ? ORDER BY scene_id", (key,))]

    def by_reason(self) -> Dict[str, int]:
        return {reason: n for reason, n in self.conn.execute(
            "SELECT reason, count(*) FROM filter_skips GROUP BY reason ORDER BY reason")}

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM filter_skips").fetchone()[0])
