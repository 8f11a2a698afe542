"""Edits that older hooks spooled: merged into the inbox so an upgrade loses none.

Before hooks wrote drops (sync_queue/drops.py), a hook that could not write SQLite
within its short busy wait appended the scene id to this append-only file beside the
database, one JSON line, fsync'd. Such a file may still be there after an upgrade, so
the next process that can write the database merges it: it reads from the offset it
merged last and stores the new offset in the same transaction as the inbox rows, so a
crash between the two merges nothing twice and loses nothing. The file is removed once
everything in it is merged and nobody has written it for a while.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time

SPOOL_FILE_NAME = "stash2plex.spool"
OFFSET_KEY = "spool_offset"  # meta: {"offset": bytes merged, "ino": the spool file's identity}
QUIET_SECONDS = 60.0  # a merged spool untouched this long can go (a hook writes within a second)


def spool_path(data_dir: str) -> str:
    return os.path.join(data_dir, SPOOL_FILE_NAME)


def _identity(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}"


def _merged_offset(conn: sqlite3.Connection, stat: os.stat_result) -> int:
    """How many bytes of the spool file now at the path were merged already."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (OFFSET_KEY,)).fetchone()
    done = json.loads(row[0]) if row and row[0] else {}
    offset = int(done.get("offset", 0)) if done.get("ino") == _identity(stat) else 0
    return offset if offset <= stat.st_size else 0  # past the end: not the file we merged before


def _rows(complete: bytes) -> list:
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
