"""What was last written to each Plex collection from its Stash group or studio.

One row per library section and collection title: the Stash image URLs the poster and
background came from with the sha256 of the bytes Plex accepted, and the summary sent.
Stash's image URLs carry the object's update time (`?t=`), so an unchanged URL means
unchanged bytes and costs no request at all; a changed URL costs one fetch, and an
upload only when the bytes' hash differs. Each part is recorded the moment Plex
accepted it, so a failure halfway never sends the same image twice.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

from sync_queue import db

SCHEMA: db.Schema = ("collection_art", (
    (1, (
        "CREATE TABLE IF NOT EXISTS collection_art ("
        " section_id TEXT NOT NULL,"
        " title_key TEXT NOT NULL,"  # the title casefolded: Plex matches collection titles so
        " title TEXT NOT NULL,"
        " source TEXT NOT NULL,"  # 'group:12' or 'studio:3'
        " poster_url TEXT, poster_hash TEXT,"
        " art_url TEXT, art_hash TEXT,"
        " summary TEXT,"
        " updated_at REAL NOT NULL,"
        " PRIMARY KEY (section_id, title_key))",
    )),
))

_COLUMNS = ("poster_url", "poster_hash", "art_url", "art_hash", "summary")


@dataclass
class ArtState:
    """What one collection holds from us (None: never written)."""

    poster_url: Optional[str] = None
    poster_hash: Optional[str] = None
    art_url: Optional[str] = None
    art_hash: Optional[str] = None
    summary: Optional[str] = None


Key = Tuple[str, str]  # (section id, collection title)


def title_key(title: str) -> str:
    return title.casefold()


class CollectionArt:
    def __init__(self, conn: sqlite3.Connection, clock=time.time):
        self.conn = conn
        self.clock = clock

    def get_many(self, keys: Iterable[Key]) -> Dict[Key, ArtState]:
        """The recorded state of each collection asked for (absent ones are left out)."""
        found: Dict[Key, ArtState] = {}
        for section_id, title in keys:
            row = self.conn.execute(
                "SELECT %s FROM collection_art WHERE section_id = ? AND title_key = ?"
                % ", ".join(_COLUMNS), (str(section_id), title_key(title))).fetchone()
            if row is not None:
                found[(section_id, title)] = ArtState(*row)
        return found

    def record(self, key: Key, source: str, **parts: Optional[str]) -> None:
        """Remember the given parts (poster_url/poster_hash, art_url/art_hash, summary)."""
        unknown = set(parts) - set(_COLUMNS)
        if unknown:
            raise ValueError("unknown collection_art columns: %s" % sorted(unknown))
        section_id, title = str(key[0]), key[1]
        with self.conn:
            self.conn.execute(
                "INSERT INTO collection_art (section_id, title_key, title, source, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (section_id, title_key) DO UPDATE SET"
                " title = excluded.title, source = excluded.source, updated_at = excluded.updated_at",
                (section_id, title_key(title), title, source, self.clock()))
            for column, value in parts.items():
                self.conn.execute(
                    "UPDATE collection_art SET %s = ? WHERE section_id = ? AND title_key = ?" % column,
                    (value, section_id, title_key(title)))

    def clear(self) -> None:
        """Forget everything (another Plex server: its collections hold none of it).

        No transaction of its own: the caller's (identity.check_server) holds it.
        """
        self.conn.execute("DELETE FROM collection_art")
