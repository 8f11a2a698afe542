"""Catching up on edits no file could hold (the disk was full when their hooks ran).

The hook marks the time of the first such edit (sync_queue/missed.py); the drainer
looks at the mark every cycle and, once the queue file takes writes again, queues
every scene Stash changed since a little before it, as Sync Recent would. The mark is
blanked first, so an edit missed during the catch-up is marked again.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from sync_queue import inbox, missed

log = logging.getLogger("stash2plex")

SLACK_SECONDS = 120.0  # Stash's updated_at and our clock may disagree slightly
CHUNK = 1000


def catch_up_missed(app) -> int:
    """Queue the scenes changed since the first missed edit; returns how many were queued."""
    since = missed.first_missed(app.data_dir)
    if since is None:
        return 0
    missed.clear_missed(app.data_dir)
    start = datetime.fromtimestamp(since - SLACK_SECONDS, tz=timezone.utc)
    queued, chunk = 0, []
    try:
        for scene_id in app.stash.iter_scene_ids(updated_since=start):
            chunk.append(int(scene_id))
            if len(chunk) >= CHUNK:
                queued += inbox.enqueue(app.data_dir, chunk, reason="catch_up", now=time.time())
                chunk = []
        if chunk:
            queued += inbox.enqueue(app.data_dir, chunk, reason="catch_up", now=time.time())
    except Exception as exc:  # noqa: BLE001 - Stash or the disk still in trouble: the next cycle tries again
        missed.note_missed(app.data_dir, since)
        log.debug("catch-up deferred: %s", exc)
        return 0
    log.warning("caught up on edits missed while the data folder was full: queued %d scenes changed "
                "since %s", queued, start.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return queued
