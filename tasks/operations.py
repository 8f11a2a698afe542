"""The plugin's operations: what `runPluginOperation(plugin_id, args: {mode: …})` answers.

Stash's `runPluginOperation(plugin_id: ID!, args: Map): Any` runs the plugin process with
those args as they are (no task, no defaultArgs) and returns the plugin's `output` as the
mutation's value, its `error` as a GraphQL error (stashapp/stash graphql/schema/
schema.graphql; internal/api/resolver_mutation_plugin.go). The plugin's UI (ui/) and
users' own scripts read these answers, so their shape is a contract (README, "Operations").

Each answers fast from the SQLite file alone; only preview_scene talks to Stash and
Plex, and it reads Plex without writing to it.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from sync_queue import inbox
from sync_queue.retry_schedule import RetrySchedule
from tasks.context import TaskContext, iso_time

SYNC_SCENE_REASON = "sync_scene"
MAX_SCENE_ID = 2**63 - 1


def scene_id_arg(ctx: TaskContext, name: str = "scene_id") -> int:
    """A scene id from the args: a JSON number or digits in a string (GraphQL IDs are strings)."""
    value = ctx.args.get(name)
    if value is None or str(value).strip() == "":
        raise ValueError(f"argument {name} is required (a Stash scene id)")
    return _scene_id(value, name)


def _scene_id(value: Any, name: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_SCENE_ID:
        raise ValueError(f"argument {name} must be a Stash scene id, got {text[:40]!r}")
    return int(text)


def scene_ids_arg(ctx: TaskContext, name: str = "scene_ids") -> Optional[List[int]]:
    """A list of scene ids (a JSON list, or ids separated by commas); absent means all."""
    value = ctx.args.get(name)
    if value is None:
        return None
    parts = value if isinstance(value, list) else [p for p in str(value).replace(" ", "").split(",") if p]
    return [_scene_id(p, name) for p in parts]


def scene_status(ctx: TaskContext) -> Dict[str, Any]:
    """Where one scene stands: dead letter, waiting for a retry, queued, synced, or never synced."""
    sid = scene_id_arg(ctx)
    app = ctx.app
    answer: Dict[str, Any] = {"scene_id": str(sid), "state": "not_synced", "plex": _plex_of(app, sid),
                              "synced_at": None, "next_attempt_at": None, "reason": None}
    if answer["plex"] is not None:
        answer["state"] = "synced"
        answer["synced_at"] = answer["plex"].pop("synced_at")
    letter = app.dead_letters.open_for(sid)
    waiting = RetrySchedule(app.conn).row(sid)
    if letter is not None:
        answer.update(state="dead_letter", reason=letter.message)
    elif waiting is not None:
        answer.update(state="retrying", next_attempt_at=iso_time(waiting[0]), reason=waiting[3])
    elif app.store.is_queued(sid):
        answer["state"] = "queued"
    return answer


def _plex_of(app, sid: int) -> Optional[Dict[str, Any]]:
    """The Plex item the scene last reached (its first, by rating key), from the sync record."""
    state = app.sync_state.get(sid)
    if state is None or not state.items:
        return None
    item = state.items[sorted(state.items, key=lambda k: (len(k), k))[0]]
    titles = {sid_: s.get("title") for sid_, s in app.index.built_sections().items()}
    return {"rating_key": item.rating_key, "title": item.written.get("title"),
            "section": titles.get(str(item.section_id)) or item.section_id,
            "synced_at": iso_time(item.synced_at or state.synced_at)}


def sync_scene(ctx: TaskContext) -> Dict[str, Any]:
    """Queue the scene exactly as the hook does, and make sure a drainer runs."""
    sid = scene_id_arg(ctx)
    inbox.enqueue(ctx.app.data_dir, [sid], reason=SYNC_SCENE_REASON, now=time.time())
    started = ctx.start_drainer()
    return {"queued": True, "drainer_started": bool(started), "summary": f"scene {sid} queued for Plex"}


def dead_letters(ctx: TaskContext) -> Dict[str, Any]:
    limit = ctx.int_arg("limit", 100, 1, 10000)
    rows = [{"id": d.id, "scene_id": str(d.scene_id), "reason": d.message, "kind": d.error_kind,
             "failed_at": iso_time(d.failed_at), "attempts": d.attempts}
            for d in ctx.app.dead_letters.recent(limit)]
    return {"dead_letters": rows, "count": ctx.app.dead_letters.count(),
            "summary": f"{len(rows)} dead letters listed"}
