"""Read: the batch's scenes from Stash in one request, each shaped into what Plex should hold.

A scene Stash no longer has, one whose metadata is not valid, or one without a file
fails here on its own (its exception is its result); every other scene goes on to
matching with its metadata, its files as Plex sees them, its fingerprint and what was
recorded the last time it was synced.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

from errors.kinds import PermanentError, SyncError
from mapping.collection_art import sources
from mapping.scene_fields import build_metadata, fingerprint
from sync_queue.sync_state import SyncState
from validation.pathmap import PathMap
from worker.batch.scene import BatchScene, Outcome
from worker.quick_retry import QuickRetry


def read_scenes(stash, state: SyncState, ids: List[int], retry: QuickRetry, settings,
                mapper: PathMap) -> Tuple[List[BatchScene], Dict[int, Outcome]]:
    """The scenes to match, and the failures of the others (in `ids` order)."""
    scenes = retry(stash.find_scenes, ids)
    states = state.get_many(ids)
    work: List[BatchScene] = []
    failed: Dict[int, Outcome] = {}
    for sid in ids:
        outcome = prepare(sid, scenes.get(sid), settings, mapper)
        if isinstance(outcome, Exception):
            failed[sid] = outcome
        else:
            outcome.state = states.get(sid)
            outcome.fp = fingerprint(outcome.meta, settings)
            work.append(outcome)
    return work, failed


def prepare(sid: int, scene: Optional[dict], settings, mapper: PathMap) -> Union[BatchScene, Exception]:
    """One scene as Stash returned it, validated into what Plex should hold."""
    if scene is None:
        return PermanentError(f"scene {sid} no longer exists in Stash")
    try:
        meta = build_metadata(scene, settings)
    except SyncError as exc:
        return exc
    files = [f.get("path") for f in scene.get("files") or [] if isinstance(f, dict) and f.get("path")]
    if not files:
        return PermanentError(f"scene {sid} has no file in Stash, so there is nothing to find in Plex")
    return BatchScene(sid, meta, [mapper.to_plex(p) for p in files],
                      sources=sources(scene, list(meta.collections), settings))
