"""Move what hooks wrote outside SQLite into the inbox: their drops, and an older version's spool.

The hook path never opens the queue file (sync_queue/drops.py), so whoever holds it
open (the drainer every cycle, a task that drains) merges for them. Drops go in one
transaction and are deleted only after its commit: a crash between the two merges them
again, which the inbox upsert (one row per scene, its newest time) makes harmless.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Optional

from sync_queue import db, drops, inbox, spool


def merge(conn: sqlite3.Connection, data_dir: str, now: Optional[float] = None) -> int:
    """Merge every drop, then the spool; returns how many scene ids went into the inbox."""
    found = drops.pending(data_dir)
    if found:
        with db.transaction(conn):
            conn.executemany(inbox.UPSERT_INBOX_SQL, [job for _path, job in found])
        for path, _job in found:
            try:
                os.remove(path)
            except OSError:
                pass  # merged by another process too, or held open: merging again is harmless
    return len(found) + spool.merge(conn, data_dir, inbox.UPSERT_INBOX_SQL, now)
