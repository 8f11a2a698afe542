"""The hook's fallback when the queue file cannot take a write: nothing is lost silently.

Standard library only: the hook path imports it.

A hook that cannot write SQLite within its short busy wait (another program holds the
file, the disk is full, the file is damaged) appends the scene id to an append-only
spool file beside the database, one JSON line, fsync'd. The next process that can
write the database merges the spool into the inbox: it reads from the offset it merged
last, and stores the new offset in the same transaction as the inbox rows, so a crash
between the two merges nothing twice and loses nothing. The file is only removed once
everything in it is merged and nobody has written it for a while.

When even the spool cannot be written (the disk is full), the hook marks the time of
the first missed edit in a small file created ahead of time: overwriting bytes it
already owns needs no free space. The drainer then queues every scene Stash changed
since that time, and Queue Status says so.
"""

from __future__ import annotations

import os
try:  # the C module that sqlite3 re-exports (same classes): the hook skips datetime & co
    import _sqlite3 as sqlite3
except ImportError:  # pragma: no cover - an interpreter without it
    import sqlite3
import time

SPOOL_FILE_NAME = "stash2plex.spool"
MISSED_FILE_NAME = "stash2plex.missed"
OFFSET_KEY = "spool_offset"  # meta: {"offset": bytes merged, "ino": the spool file's identity}
MISSED_SIZE = 64  # bytes reserved for the marker; all spaces = nothing missed
QUIET_SECONDS = 60.0  # a merged spool untouched this long can go (a hook writes within a second)


def spool_path(data_dir: str) -> str:
    return os.path.join(data_dir, SPOOL_FILE_NAME)


def missed_path(data_dir: str) -> str:
    return os.path.join(data_dir, MISSED_FILE_NAME)


def append(data_dir: str, scene_ids: "list[int]", reason: str, now: float) -> None:
    """Durably note scene ids outside SQLite; raises OSError when the disk refuses."""
    import json  # lazily: json costs the hook path ~5 ms (re, enum)

    lines = "".join(
        json.dumps({"scene_id": int(sid), "at": now, "reason": reason}) + "\n" for sid in scene_ids
    ).encode("utf-8")
    fd = os.open(spool_path(data_dir), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(fd, lines)
        if written != len(lines):
            raise OSError(28, "short write to the spool file")
        os.fsync(fd)
    finally:
        os.close(fd)


def reserve_missed_marker(data_dir: str) -> None:
    """Create the marker file while there is space, so a full disk can still be noted."""
    path = missed_path(data_dir)
    if os.path.exists(path):
        return
    try:
        with open(path, "wb") as fh:
            fh.write(b" " * MISSED_SIZE)
    except OSError:
        pass  # a read-only folder: nothing could be noted there anyway


def note_missed(data_dir: str, now: float) -> bool:
    """Remember the first edit that could not be kept anywhere; True when it was noted."""
    path = missed_path(data_dir)
    try:
        with open(path, "r+b") as fh:
            if fh.read(MISSED_SIZE).strip():
                return True  # an earlier miss is already noted; the earliest time counts
            fh.seek(0)
            fh.write(("%.3f" % now).ljust(MISSED_SIZE).encode("ascii"))
            fh.flush()
            os.fsync(fh.fileno())
        return True
    except OSError:
        return False


def first_missed(data_dir: str) -> "float | None":
    """When the first edit that no file could hold was made, or None."""
    try:
        with open(missed_path(data_dir), "rb") as fh:
            text = fh.read(MISSED_SIZE).strip()
    except OSError:
        return None
    try:
        return float(text) if text else None
    except ValueError:
        return None


def clear_missed(data_dir: str) -> None:
    """Blank the marker before catching up, so a miss during the catch-up is noted again."""
    with open(missed_path(data_dir), "r+b") as fh:
        fh.write(b" " * MISSED_SIZE)
        fh.flush()
        os.fsync(fh.fileno())


def _identity(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}"


def _merged_offset(conn: sqlite3.Connection, stat: os.stat_result) -> int:
    """How many bytes of the spool file now at the path were merged already."""
    import json  # lazily: json costs the hook path ~5 ms (re, enum)

    row = conn.execute("SELECT value FROM meta WHERE key = ?", (OFFSET_KEY,)).fetchone()
    done = json.loads(row[0]) if row and row[0] else {}
    offset = int(done.get("offset", 0)) if done.get("ino") == _identity(stat) else 0
    return offset if offset <= stat.st_size else 0  # past the end: not the file we merged before


def _rows(complete: bytes) -> list:
    import json

    rows = []
    for line in complete.splitlines():
        try:
            entry = json.loads(line)
            rows.append((int(entry["scene_id"]), float(entry["at"]), str(entry.get("reason", "spool"))))
        except (ValueError, KeyError, TypeError):
            continue  # a torn line from a crash mid-write; its hook reported the failure
    return rows


def merge(conn: sqlite3.Connection, data_dir: str, upsert_sql: str, now: "float | None" = None) -> int:
    """Move spooled scene ids into the inbox (conn in autocommit mode); returns how many."""
    import json  # lazily: json costs the hook path ~5 ms (re, enum)
    path = spool_path(data_dir)
    try:
        stat = os.stat(path)
    except OSError:
        return 0
    offset = _merged_offset(conn, stat)
    rows = []
    if stat.st_size > offset:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(stat.st_size - offset)
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for next time
        rows = _rows(complete)
        offset += len(complete)
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(upsert_sql, rows)
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         (OFFSET_KEY, json.dumps({"offset": offset, "ino": _identity(stat)})))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    when = time.time() if now is None else now
    if offset >= stat.st_size and when - stat.st_mtime > QUIET_SECONDS:
        try:
            os.remove(path)  # fully merged and quiet
        except OSError:
            return len(rows)  # Windows refuses while another process has it open: next time
        # A new spool may reuse the inode number: it must start from offset 0.
        conn.execute("DELETE FROM meta WHERE key = ?", (OFFSET_KEY,))
    return len(rows)


def has_spooled(conn: sqlite3.Connection, data_dir: str) -> bool:
    """Does the spool hold lines not merged yet (its size past the merged offset)?"""
    try:
        stat = os.stat(spool_path(data_dir))
    except OSError:
        return False
    return stat.st_size > _merged_offset(conn, stat)
