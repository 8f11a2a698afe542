"""Sync All Scenes and Sync Recent Scenes: queue scenes from Stash, then drain.

Scene ids come from paged Stash reads (a thousand per request); the sync itself reads
scenes in batches, and a scene whose metadata has not changed since its last sync
costs no Plex request, so Sync All is cheap to repeat.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional

from sync_queue import inbox
from tasks.context import TaskContext
from tasks.foreground_drain import check_plex, drain_foreground

log = logging.getLogger("stash2plex")
ENQUEUE_CHUNK = 1000


def _enqueue_from_stash(ctx: TaskContext, updated_since: Optional[datetime], reason: str) -> int:
    check_plex(ctx)  # no point queueing thousands of jobs for a Plex we cannot reach
    queued = 0
    chunk = []
    for scene_id in ctx.app.stash.iter_scene_ids(updated_since=updated_since):
        chunk.append(int(scene_id))
        if len(chunk) >= ENQUEUE_CHUNK:
            inbox.enqueue(ctx.app.data_dir, chunk, reason=reason, now=time.time())
            queued += len(chunk)
            chunk = []
            log.info("Queued %d scenes so far", queued)
    if chunk:
        inbox.enqueue(ctx.app.data_dir, chunk, reason=reason, now=time.time())
        queued += len(chunk)
    return queued


def _finish(ctx: TaskContext, queued: int, label: str) -> Dict[str, Any]:
    result = drain_foreground(ctx)
    result["queued"] = queued
    result["summary"] = f"{label}: queued {queued}; " + result["summary"]
    return result


def run_all(ctx: TaskContext) -> Dict[str, Any]:
    queued = _enqueue_from_stash(ctx, None, "sync_all")
    return _finish(ctx, queued, "Sync All Scenes")


def run_recent(ctx: TaskContext) -> Dict[str, Any]:
    hours = ctx.int_arg("hours", 24, 1, 24 * 365)
    since = datetime.now(timezone.utc) - timedelta(hours=hours)
    queued = _enqueue_from_stash(ctx, since, "sync_recent")
    return _finish(ctx, queued, f"Sync Recent Scenes ({hours} h)")
