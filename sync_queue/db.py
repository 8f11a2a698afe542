"""Open the one SQLite file that holds all durable state and run its owners' migrations.

Every table lives in `<data_dir>/stash2plex.sqlite3`, so one WAL journal orders every
state move, and a backup is one file. A damaged file is moved aside, reported in meta
and replaced, never silently reused (promise 10).

The tables are not declared here: the module that reads and writes a table declares
its `SCHEMA`, and whoever opens the file names the owners it needs (worker/database.py
names them all). Each owner's version is kept in meta, so opening with a few owners
never disturbs the others.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple

from sync_queue import inbox, missed
from errors.kinds import TransientError

log = logging.getLogger(__name__)

DB_FILE_NAME = inbox.DB_FILE_NAME

# A schema is what a table's owner declares: its name and its migrations, each a
# (version, statements) pair, append only (a released version's statements never change).
# A plain tuple: the hook path (no dataclasses) and plex/ (same floor as sync_queue/)
# declare theirs without importing anything.
Migrations = Tuple[Tuple[int, Tuple[str, ...]], ...]
Schema = Tuple[str, Migrations]

VERSION_KEY = "schema_version:{name}"  # meta: one version per owner
# Files written before each owner kept its own version hold one `schema_version` (1 or
# 2) for them all: version 1 ran every owner's first migration, version 2 the second of
# sync_state. An owner without its own key starts from min(that version, its count
# below), so nothing runs twice (sync_state's copy into sync_items above all). Closed
# history: an owner or a migration added later is not in it and runs.
LEGACY_KEY = "schema_version"
LEGACY_MIGRATIONS: Dict[str, int] = {
    "inbox": 1, "retry_schedule": 1, "dead_letters": 1, "sync_state": 2, "breaker": 1, "plex_index": 1,
}


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


def latest(migrations: Migrations) -> int:
    """The version an owner's last migration brings its tables to."""
    return migrations[-1][0] if migrations else 0


def schema_versions(conn: sqlite3.Connection, schemas: Sequence[Schema]) -> Dict[str, int]:
    """Each owner's version in this file; 0 for an owner whose tables do not exist yet."""
    keys = [LEGACY_KEY] + [VERSION_KEY.format(name=name) for name, _ in schemas]
    try:
        rows = conn.execute(f"SELECT key, value FROM meta WHERE key IN ({','.join('?' * len(keys))})", keys)
        found = {key: json.loads(value) for key, value in rows if value is not None}
    except sqlite3.OperationalError:
        found = {}  # no meta table yet
    legacy = int(found.get(LEGACY_KEY) or 0)
    return {
        name: int(found.get(VERSION_KEY.format(name=name), min(legacy, LEGACY_MIGRATIONS.get(name, 0))))
        for name, _ in schemas
    }


def migrate(conn: sqlite3.Connection, schemas: Sequence[Schema]) -> Dict[str, int]:
    """Run each owner's pending migrations, owner by owner in the order given; returns the versions.

    Safe when two processes race: the versions are re-read under the write lock. A file
    whose owners are all current is not written to.
    """
    current = schema_versions(conn, schemas)
    if all(current[name] >= latest(migrations) for name, migrations in schemas):
        return current
    with transaction(conn):
        for statement in inbox.META_DDL:  # where the versions are kept
            conn.execute(statement)
        current = schema_versions(conn, schemas)
        for name, migrations in schemas:
            for version, statements in migrations:
                if version <= current[name]:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (VERSION_KEY.format(name=name), json.dumps(version)),
                )
                current[name] = version
    return current


def _check(conn: sqlite3.Connection) -> None:
    """Raise sqlite3.DatabaseError when quick_check finds damage."""
    row = conn.execute("PRAGMA quick_check").fetchone()
    if row is None or row[0] != "ok":
        raise sqlite3.DatabaseError(f"database disk image is malformed: {row[0] if row else 'no answer'}")


def _open_checked(data_dir: str, schemas: Sequence[Schema], check: bool) -> sqlite3.Connection:
    conn = inbox.connect(data_dir, synchronous="NORMAL")
    try:
        if check:
            _check(conn)
        migrate(conn, schemas)
        missed.reserve_missed_marker(data_dir)
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


def open_db(data_dir: str, schemas: Sequence[Schema], check: bool = True,
            now: Optional[float] = None) -> sqlite3.Connection:
    """Open the queue file with these owners' tables (created or migrated, in this order);
    a corrupt file is moved aside and replaced.

    synchronous=NORMAL: in WAL mode a committed transaction survives the process being
    killed; only a power cut may drop the last few, and the hook path writes with FULL.
    The connection is in autocommit mode; write through `transaction()`. It may be used
    from another thread, but never from two at once.
    """
    try:
        return _open_checked(data_dir, schemas, check)
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
        conn = _open_checked(data_dir, schemas, check=False)
        with transaction(conn):
            inbox.record_corruption(conn, moved_to, str(exc), when)
        return conn
