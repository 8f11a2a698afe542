"""What came back from Plex: each imported play, and how far each account's history was read.

A Plex play is keyed by (account, ratingKey, viewedAt). Before a play is written to
Stash it is recorded here as an *intent*; once Stash accepted it, the row becomes *done*
in one transaction with the account's high-water mark. So after a kill at any instant a
play is either done (never sent again), an intent (Stash may or may not have it: the
importer looks at the scene's play history before sending it again), or unknown (never
sent). This module owns both tables (`SCHEMA`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from sync_queue import db

SCHEMA: db.Schema = ("activity_log", (
    (1, (
        "CREATE TABLE IF NOT EXISTS imported_plays ("
        " account_id INTEGER NOT NULL,"
        " rating_key TEXT NOT NULL,"
        " viewed_at INTEGER NOT NULL,"
        " scene_id INTEGER NOT NULL,"
        " state TEXT NOT NULL,"  # 'intent' or 'done'
        " recorded_at REAL NOT NULL,"
        " PRIMARY KEY (account_id, rating_key, viewed_at))",
        "CREATE TABLE IF NOT EXISTS activity_marks ("
        " account_id INTEGER PRIMARY KEY,"
        " high_water INTEGER NOT NULL,"
        " updated_at REAL NOT NULL)",
    )),
))
INTENT, DONE = "intent", "done"
_CHUNK = 300  # three parameters a key: under SQLite's old 999-parameter bound


@dataclass(frozen=True)
class PlayKey:
    account_id: int
    rating_key: str
    viewed_at: int


class ActivityLog:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def states(self, keys: Iterable[PlayKey]) -> Dict[PlayKey, str]:
        """intent or done for each key recorded; unknown keys are absent."""
        wanted = list(dict.fromkeys(keys))
        found: Dict[PlayKey, str] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            where = " OR ".join("(account_id = ? AND rating_key = ? AND viewed_at = ?)" for _ in chunk)
            params = [v for k in chunk for v in (k.account_id, str(k.rating_key), k.viewed_at)]
            for account, rk, viewed, state in self.conn.execute(
                    f"SELECT account_id, rating_key, viewed_at, state FROM imported_plays WHERE {where}", params):
                found[PlayKey(account, rk, viewed)] = state
        return found

    def intend(self, plays: Iterable[Tuple[PlayKey, int]], now: float) -> None:
        """About to send these plays (key, scene id) to Stash; done rows stay done."""
        rows = [(k.account_id, str(k.rating_key), k.viewed_at, int(scene), now) for k, scene in plays]
        with db.transaction(self.conn):
            self.conn.executemany(
                "INSERT OR IGNORE INTO imported_plays (account_id, rating_key, viewed_at, scene_id, state,"
                " recorded_at) VALUES (?, ?, ?, ?, 'intent', ?)", rows)

    def done(self, plays: Iterable[Tuple[PlayKey, int]], now: float,
             marks: Optional[Mapping[int, int]] = None) -> None:
        """Stash has these plays; with `marks`, the accounts' history was read that far (same step)."""
        rows = [(k.account_id, str(k.rating_key), k.viewed_at, int(scene), now) for k, scene in plays]
        with db.transaction(self.conn):
            self.conn.executemany(
                "INSERT INTO imported_plays (account_id, rating_key, viewed_at, scene_id, state, recorded_at)"
                " VALUES (?, ?, ?, ?, 'done', ?) ON CONFLICT (account_id, rating_key, viewed_at)"
                " DO UPDATE SET state = 'done', recorded_at = excluded.recorded_at", rows)
            for account, high in (marks or {}).items():
                self.conn.execute(
                    "INSERT INTO activity_marks (account_id, high_water, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (account_id) DO UPDATE SET"
                    " high_water = max(activity_marks.high_water, excluded.high_water),"
                    " updated_at = excluded.updated_at", (int(account), int(high), now))

    def recent_intents(self, since: float) -> set:
        """Intents recorded at or after `since` (a run may still be sending them)."""
        rows = self.conn.execute("SELECT account_id, rating_key, viewed_at FROM imported_plays"
                                 " WHERE state = 'intent' AND recorded_at >= ?", (since,))
        return {PlayKey(a, rk, v) for a, rk, v in rows}

    def high_water(self, account_id: int) -> Optional[int]:
        row = self.conn.execute("SELECT high_water FROM activity_marks WHERE account_id = ?",
                                (int(account_id),)).fetchone()
        return None if row is None else int(row[0])

    def counts(self) -> Dict[str, int]:
        found = dict(self.conn.execute("SELECT state, count(*) FROM imported_plays GROUP BY state").fetchall())
        return {"plays_imported": int(found.get(DONE, 0)), "plays_in_doubt": int(found.get(INTENT, 0))}

    def accounts(self) -> List[int]:
        return [int(r[0]) for r in self.conn.execute("SELECT account_id FROM activity_marks ORDER BY account_id")]
