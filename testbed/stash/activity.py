"""Play history and resume points, as Stash keeps them (pkg/sqlite, internal/api).

- `sceneAddPlay(id, times)` (resolver_mutation_scene.go SceneAddPlay) inserts one row
  per time into the scene's view-date table, with no de-duplication, none given meaning
  now (viewHistoryTable.addDates); `play_count` is the number of rows, `last_played_at`
  the newest, `play_history` the rows. It answers `{count, history}`. The scene row is not
  touched: `updated_at` stays, and no hook fires.
- `sceneSaveActivity(id, resume_time, playDuration)` (SceneStore.SaveActivity) sets
  `resume_time` and ADDS `playDuration` to `play_duration`; no hook, no updated_at.
- `sceneDeletePlay(id, times)` removes the given times (none given: the newest).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from graphql import GraphQLError

from testbed.stash.store import NotFound, Store


def _store(info: Any) -> Store:
    return info.context.app.store


def parse_timestamp(text: str) -> datetime:
    """Stash's Timestamp input: RFC 3339 (relative forms are not emulated); stored at seconds."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError("invalid timestamp: %s" % text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def _result(rec: Dict[str, Any]) -> Dict[str, Any]:
    history = list(rec["play_history"])
    return {"count": len(history), "history": sorted(history, reverse=True)}


def scene_add_play(_root: Any, info: Any, id: Any, times: Optional[List[str]] = None):
    store = _store(info)
    moments = [parse_timestamp(t) for t in times] if times else [store.now()]
    try:
        return _result(store.add_plays(int(id), moments))
    except NotFound as exc:
        raise GraphQLError("%s not found" % exc) from exc


def scene_delete_play(_root: Any, info: Any, id: Any, times: Optional[List[str]] = None):
    store = _store(info)
    moments = [parse_timestamp(t) for t in times] if times else None
    try:
        return _result(store.delete_plays(int(id), moments))
    except NotFound as exc:
        raise GraphQLError("%s not found" % exc) from exc


def scene_save_activity(_root: Any, info: Any, id: Any, resume_time: Optional[float] = None,
                        playDuration: Optional[float] = None) -> bool:
    try:
        _store(info).save_activity(int(id), resume_time, playDuration)
    except NotFound as exc:
        raise GraphQLError("%s not found" % exc) from exc
    return True


RESOLVERS = {
    "sceneAddPlay": scene_add_play, "sceneDeletePlay": scene_delete_play,
    "sceneSaveActivity": scene_save_activity,
}
