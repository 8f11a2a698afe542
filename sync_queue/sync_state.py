"""Per-scene record of what was last written to Plex.

The sync engine compares a scene's fingerprint with this record to skip unchanged scenes
(zero Plex requests, promise 2), uploads images only when their hash changed, and the
worker uses `read_at` to absorb jobs queued before the last successful read of Stash.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional

from sync_queue import db

_COLUMNS = (
    "scene_id, fingerprint, plex_key, section_id, written, poster_hash, art_hash, "
    "image_source, read_at, synced_at"
)
_CHUNK = 500  # stay well under SQLite's bound-parameter limit on old builds (999)


@dataclass
class SceneState:
    scene_id: int
    fingerprint: Optional[str] = None
    plex_key: Optional[str] = None
    section_id: Optional[str] = None
    written: Dict[str, Any] = field(default_factory=dict)  # field -> value last written to Plex
    poster_hash: Optional[str] = None
    art_hash: Optional[str] = None
    image_source: Optional[str] = None  # the screenshot URL the images came from
    read_at: Optional[float] = None  # when Stash was read for the last successful sync
    synced_at: Optional[float] = None


def _from_row(row: tuple) -> SceneState:
    values = list(row)
    values[4] = json.loads(values[4]) if values[4] else {}
    return SceneState(*values)


class SyncState:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def get(self, scene_id: int) -> Optional[SceneState]:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM sync_state WHERE scene_id = ?", (scene_id,)).fetchone()
        return _from_row(row) if row else None

    def get_many(self, scene_ids: Iterable[int]) -> Dict[int, SceneState]:
        ids = list(dict.fromkeys(int(i) for i in scene_ids))
        found: Dict[int, SceneState] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(f"SELECT {_COLUMNS} FROM sync_state WHERE scene_id IN ({marks})", chunk):
                state = _from_row(row)
                found[state.scene_id] = state
        return found

    def record(self, state: SceneState) -> None:
        """Replace the scene's record (after a successful sync)."""
        with db.transaction(self.conn):
            self.conn.execute(
                f"INSERT OR REPLACE INTO sync_state ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    state.scene_id,
                    state.fingerprint,
                    state.plex_key,
                    state.section_id,
                    json.dumps(state.written, sort_keys=True, ensure_ascii=False),
                    state.poster_hash,
                    state.art_hash,
                    state.image_source,
                    state.read_at,
                    state.synced_at,
                ),
            )

    def forget(self, scene_id: int) -> None:
        """Drop the record, so the next sync writes everything again."""
        with db.transaction(self.conn):
            self.conn.execute("DELETE FROM sync_state WHERE scene_id = ?", (scene_id,))

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM sync_state").fetchone()[0])

    def iter_synced(self, chunk: int = _CHUNK) -> Iterator[List[SceneState]]:
        """Every scene with a Plex item, in chunks, for Reconcile (keyset paging, no OFFSET)."""
        last = -1
        while True:
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM sync_state WHERE scene_id > ? AND plex_key IS NOT NULL "
                "ORDER BY scene_id LIMIT ?",
                (last, chunk),
            ).fetchall()
            if not rows:
                return
            states = [_from_row(row) for row in rows]
            last = states[-1].scene_id
            yield states

    def invalidate(self, scene_ids: Iterable[int]) -> None:
        """Forget the fingerprints (not what was written), so the next sync compares with Plex again."""
        ids = [int(i) for i in scene_ids]
        with db.transaction(self.conn):
            self.conn.executemany("UPDATE sync_state SET fingerprint = NULL WHERE scene_id = ?", [(i,) for i in ids])
