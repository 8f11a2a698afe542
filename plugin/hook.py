"""The hook path: Stash waits for this process, so it only filters, enqueues and exits.

Standard library only. No network call, and no plexapi, pydantic, stashapi or
tenacity import: the whole process must cost little more than starting Python.
"""

from __future__ import annotations

import time

from plugin import spawn
from plugin.protocol import HookContext
from sync_queue import inbox

# Stash updates scenes on playback too; none of these is metadata that Plex shows.
PLAYBACK_FIELDS = frozenset(
    {
        "id",
        "clientMutationId",
        "play_count",
        "play_duration",
        "resume_time",
        "o_counter",
        "last_played_at",
        "play_history",
        "o_history",
    }
)
HOOK_TYPES = ("Scene.Update.Post", "Scene.Create.Post")


def changed_metadata(hook: HookContext) -> bool:
    """True unless the update touched only playback fields.

    A create or a scan-triggered update carries no inputFields: its file may be new
    to Plex, so it is always queued.
    """
    if hook.input_fields is None:
        return True
    return any(name not in PLAYBACK_FIELDS for name in hook.input_fields)


def handle(hook: HookContext, data_dir: str, launch: dict) -> dict:
    """Enqueue the scene durably, make sure a drainer runs, and report what happened."""
    if hook.hook_type and hook.hook_type not in HOOK_TYPES:
        return {"queued": False, "scene_id": hook.scene_id, "reason": f"hook {hook.hook_type} is not handled"}
    if not changed_metadata(hook):
        return {"queued": False, "scene_id": hook.scene_id, "reason": "playback-only update"}
    now = time.time()
    inbox.enqueue(data_dir, [hook.scene_id], reason=hook.hook_type or "hook", now=now)
    started = False
    if not inbox.heartbeat_is_fresh(data_dir, now=time.time()):
        started = spawn.start_drainer(launch)
    return {"queued": True, "scene_id": hook.scene_id, "drainer_started": started}
