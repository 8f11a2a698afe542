"""Queue Status: what is queued, waiting, dead, and whether anything is draining.

Needs neither Stash nor Plex: it reads the SQLite file only, so it answers even
when both are down.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Dict, Iterator, Optional

from sync_queue import db, lock_probe, missed, spool
from sync_queue.filter_skips import FilterSkips
from tasks.context import TaskContext, iso_time
from worker.activity_import import activity_status
from worker.identity import server_status


def run(ctx: TaskContext) -> Dict[str, Any]:
    app = ctx.app
    result = _figures(app)
    result["summary"] = _headline(result)
    missed_at = missed.first_missed(app.data_dir)
    result["missed_since"] = iso_time(missed_at)
    if app.storage_problem:
        result["storage_problem"] = app.storage_problem
    result["summary"] += "".join(_notes(app, result, missed_at))
    return result


def _figures(app) -> Dict[str, Any]:
    """Every figure Queue Status shows, read from the SQLite file alone."""
    counts = app.store.counts(time.time())
    try:
        breaker = app.breaker().snapshot()
    except sqlite3.Error:  # a read-only folder: the breaker row cannot be created
        breaker = {"state": "unknown"}
    index = app.index.stats()
    drainer_alive = lock_probe.drainer_running(app.data_dir)
    pending, deferred = int(counts.get("pending", 0)), int(counts.get("deferred", 0))
    return {
        # The figures the operations contract names (README, "Operations"), for the UI.
        "queued": pending,
        "retrying": deferred,
        "drainer": "running" if drainer_alive else "idle",
        "breaker": breaker.get("state", "unknown"),
        "breaker_detail": breaker,
        "pending": pending,
        "in_flight": int(counts.get("in_flight", 0)),
        "deferred": deferred,
        "deferred_by_kind": counts.get("deferred_by_kind", {}),
        "next_retry_at": iso_time(counts.get("next_retry_at")),
        "dead_letters": int(counts.get("dead_letters", 0)),
        "dead_letters_by_kind": app.dead_letters.by_kind(),
        "drainer_alive": bool(drainer_alive),
        "index": index,
        "synced_scenes": app.sync_state.count(),
        "scene_filter": _filter_figures(app),
        "last_config_error": app.store.last_config_error(),
        "last_corruption": db.get_meta(app.conn, "last_corruption"),
        "data_dir": app.data_dir,
        "plex_server": server_status(app.conn),
        "plex_activity": activity_status(app.conn),
    }


def _filter_figures(app) -> Dict[str, Any]:
    """The scenes the scene filter leaves alone now, by reason (sync_queue/filter_skips.py)."""
    skips = FilterSkips(app.conn)
    try:
        return {"skipped": skips.count(), "by_reason": skips.by_reason()}
    except sqlite3.Error:  # a read-only file from before the table existed
        return {"skipped": 0, "by_reason": {}}


def _headline(result: Dict[str, Any]) -> str:
    """The counts in one line."""
    skipped = result["scene_filter"]["skipped"]
    return (
        f"queued {result['pending']}, waiting {result['deferred']}"
        + (f" (next retry {result['next_retry_at']})" if result["next_retry_at"] else "")
        + f", dead letters {result['dead_letters']}"
        + (f", skipped by the scene filter {skipped}" if skipped else "")
        + f", breaker {result['breaker']}, "
        f"drainer {'running' if result['drainer_alive'] else 'idle'}, index {result['index'].get('size', 0)} files"
    )


def _notes(app, result: Dict[str, Any], missed: Optional[float]) -> Iterator[str]:
    """What else needs saying after the counts: edits not queued yet, storage, server change, pause."""
    if missed:
        yield (f"; edits made since {result['missed_since']} could not be queued (disk full): "
               f"the drainer catches up once it runs, or run Sync Recent Scenes")
    if spool.has_spooled(app.conn, app.data_dir):
        yield "; some edits wait in the spool until the queue file takes writes again"
    if app.storage_problem:
        yield f"; {app.storage_problem}"
    change = result["plex_server"]["last_change"]
    if change:
        yield (f"; on {iso_time(change['at'])} Stash2Plex found another Plex server "
               f"({change.get('new_name') or change['new']}, was {change.get('old_name') or change['old']}): "
               f"the old index and sync state were dropped and {change['requeued']} scenes queued again")
    last = (result["plex_activity"] or {}).get("last_report")
    if last:
        yield f"; last Plex activity import {result['plex_activity']['last_import_at']}: {last['summary']}"
    if result["last_config_error"]:
        yield f"; paused by a settings problem: {result['last_config_error'].get('message')}"
