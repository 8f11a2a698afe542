"""The retry schedule: scenes that must wait, one row per scene with its not-before time.

A waiting job is NOT in the ready queue: it sits here and promotion moves it back when
due (promise 5), so nothing ever spins over waiting work. Each row keeps the attempts
counted so far, so new hooks for the scene never reset its retry budget.
"""

from __future__ import annotations

import sqlite3
from typing import Dict, List, Optional, Sequence, Tuple

from sync_queue import db

SCHEMA: db.Schema = ("retry_schedule", (
    (1, (
        "CREATE TABLE IF NOT EXISTS retry_schedule ("
        " scene_id INTEGER PRIMARY KEY,"
        " attempts INTEGER NOT NULL,"
        " not_before REAL NOT NULL,"
        " error_kind TEXT,"
        " last_error TEXT,"
        " first_failed_at REAL)",
        # Due rows are asked for through this index, so 10,000 waiting rows cost nothing.
        "CREATE INDEX IF NOT EXISTS retry_schedule_not_before ON retry_schedule (not_before)",
    )),
))
# Through retry_schedule_not_before with a LIMIT: the cost does not depend on how many wait.
DUE_RETRIES_SQL = (
    "SELECT scene_id, attempts, not_before, first_failed_at FROM retry_schedule "
    "WHERE not_before <= ? ORDER BY not_before LIMIT ?"
)
# A newer failure moves the time and the reason; the attempts and the first failure stay.
_PARK_SQL = (
    "INSERT INTO retry_schedule "
    "(scene_id, attempts, not_before, error_kind, last_error, first_failed_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scene_id) DO UPDATE SET "
    "attempts = max(retry_schedule.attempts, excluded.attempts), "
    "not_before = excluded.not_before, error_kind = excluded.error_kind, "
    "last_error = excluded.last_error, "
    "first_failed_at = coalesce(retry_schedule.first_failed_at, excluded.first_failed_at)"
)


class RetrySchedule:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def due(self, now: float, limit: int) -> List[Tuple[int, int, float, Optional[float]]]:
        """(scene_id, attempts, not_before, first_failed_at) of rows due by `now`, oldest first."""
        return self.conn.execute(DUE_RETRIES_SQL, (now, limit)).fetchall()

    def remove(self, rows: Sequence[tuple]) -> None:
        """Drop promoted rows, only the version read: a scene parked again meanwhile keeps its row."""
        if rows:
            with db.transaction(self.conn):
                self.conn.executemany(
                    "DELETE FROM retry_schedule WHERE scene_id = ? AND not_before = ?",
                    [(r[0], r[2]) for r in rows],
                )

    def waiting(self, scene_ids: Sequence[int]) -> Dict[int, Tuple[float, int]]:
        """scene_id → (not_before, attempts) for those of these scenes that have a row."""
        if not scene_ids:
            return {}
        marks = ",".join("?" * len(scene_ids))
        return {
            row[0]: (row[1], row[2])
            for row in self.conn.execute(
                f"SELECT scene_id, not_before, attempts FROM retry_schedule WHERE scene_id IN ({marks})",
                list(scene_ids),
            )
        }

    def row(self, scene_id: int) -> Optional[Tuple[float, int, Optional[str], Optional[str]]]:
        """(not_before, attempts, error kind, last error) of a waiting scene, or None."""
        return self.conn.execute(
            "SELECT not_before, attempts, error_kind, last_error FROM retry_schedule WHERE scene_id = ?",
            (int(scene_id),)).fetchone()

    def park(self, scene_id: int, not_before: float, attempts: int, kind: str, message: str,
             first_failed_at: float) -> None:
        with db.transaction(self.conn):
            self.conn.execute(_PARK_SQL, (scene_id, attempts, not_before, kind, message, first_failed_at))

    def forget(self, scene_id: int) -> None:
        """The scene needs no retry (it synced, or it was dead-lettered)."""
        with db.transaction(self.conn):
            self.conn.execute("DELETE FROM retry_schedule WHERE scene_id = ?", (scene_id,))

    def next_at(self) -> Optional[float]:
        return self.conn.execute("SELECT min(not_before) FROM retry_schedule").fetchone()[0]

    def due_count(self, now: float) -> int:
        return int(self.conn.execute("SELECT count(*) FROM retry_schedule WHERE not_before <= ?", (now,)).fetchone()[0])

    def by_kind(self) -> Dict[str, int]:
        """Waiting scenes per error kind."""
        rows = self.conn.execute("SELECT error_kind, count(*) FROM retry_schedule GROUP BY error_kind")
        return {kind or "unknown": int(n) for kind, n in rows}
