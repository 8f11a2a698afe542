"""Which Plex server the path index and the sync state belong to.

ratingKeys are numbers one server hands out: another server (or the same URL after a
reinstall with a fresh database) has the same files under other keys, and often has
the old keys too, on other files. So the server's machineIdentifier, which plexapi
reads from `GET /` on connect (no extra request), is kept beside the data; when it
changes, the index and the sync state are dropped, every scene that had been synced
is queued again, and the change is logged once and shown in Queue Status.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from typing import Callable, Optional

from plex.index import PathIndex
from sync_queue import db, inbox
from sync_queue.collection_art import CollectionArt
from sync_queue.sync_state import SyncState

log = logging.getLogger("stash2plex")

SERVER_KEY = "plex_server"  # meta: {"machine_id", "name", "since"}
CHANGED_KEY = "plex_server_changed"  # meta: the last change, for Queue Status
REQUEUE_REASON = "plex server changed"


def check_server(conn: sqlite3.Connection, server, clock: Callable[[], float] = time.time) -> Optional[dict]:
    """Remember the connected server; on a change, drop what belonged to the old one.

    Returns the change (old and new identifiers, scenes queued again) or None.
    """
    machine_id = getattr(server, "machineIdentifier", None)
    if not machine_id:
        return None  # nothing to compare with; never drop data on a missing attribute
    name = getattr(server, "friendlyName", None) or ""
    known = db.get_meta(conn, SERVER_KEY) or {}
    if known.get("machine_id") == machine_id:
        return None
    now = clock()
    change = None
    with db.transaction(conn):
        if known.get("machine_id"):
            PathIndex(conn).clear()
            scenes = SyncState(conn).clear()
            CollectionArt(conn).clear()
            conn.executemany(inbox.UPSERT_INBOX_SQL, [(s, now, REQUEUE_REASON) for s in scenes])
            change = {"at": now, "old": known.get("machine_id"), "old_name": known.get("name"),
                      "new": machine_id, "new_name": name, "requeued": len(scenes)}
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         (CHANGED_KEY, json.dumps(change)))
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                     (SERVER_KEY, json.dumps({"machine_id": machine_id, "name": name, "since": now})))
    if change:
        log.warning(
            "Connected to another Plex server (%s, machineIdentifier %s; was %s): the path index "
            "and sync state of the old server were dropped and %d synced scenes were queued again.",
            name or "unnamed", machine_id, change["old"], change["requeued"])
    return change


def server_status(conn: sqlite3.Connection) -> dict:
    """The identity line of Queue Status."""
    return {"current": db.get_meta(conn, SERVER_KEY), "last_change": db.get_meta(conn, CHANGED_KEY)}
