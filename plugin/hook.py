"""The hook path: Stash waits for this process, so it only filters, drops the job and exits.

Standard library only, and no SQLite: no network call, and no plexapi, pydantic,
stashapi, tenacity or sqlite3 import. The whole process must cost little more than
starting Python: one empty file created (sync_queue/drops.py) and, only when no
drainer holds the lock, one detached spawn.

An edit is never lost silently: when even a drop cannot be created (the disk is full
to its last inode, the folder is read-only), the time is marked for the drainer's
catch-up and the hook says so.
"""

from __future__ import annotations

import time

from plugin import spawn
from plugin.protocol import HookContext
from sync_queue import drops, lock_probe, missed, storage

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
# Scene.Destroy.Post: the drainer unlocks what the gone scene wrote to Plex and forgets it.
DESTROY = "Scene.Destroy.Post"
HOOK_TYPES = ("Scene.Update.Post", "Scene.Create.Post", DESTROY)


class HookFailed(Exception):
    """The edit could not be kept anywhere; the message says what the user must do."""


def changed_metadata(hook: HookContext) -> bool:
    """True unless the update touched only playback fields.

    A create or a scan-triggered update carries no inputFields: its file may be new
    to Plex, so it is always queued; so is a destroy, whatever its input says. The
    organized button sends {id, organized}: queued like any edit, since only the
    drainer knows (from the settings) whether only_organized makes it matter.
    """
    if hook.input_fields is None or hook.hook_type == DESTROY:
        return True
    return any(name not in PLAYBACK_FIELDS for name in hook.input_fields)


def _keep(hook: HookContext, data_dir: str, now: float) -> None:
    """Drop the job; raises HookFailed when no file could hold it (the miss is marked if it can be)."""
    try:
        drops.drop(data_dir, hook.scene_id, hook.hook_type or "hook", int(now * 1e9))
        return
    except OSError as exc:
        problem = storage.plain_words(exc, data_dir) or f"{type(exc).__name__}: {exc}"
    noted = missed.note_missed(data_dir, now)
    then = "the drainer catches up on its own" if noted else "then run the task Sync Recent Scenes"
    raise HookFailed(f"could not queue scene {hook.scene_id}: {problem}. Once that is fixed, {then}; "
                     f"nothing else was lost")


def handle(hook: HookContext, data_dir: str, launch: dict) -> dict:
    """Enqueue the scene durably, make sure a drainer runs, and report what happened."""
    if hook.hook_type and hook.hook_type not in HOOK_TYPES:
        return {"queued": False, "scene_id": hook.scene_id, "reason": f"hook {hook.hook_type} is not handled"}
    if not changed_metadata(hook):
        return {"queued": False, "scene_id": hook.scene_id, "reason": "playback-only update"}
    _keep(hook, data_dir, time.time())
    started = False
    if not lock_probe.drainer_running(data_dir):
        started = spawn.start_drainer(launch)
    return {"queued": True, "scene_id": hook.scene_id, "drainer_started": started}
