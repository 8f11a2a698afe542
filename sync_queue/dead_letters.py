"""Review, retry and purge the jobs that could not be synced.

A dead letter is kept as history: retrying one marks it resolved (at the retry time)
and puts the scene back in the inbox, and a later successful sync of a scene resolves
its open entries. Only the retention purge deletes rows. Safe from any process: the
inbox is the only queue table touched. This module owns the dead_letters table.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Union

from sync_queue import db, inbox
from errors.kinds import ErrorKind

RETRY_REASON = "dead-letter retry"
SCHEMA: db.Schema = ("dead_letters", (
    (1, (
        "CREATE TABLE IF NOT EXISTS dead_letters ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " scene_id INTEGER NOT NULL,"
        " error_kind TEXT,"
        " message TEXT,"
        " attempts INTEGER,"
        " failed_at REAL NOT NULL,"
        " resolved_at REAL NULL)",
        "CREATE INDEX IF NOT EXISTS dead_letters_scene ON dead_letters (scene_id, resolved_at)",
        "CREATE INDEX IF NOT EXISTS dead_letters_failed_at ON dead_letters (failed_at)",
        "CREATE INDEX IF NOT EXISTS dead_letters_kind ON dead_letters (error_kind, resolved_at)",
    )),
))
_COLUMNS = "id, scene_id, error_kind, message, attempts, failed_at, resolved_at"


@dataclass(frozen=True)
class DeadLetter:
    id: int
    scene_id: int
    error_kind: Optional[str]
    message: Optional[str]
    attempts: Optional[int]
    failed_at: float
    resolved_at: Optional[float]


class DeadLetters:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def add(self, scene_id: int, kind: str, message: str, attempts: int, now: float) -> None:
        """Record why the scene cannot be synced: its open entry is updated, or one is opened."""
        values = (kind, message, attempts, now, scene_id)
        with db.transaction(self.conn):
            updated = self.conn.execute(
                "UPDATE dead_letters SET error_kind = ?, message = ?, attempts = ?, failed_at = ? "
                "WHERE scene_id = ? AND resolved_at IS NULL",
                values,
            ).rowcount
            if not updated:
                self.conn.execute(
                    "INSERT INTO dead_letters (error_kind, message, attempts, failed_at, scene_id) "
                    "VALUES (?, ?, ?, ?, ?)",
                    values,
                )

    def count(self) -> int:
        """Open (unresolved) dead letters."""
        return int(self.conn.execute("SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL").fetchone()[0])

    def recent(self, n: int = 20, include_resolved: bool = False) -> List[DeadLetter]:
        where = "" if include_resolved else "WHERE resolved_at IS NULL "
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM dead_letters {where}ORDER BY failed_at DESC, id DESC LIMIT ?", (n,)
        )
        return [DeadLetter(*row) for row in rows]

    def get(self, id: int) -> Optional[DeadLetter]:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?", (id,)).fetchone()
        return DeadLetter(*row) if row else None

    def open_for(self, scene_id: int) -> Optional[DeadLetter]:
        """The scene's open (unresolved) dead letter, if it has one."""
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE scene_id = ? AND resolved_at IS NULL "
            "ORDER BY failed_at DESC, id DESC LIMIT 1", (int(scene_id),)).fetchone()
        return DeadLetter(*row) if row else None

    def by_kind(self) -> Dict[str, int]:
        """Open dead letters per error kind."""
        rows = self.conn.execute(
            "SELECT error_kind, count(*) FROM dead_letters WHERE resolved_at IS NULL GROUP BY error_kind"
        )
        return {kind or "unknown": int(n) for kind, n in rows}

    def retry(
        self,
        ids: Optional[Iterable[int]] = None,
        kind: Union[ErrorKind, str, None] = None,
        now: Optional[float] = None,
        scene_ids: Optional[Iterable[int]] = None,
    ) -> int:
        """Queue open dead letters again (all, or by id, kind or scene, filters combined); returns scenes queued.

        The scene gets a fresh inbox row, so it starts over with no attempts counted, and
        its item fingerprints are cleared, so the sync matches it against Plex again.
        """
        now = time.time() if now is None else now
        where, params = ["resolved_at IS NULL"], []
        for column, values in (("id", ids), ("scene_id", scene_ids)):
            if values is not None and not _narrow(where, params, column, values):
                return 0  # an empty list of ids selects nothing
        if kind is not None:
            where.append("error_kind = ?")
            params.append(kind.value if isinstance(kind, ErrorKind) else str(kind))
        clause = " AND ".join(where)
        with db.transaction(self.conn):
            scenes = [r[0] for r in self.conn.execute(f"SELECT DISTINCT scene_id FROM dead_letters WHERE {clause}", params)]
            self.conn.executemany(inbox.UPSERT_INBOX_SQL, [(s, now, RETRY_REASON) for s in scenes])
            # The retry compares with Plex again and looks the match up in Plex, never
            # trusting the record of the attempt that failed.
            self.conn.executemany("UPDATE sync_items SET fingerprint = NULL WHERE scene_id = ?",
                                  [(s,) for s in scenes])
            self.conn.execute(f"UPDATE dead_letters SET resolved_at = ? WHERE {clause}", [now] + params)
        return len(scenes)

    def purge(self, older_than_days: float, now: Optional[float] = None) -> int:
        """Delete entries (open or resolved) that failed more than `older_than_days` ago."""
        now = time.time() if now is None else now
        cutoff = now - older_than_days * 86400.0
        with db.transaction(self.conn):
            return self.conn.execute("DELETE FROM dead_letters WHERE failed_at < ?", (cutoff,)).rowcount

    def resolve_scene(self, scene_id: int, now: Optional[float] = None) -> int:
        """The scene synced after all; its open entries are resolved."""
        now = time.time() if now is None else now
        with db.transaction(self.conn):
            return self.conn.execute(
                "UPDATE dead_letters SET resolved_at = ? WHERE scene_id = ? AND resolved_at IS NULL",
                (now, scene_id),
            ).rowcount


def _narrow(where: list, params: list, column: str, values: Iterable[int]) -> bool:
    """Add `column IN (values)` to a WHERE clause; False when there are no values."""
    wanted = [int(v) for v in values]
    if wanted:
        where.append(f"{column} IN ({','.join('?' * len(wanted))})")
        params.extend(wanted)
    return bool(wanted)
