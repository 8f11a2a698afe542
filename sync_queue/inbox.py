"""The inbox: scene ids waiting to be synced, one row per scene, and the drainer's heartbeat.

Tasks (Sync All, Sync Recent, the catch-up) enqueue here directly; hooks write drops
(sync_queue/drops.py) that the drainer merges in with `UPSERT_INBOX_SQL`. This module
owns the tables every opener needs first (inbox, drainer, meta): their DDL lives here,
once, and `SCHEMA` hands it to sync_queue/db.py.

Whether a drainer is alive is decided by the drain lock (sync_queue/lock_probe.py);
the heartbeat is only a figure for Queue Status.
"""

from __future__ import annotations

import os
import json
import sqlite3
import time

from sync_queue import drops

DB_FILE_NAME = "stash2plex.sqlite3"
BUSY_TIMEOUT_SECONDS = 10.0

INBOX_DDL: "tuple[str, ...]" = (
    "CREATE TABLE IF NOT EXISTS inbox ("
    " scene_id INTEGER PRIMARY KEY,"
    " enqueued_at REAL NOT NULL,"
    " reason TEXT NOT NULL)",
    # promote() takes the oldest rows first; without this it would sort the whole inbox.
    "CREATE INDEX IF NOT EXISTS inbox_enqueued_at ON inbox (enqueued_at)",
)
DRAINER_DDL: "tuple[str, ...]" = (
    "CREATE TABLE IF NOT EXISTS drainer ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " pid INTEGER,"
    " beat_at REAL,"
    " started_at REAL)",
)
META_DDL: "tuple[str, ...]" = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
)
HOOK_DDL: "tuple[str, ...]" = INBOX_DDL + DRAINER_DDL + META_DDL
# This module's tables for sync_queue/db.py: (owner, ((version, statements), ...)), append only.
SCHEMA = ("inbox", ((1, HOOK_DDL),))

# One row per scene: a newer enqueue only moves its time forward (clocks of two
# processes may disagree slightly; an older time must never hide a newer change).
UPSERT_INBOX_SQL = (
    "INSERT INTO inbox (scene_id, enqueued_at, reason) VALUES (?, ?, ?) "
    "ON CONFLICT (scene_id) DO UPDATE SET "
    "enqueued_at = max(inbox.enqueued_at, excluded.enqueued_at), "
    "reason = excluded.reason"
)

_CORRUPTION_MARKERS = ("file is not a database", "malformed", "file is encrypted")


def db_path(data_dir: str) -> str:
    return os.path.join(data_dir, DB_FILE_NAME)


def connect(data_dir: str, synchronous: str = "FULL",
            busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> sqlite3.Connection:
    """Open the queue file in autocommit mode (transactions are explicit), WAL, with a busy timeout.

    FULL makes a task's commit survive a power cut, not just a killed process.
    """
    os.makedirs(data_dir, exist_ok=True)
    conn = sqlite3.connect(
        db_path(data_dir),
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return conn


def is_corruption(exc: BaseException) -> bool:
    """True for the errors SQLite gives for a damaged file (never for 'database is locked')."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and any(m in text for m in _CORRUPTION_MARKERS)


def move_aside(data_dir: str, now: float) -> str:
    """Rename a corrupt queue file (and its -wal/-shm) so a fresh one can be created; returns the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    base = db_path(data_dir)
    target = f"{base}.corrupt-{stamp}"
    n = 1
    while os.path.exists(target):
        n += 1
        target = f"{base}.corrupt-{stamp}-{n}"
    os.replace(base, target)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(base + suffix):
            os.replace(base + suffix, target + suffix)
    return os.path.basename(target)


def record_corruption(conn: sqlite3.Connection, moved_to: str, error: str, now: float) -> None:
    """Leave a note in the fresh file so Queue Status can tell the user what happened."""
    value = json.dumps({"at": now, "moved_to": moved_to, "error": error})
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_corruption', ?)", (value,))


def _write_inbox(conn: sqlite3.Connection, rows: list) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in HOOK_DDL:
            conn.execute(statement)
        conn.executemany(UPSERT_INBOX_SQL, rows)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def enqueue(data_dir: str, scene_ids: "list[int]", reason: str, now: "float | None" = None,
            busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> int:
    """Durably queue scene ids in one transaction; returns how many ids were given.

    Returns only after the commit, so a hook that exits has its job on disk. A corrupt
    file is moved aside and the write goes to a fresh one: the new change is kept, and
    the event is recorded in meta for Queue Status.
    """
    when = time.time() if now is None else now
    rows = [(int(scene_id), when, reason) for scene_id in scene_ids]
    if not rows:
        return 0
    try:
        conn = connect(data_dir, busy_timeout=busy_timeout)
        try:
            _write_inbox(conn, rows)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise
        moved_to = move_aside(data_dir, when)
        conn = connect(data_dir, busy_timeout=busy_timeout)
        try:
            _write_inbox(conn, rows)
            record_corruption(conn, moved_to, str(exc), when)
        finally:
            conn.close()
    return len(rows)


def heartbeat_is_fresh(data_dir: str, now: "float | None" = None, max_age: float = 2.0) -> bool:
    """True when a drainer has beaten within `max_age` seconds (so a hook need not start one)."""
    path = db_path(data_dir)
    if not os.path.exists(path):
        return False
    when = time.time() if now is None else now
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            row = conn.execute("SELECT beat_at FROM drainer WHERE id = 1").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False  # no table yet, or a damaged file: starting a drainer is the safe answer
    if row is None or row[0] is None:
        return False
    return when - max_age <= row[0] <= when + max_age


def beat(conn: sqlite3.Connection, pid: int, now: float) -> None:
    """The drainer says it is alive; started_at is kept while the same pid keeps beating."""
    conn.execute(
        "INSERT INTO drainer (id, pid, beat_at, started_at) VALUES (1, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET "
        "started_at = CASE WHEN drainer.pid = excluded.pid THEN drainer.started_at "
        "ELSE excluded.started_at END, "
        "pid = excluded.pid, beat_at = excluded.beat_at",
        (pid, now, now),
    )
    if conn.in_transaction:
        conn.commit()


def clear_beat(conn: sqlite3.Connection) -> None:
    """The drainer is about to exit: Queue Status stops showing a heartbeat."""
    conn.execute("DELETE FROM drainer WHERE id = 1")
    if conn.in_transaction:
        conn.commit()


class InboxWatch:
    """A running drainer's cheap look for new work: a hook's drop, or a task's enqueue.

    A drop is one file in the drops folder (one scandir, stopping at the first). A task
    commits to the queue file: `PRAGMA data_version` changes only when another connection
    commits (SQLite: "the integer values returned by two invocations of PRAGMA
    data_version from the same connection will be different if changes were committed to
    the database by any other connection in the interim"), so most looks cost one pragma
    and no table read. Works the same on every platform.
    """

    def __init__(self, conn: sqlite3.Connection, data_dir: str):
        self.conn = conn
        self.data_dir = data_dir
        self.version = self._version()

    def _version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def arrived(self) -> bool:
        """True when a drop waits, or another process committed since the last look and the inbox holds a row."""
        if drops.waiting(self.data_dir):
            return True
        version = self._version()
        if version == self.version:
            return False
        self.version = version
        return self.conn.execute("SELECT 1 FROM inbox LIMIT 1").fetchone() is not None
