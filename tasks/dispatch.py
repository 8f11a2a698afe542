"""Route a task run to its handler and turn the result into Stash's one JSON reply."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict

from tasks import (dead_letters, health, import_activity, operations, preview, process_queue, rebuild_index,
                   reconcile, status, sync_scenes)
from tasks.context import TaskContext
from errors.kinds import SyncError
from worker.composition_root import App

log = logging.getLogger("stash2plex")

HANDLERS: Dict[str, Callable[[TaskContext], Dict[str, Any]]] = {
    "process_queue": process_queue.run,
    "sync_all": sync_scenes.run_all,
    "sync_recent": sync_scenes.run_recent,
    "status": status.run,
    "review_dead_letters": dead_letters.review,
    "retry_dead_letters": dead_letters.retry,
    "purge_dead_letters": dead_letters.purge,
    "reconcile": reconcile.run,
    "health": health.run,
    "rebuild_index": rebuild_index.run,
    "preview_changes": preview.run,
    "import_activity": import_activity.run,
}
# Modes with no task button: runPluginOperation from the UI or a script (README "Operations").
# Queue Status and Retry Dead Letters answer as operations too, through their task modes.
OPERATIONS: Dict[str, Callable[[TaskContext], Dict[str, Any]]] = {
    "scene_status": operations.scene_status,
    "sync_scene": operations.sync_scene,
    "dead_letters": operations.dead_letters,
    "preview_scene": preview.preview_scene,
}


class TaskFailed(Exception):
    """A task ended with a message for the user (Stash shows it as the task's error)."""


def run_task(app: App, mode: str, args: Dict[str, Any], progress, start_drainer) -> Dict[str, Any]:
    """Run one task; raise TaskFailed with a one-line message for anything expected."""
    handler = HANDLERS.get(mode) or OPERATIONS.get(mode)
    if handler is None:
        known = ", ".join(sorted(HANDLERS))
        raise TaskFailed(f"unknown task mode {mode!r}; Stash2Plex.yml defines: {known}; "
                         f"operations: {', '.join(sorted(OPERATIONS))}")
    ctx = TaskContext(app=app, args=args, progress=progress, start_drainer=start_drainer)
    try:
        result = handler(ctx)
    except SyncError as exc:
        raise TaskFailed(str(exc)) from None
    except ValueError as exc:
        raise TaskFailed(str(exc)) from None
    log.info("%s", result.get("summary", "done"))
    return result
