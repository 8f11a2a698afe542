"""The hook path: Stash waits for this process, so it only filters, enqueues and exits.

Standard library only. No network call, and no plexapi, pydantic, stashapi or
tenacity import: the whole process must cost little more than starting Python.

An edit is never lost silently: when the queue file cannot take the write within half
a second (locked, full, damaged), the scene id goes to the spool beside it; when even
that fails, the time is marked for the drainer's catch-up and the hook says so.
"""

from __future__ import annotations

import sqlite3
import time

from plugin import spawn
from plugin.protocol import HookContext
from sync_queue import inbox, spool, storage

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


def _keep(hook: HookContext, data_dir: str, now: float) -> "str | None":
    """Write the job; returns None when it is in the queue, else why it went to the spool."""
    reason = hook.hook_type or "hook"
    try:
        inbox.enqueue(data_dir, [hook.scene_id], reason=reason, now=now,
                      busy_timeout=inbox.HOOK_BUSY_TIMEOUT_SECONDS)
        return None
    except (OSError, sqlite3.Error) as exc:
        problem = storage.plain_words(exc, data_dir) or f"{type(exc).__name__}: {exc}"
    try:
        spool.append(data_dir, [hook.scene_id], reason, now)
        return problem
    except OSError:
        pass
    noted = spool.note_missed(data_dir, now)
    then = "the drainer catches up on its own" if noted else "then run the task Sync Recent Scenes"
    raise HookFailed(f"could not queue scene {hook.scene_id}: {problem}. Once that is fixed, {then}; "
                     f"nothing else was lost")


def handle(hook: HookContext, data_dir: str, launch: dict) -> dict:
    """Enqueue the scene durably, make sure a drainer runs, and report what happened."""
    if hook.hook_type and hook.hook_type not in HOOK_TYPES:
        return {"queued": False, "scene_id": hook.scene_id, "reason": f"hook {hook.hook_type} is not handled"}
    if not changed_metadata(hook):
        return {"queued": False, "scene_id": hook.scene_id, "reason": "playback-only update"}
    spooled = _keep(hook, data_dir, time.time())
    started = False
    if not inbox.drainer_running(data_dir):
        started = spawn.start_drainer(launch)
    result = {"queued": True, "scene_id": hook.scene_id, "drainer_started": started}
    if spooled:
        result["spooled"] = spooled  # merged into the queue by the next process that can
    return result
