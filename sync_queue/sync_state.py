"""Per-scene record of what was last written to Plex, item by item.

The sync engine compares a scene's fingerprint with this record to skip unchanged scenes
(zero Plex requests, promise 2), uploads images only when their hash changed, and the
worker uses `read_at` to absorb jobs queued before the last successful read of Stash.

A scene with several files reaches several Plex items, so what was written, the image
hashes and the fingerprint are kept per item (`sync_items`); the scene row keeps what
belongs to the scene (when Stash was read). An image hash is recorded the moment Plex
accepted the upload, so a retry after a failed edit never sends the same bytes again.
This module owns both tables (`SCHEMA`).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from sync_queue import db

SCHEMA: db.Schema = ("sync_state", (
    (1, (
        "CREATE TABLE IF NOT EXISTS sync_state ("
        " scene_id INTEGER PRIMARY KEY,"
        " fingerprint TEXT,"
        " plex_key TEXT,"
        " section_id TEXT,"
        " written TEXT,"
        " poster_hash TEXT,"
        " art_hash TEXT,"
        " image_source TEXT,"
        " read_at REAL,"
        " synced_at REAL)",
    )),
    # Version 1 kept one item per scene in sync_state; its rows are carried over, once.
    (2, (
        "CREATE TABLE IF NOT EXISTS sync_items ("
        " scene_id INTEGER NOT NULL,"
        " rating_key TEXT NOT NULL,"
        " section_id TEXT,"
        " fingerprint TEXT,"
        " written TEXT,"
        " poster_hash TEXT,"
        " art_hash TEXT,"
        " synced_at REAL,"
        " PRIMARY KEY (scene_id, rating_key))",
        "CREATE INDEX IF NOT EXISTS sync_items_rating_key ON sync_items (rating_key)",
        "INSERT OR IGNORE INTO sync_items"
        " (scene_id, rating_key, section_id, fingerprint, written, poster_hash, art_hash, synced_at)"
        " SELECT scene_id, plex_key, section_id, fingerprint, written, poster_hash, art_hash, synced_at"
        " FROM sync_state WHERE plex_key IS NOT NULL",
    )),
))
_COLUMNS = (
    "scene_id, fingerprint, plex_key, section_id, written, poster_hash, art_hash, "
    "image_source, read_at, synced_at"
)
_ITEM_COLUMNS = "scene_id, rating_key, section_id, fingerprint, written, poster_hash, art_hash, synced_at"
_CHUNK = 500  # stay well under SQLite's bound-parameter limit on old builds (999)


def _chunks(values: list) -> Iterator[Tuple[list, str]]:
    """`values` in slices a statement can bind, each with its `?,?,…` placeholders."""
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK]
        yield chunk, ",".join("?" * len(chunk))


@dataclass
class ItemState:
    """What one Plex item holds for a scene."""

    scene_id: int
    rating_key: str
    section_id: Optional[str] = None
    fingerprint: Optional[str] = None  # the scene's fingerprint when this item was last synced
    written: Dict[str, Any] = field(default_factory=dict)
    poster_hash: Optional[str] = None
    art_hash: Optional[str] = None
    synced_at: Optional[float] = None


def _item_from_row(row: tuple) -> ItemState:
    values = list(row)
    values[1] = str(values[1])
    values[4] = json.loads(values[4]) if values[4] else {}
    return ItemState(*values)


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
    items: Dict[str, ItemState] = field(default_factory=dict)  # rating key -> that item's record


def _from_row(row: tuple) -> SceneState:
    values = list(row)
    values[4] = json.loads(values[4]) if values[4] else {}
    return SceneState(*values)


class SyncState:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def get(self, scene_id: int) -> Optional[SceneState]:
        return self.get_many([scene_id]).get(int(scene_id))

    def get_many(self, scene_ids: Iterable[int]) -> Dict[int, SceneState]:
        ids = list(dict.fromkeys(int(i) for i in scene_ids))
        found: Dict[int, SceneState] = {}
        for chunk, marks in _chunks(ids):
            for row in self.conn.execute(f"SELECT {_COLUMNS} FROM sync_state WHERE scene_id IN ({marks})", chunk):
                state = _from_row(row)
                found[state.scene_id] = state
            for row in self.conn.execute(
                    f"SELECT {_ITEM_COLUMNS} FROM sync_items WHERE scene_id IN ({marks})", chunk):
                item = _item_from_row(row)
                found.setdefault(item.scene_id, SceneState(scene_id=item.scene_id)).items[item.rating_key] = item
        return found

    def record(self, state: SceneState) -> None:
        """Replace the scene's record (after a successful sync); its items, when it has any."""
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
            for item in state.items.values():
                self._put_item(item)

    def record_item(self, item: ItemState) -> None:
        """Replace one item's record (that item synced)."""
        with db.transaction(self.conn):
            self._put_item(item)

    def record_image(self, scene_id: int, rating_key: str, section_id: Optional[str], kind: str,
                     digest: str) -> None:
        """Plex accepted an upload of these bytes: remember it now, whatever happens next."""
        column = "poster_hash" if kind == "poster" else "art_hash"
        with db.transaction(self.conn):
            self.conn.execute(
                "INSERT OR IGNORE INTO sync_items (scene_id, rating_key, section_id, written) VALUES (?, ?, ?, '{}')",
                (int(scene_id), str(rating_key), section_id))
            self.conn.execute(f"UPDATE sync_items SET {column} = ? WHERE scene_id = ? AND rating_key = ?",
                              (digest, int(scene_id), str(rating_key)))

    def drop_items(self, scene_id: int, keep: Iterable[str]) -> None:
        """The scene no longer reaches the other items (a file left it, an item was replaced)."""
        kept = [str(k) for k in keep]
        marks = ",".join("?" * len(kept)) or "NULL"
        with db.transaction(self.conn):
            self.conn.execute(f"DELETE FROM sync_items WHERE scene_id = ? AND rating_key NOT IN ({marks})",
                              [int(scene_id)] + kept)

    def forget_keys(self, rating_keys: Iterable[str]) -> List[int]:
        """Plex no longer has these items: drop their records; returns the scenes they served."""
        keys = [(str(k),) for k in rating_keys]
        if not keys:
            return []
        with db.transaction(self.conn):
            scenes = set()
            for (key,) in keys:
                scenes.update(r[0] for r in self.conn.execute(
                    "SELECT scene_id FROM sync_items WHERE rating_key = ?", (key,)))
            self.conn.executemany("DELETE FROM sync_items WHERE rating_key = ?", keys)
            self.conn.executemany("UPDATE sync_state SET plex_key = NULL WHERE plex_key = ?", keys)
        return sorted(scenes)

    def clear(self) -> List[int]:
        """Forget every record (the Plex server changed); returns the scenes that had one."""
        with db.transaction(self.conn):
            scenes = sorted({r[0] for r in self.conn.execute("SELECT scene_id FROM sync_items")}
                            | {r[0] for r in self.conn.execute("SELECT scene_id FROM sync_state")})
            self.conn.execute("DELETE FROM sync_items")
            self.conn.execute("DELETE FROM sync_state")
        return scenes

    def _put_item(self, item: ItemState) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO sync_items ({_ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (int(item.scene_id), str(item.rating_key), item.section_id, item.fingerprint,
             json.dumps(item.written, sort_keys=True, ensure_ascii=False), item.poster_hash,
             item.art_hash, item.synced_at))

    def items_for_keys(self, rating_keys: Iterable[str]) -> Dict[str, ItemState]:
        """The record of each Plex item we synced, by rating key (its lowest scene id when shared)."""
        keys = list(dict.fromkeys(str(k) for k in rating_keys))
        found: Dict[str, ItemState] = {}
        for chunk, marks in _chunks(keys):
            for row in self.conn.execute(f"SELECT {_ITEM_COLUMNS} FROM sync_items WHERE rating_key IN ({marks})"
                                         " ORDER BY scene_id DESC", chunk):
                item = _item_from_row(row)
                found[item.rating_key] = item
        return found

    def note_written(self, scene_id: int, field_name: str, value: Any) -> None:
        """Plex holds `value` for this field now and it came from Plex: record it as if we wrote it."""
        with db.transaction(self.conn):
            rows = self.conn.execute("SELECT rating_key, written FROM sync_items WHERE scene_id = ?",
                                     (int(scene_id),)).fetchall()
            for rating_key, text in rows:
                written = json.loads(text) if text else {}
                written[field_name] = value
                self.conn.execute("UPDATE sync_items SET written = ? WHERE scene_id = ? AND rating_key = ?",
                                  (json.dumps(written, sort_keys=True, ensure_ascii=False), int(scene_id), rating_key))

    def forget(self, scene_id: int) -> None:
        """Drop the record, so the next sync writes everything again."""
        with db.transaction(self.conn):
            self.conn.execute("DELETE FROM sync_state WHERE scene_id = ?", (scene_id,))
            self.conn.execute("DELETE FROM sync_items WHERE scene_id = ?", (scene_id,))

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM sync_state").fetchone()[0])

    def iter_items(self, chunk: int = _CHUNK) -> Iterator[List[ItemState]]:
        """Every synced Plex item, in chunks, for Reconcile (keyset paging, no OFFSET)."""
        last = (-1, "")
        while True:
            rows = self.conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM sync_items WHERE (scene_id, rating_key) > (?, ?) "
                "ORDER BY scene_id, rating_key LIMIT ?",
                (last[0], last[1], chunk),
            ).fetchall()
            if not rows:
                return
            items = [_item_from_row(row) for row in rows]
            last = (items[-1].scene_id, items[-1].rating_key)
            yield items

    def item_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM sync_items").fetchone()[0])

    def invalidate(self, scene_ids: Iterable[int]) -> None:
        """Forget the fingerprints (not what was written), so the next sync compares with Plex again."""
        ids = [(int(i),) for i in scene_ids]
        with db.transaction(self.conn):
            self.conn.executemany("UPDATE sync_state SET fingerprint = NULL WHERE scene_id = ?", ids)
            self.conn.executemany("UPDATE sync_items SET fingerprint = NULL WHERE scene_id = ?", ids)
