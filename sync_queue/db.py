"""Open the one SQLite file that holds all durable state; own its schema and its versions.

Every table lives in `<data_dir>/stash2plex.sqlite3`, so one WAL journal orders every
state move, and a backup is one file. A damaged file is moved aside, reported in meta
and replaced, never silently reused (promise 10).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Tuple

from sync_queue import inbox, spool
from errors.kinds import TransientError

log = logging.getLogger(__name__)

DB_FILE_NAME = inbox.DB_FILE_NAME

CORE_DDL: Tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS retry_schedule ("
    " scene_id INTEGER PRIMARY KEY,"
    " attempts INTEGER NOT NULL,"
    " not_before REAL NOT NULL,"
    " error_kind TEXT,"
    " last_error TEXT,"
    " first_failed_at REAL)",
    # promote() asks for due rows through this index, so 10,000 waiting rows cost nothing.
    "CREATE INDEX IF NOT EXISTS retry_schedule_not_before ON retry_schedule (not_before)",
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
    "CREATE TABLE IF NOT EXISTS breaker ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " state TEXT NOT NULL,"
    " failures INTEGER NOT NULL,"
    " opened_at REAL,"
    " probe_at REAL,"
    " recovery_wait REAL,"
    " last_error TEXT)",
    "CREATE TABLE IF NOT EXISTS outages ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " started_at REAL NOT NULL,"
    " ended_at REAL NULL,"
    " jobs_held INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT)",
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
)

# A scene reaches every Plex item holding one of its files, so what was written (and
# which image bytes each item holds) is kept per item. Version 1 kept one item per scene
# in sync_state; its rows are carried over.
SYNC_ITEMS_DDL: Tuple[str, ...] = (
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
)

# (version, statements). Append only: a released version's statements never change.
MIGRATIONS: List[Tuple[int, Tuple[str, ...]]] = [
    (1, inbox.HOOK_DDL + CORE_DDL),
    (2, SYNC_ITEMS_DDL),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class QueueFileLocked(TransientError):
    """Another process held the queue file past the busy timeout."""


@dataclass(frozen=True)
class CorruptDatabaseRecovered:
    """A damaged queue file was moved aside; what Queue Status shows the user."""

    at: float
    moved_to: str
    error: str


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error); nested use joins the outer transaction.

    IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading
    a read into a write.
    """
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str) -> Optional[Any]:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None or row[0] is None else json.loads(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )


def delete_meta(conn: sqlite3.Connection, key: str) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))


def last_corruption(conn: sqlite3.Connection) -> Optional[CorruptDatabaseRecovered]:
    """The last time a damaged file was replaced, or None."""
    value = get_meta(conn, "last_corruption")
    if not value:
        return None
    return CorruptDatabaseRecovered(at=value["at"], moved_to=value["moved_to"], error=value["error"])


def schema_version(conn: sqlite3.Connection) -> int:
    try:
        value = get_meta(conn, "schema_version")
    except sqlite3.OperationalError:
        return 0  # no meta table yet
    return int(value or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to SCHEMA_VERSION; safe when two processes race (version re-read under the lock)."""
    if schema_version(conn) >= SCHEMA_VERSION:
        return SCHEMA_VERSION
    with transaction(conn):
        for statement in inbox.META_DDL:
            conn.execute(statement)
        current = schema_version(conn)
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (json.dumps(version),),
            )
            current = version
    return current


def _check(conn: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError when quick_check finds damage."""
    row = conn.execute("PRAGMA quick_check").fetchone()
    if row is None or row[0] != "ok":
        raise sqlite3.DatabaseError(f"database disk image is malformed: {row[0] if row else 'no answer'}")


def _open_checked(data_dir: str, check: bool) -> sqlite3.Connection:
    conn = inbox.connect(data_dir, synchronous="NORMAL")
    try:
        if check:
            _check(conn)
        migrate(conn)
        spool.reserve_missed_marker(data_dir)
    except BaseException:
        conn.close()
        raise
    return conn


def open_read_only(data_dir: str) -> sqlite3.Connection:
    """The queue file for reading alone, when its folder cannot be written.

    `mode=ro` reads a live WAL when SQLite can; `immutable=1` needs no lock or shared
    memory at all (a folder nobody can write has no live writer, so nothing is missed).
    """
    path = inbox.db_path(data_dir)
    if not os.path.exists(path):
        raise sqlite3.OperationalError("unable to open database file")
    last: Optional[sqlite3.Error] = None
    for flags in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"file:{path}?{flags}", uri=True, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("SELECT count(*) FROM meta").fetchone()
            return conn
        except sqlite3.Error as exc:
            last = exc
    raise last  # type: ignore[misc]


def open_db(data_dir: str, check: bool = True, now: Optional[float] = None) -> sqlite3.Connection:
    """Open (creating or migrating) the queue file; a corrupt one is moved aside and replaced.

    synchronous=NORMAL: in WAL mode a committed transaction survives the process being
    killed; only a power cut may drop the last few, and the hook path writes with FULL.
    The connection is in autocommit mode; write through `transaction()`. It may be used
    from another thread, but never from two at once.
    """
    try:
        return _open_checked(data_dir, check)
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc).lower():
            raise
        # Past the busy timeout: another program (a SQLite browser, a backup tool) holds
        # the file. Not damage: the file is left alone and the user is told what to close.
        raise QueueFileLocked(
            f"the queue file {inbox.db_path(data_dir)} is locked by another program (a database "
            f"browser or a backup tool?); close it and run the task again. Nothing was changed."
        ) from exc
    except sqlite3.DatabaseError as exc:
        if not inbox.is_corruption(exc):
            raise
        when = time.time() if now is None else now
        moved_to = inbox.move_aside(data_dir, when)
        log.error("queue file was damaged (%s); moved aside to %s and started a new one", exc, moved_to)
        conn = _open_checked(data_dir, check=False)
        with transaction(conn):
            inbox.record_corruption(conn, moved_to, str(exc), when)
        return conn
