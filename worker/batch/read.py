"""Read: the batch's scenes from Stash in one request, each shaped into what Plex should hold.

Ids Stash no longer has are handed back as gone (gone.py unlocks and forgets them);
a scene the filter settings leave out stops here with its result (scene_filter.py).
A scene whose metadata is not valid, or one without a file, fails here on its own (its
exception is its result); every other scene goes on to matching with its metadata,
its files as Plex sees them, its fingerprint and what was recorded the last time it
was synced.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

from errors.kinds import PermanentError, SyncError
from mapping.collection_art import sources
from mapping.scene_fields import build_metadata, fingerprint
from sync_queue.sync_state import SyncState
from validation.pathmap import PathMap
from worker.batch.scene import BatchScene, Outcome
from worker.batch.scene_filter import SceneFilter
from worker.quick_retry import QuickRetry


def read_scenes(stash, state: SyncState, ids: List[int], retry: QuickRetry, settings, mapper: PathMap,
                scene_filter: SceneFilter, found: Optional[Dict[int, dict]] = None,
                ) -> Tuple[List[BatchScene], Dict[int, Outcome], List[int]]:
    """The scenes to match, the results of the others, and the ids gone from Stash (in `ids` order).

    `found` is the scenes already read (worker/batch/ahead.py); without it Stash is asked.
    """
    scenes = retry(stash.find_scenes, ids) if found is None else found
    gone = [sid for sid in ids if sid not in scenes]
    results: Dict[int, Outcome] = dict(scene_filter.leave_out({sid: scenes[sid] for sid in ids if sid in scenes}))
    states = state.get_many(ids)
    work: List[BatchScene] = []
    for sid in ids:
        if sid not in scenes or sid in results:
            continue
        outcome = prepare(sid, scenes[sid], settings, mapper)
        if isinstance(outcome, Exception):
            results[sid] = outcome
        else:
            outcome.state = states.get(sid)
            outcome.fp = fingerprint(outcome.meta, settings)
            work.append(outcome)
    return work, results, gone


def prepare(sid: int, scene: dict, settings, mapper: PathMap) -> Union[BatchScene, Exception]:
    """One scene as Stash returned it, validated into what Plex should hold."""
    try:
        meta = build_metadata(scene, settings)
    except SyncError as exc:
        return exc
    files = [f.get("path") for f in scene.get("files") or [] if isinstance(f, dict) and f.get("path")]
    if not files:
        return PermanentError(f"scene {sid} has no file in Stash, so there is nothing to find in Plex")
    return BatchScene(sid, meta, [mapper.to_plex(p) for p in files],
                      sources=sources(scene, list(meta.collections), settings))
