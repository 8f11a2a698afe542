"""The plugin's database with every table in it: the owners, in the order they are created.

Each table is declared by the module that reads and writes it; sync_queue/db.py opens
the file and runs the migrations of the owners it is given. This is the one list of
them all, for whoever opens the file for the whole plugin (the composition root, the
background drainer, tests and benchmarks).

| owner | tables |
|---|---|
| sync_queue/inbox.py | meta, inbox, drainer |
| sync_queue/retry_schedule.py | retry_schedule |
| sync_queue/dead_letters.py | dead_letters |
| sync_queue/sync_state.py | sync_state, sync_items |
| worker/breaker.py | breaker, outages |
| plex/index_table.py | plex_index, plex_index_sections |
| sync_queue/filter_skips.py | filter_skips |
| sync_queue/activity_log.py | imported_plays, activity_marks |

The ready queue's table (ack_queue_ready) is persist-queue's own: it creates it when
sync_queue/ready_queue.py first opens the queue.
"""

from __future__ import annotations

import sqlite3
from typing import Dict, Optional, Tuple

from plex import index_table
from sync_queue import activity_log, collection_art, db, dead_letters, filter_skips, inbox, retry_schedule, sync_state
# Re-exported so a caller of the whole file (tests/unit/test_queue_db.py) needs one import.
from sync_queue.db import delete_meta, get_meta, last_corruption, set_meta, transaction  # noqa: F401
from worker import breaker

SCHEMAS: Tuple[db.Schema, ...] = (
    inbox.SCHEMA,
    retry_schedule.SCHEMA,
    dead_letters.SCHEMA,
    sync_state.SCHEMA,
    breaker.SCHEMA,
    index_table.SCHEMA,
    filter_skips.SCHEMA,
    collection_art.SCHEMA,
    activity_log.SCHEMA,
)
# Each owner's version once every migration has run.
SCHEMA_VERSION: Dict[str, int] = {name: db.latest(migrations) for name, migrations in SCHEMAS}


def open_db(data_dir: str, check: bool = True, now: Optional[float] = None) -> sqlite3.Connection:
    """Open (creating or migrating) the queue file with every table; see sync_queue/db.open_db."""
    return db.open_db(data_dir, SCHEMAS, check=check, now=now)


def migrate(conn: sqlite3.Connection) -> Dict[str, int]:
    """Bring every owner's tables up to date (a hook alone creates only its own); returns the versions."""
    return db.migrate(conn, SCHEMAS)


def schema_version(conn: sqlite3.Connection) -> Dict[str, int]:
    """Each owner's version in this file."""
    return db.schema_versions(conn, SCHEMAS)
