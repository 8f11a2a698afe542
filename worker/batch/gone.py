"""Gone: scenes Stash no longer has (deleted; Scene.Destroy.Post queued them).

A gone scene the sync state maps to Plex items gets, on each item, the fields
Stash2Plex wrote unlocked (mapping/unlock.py; one PUT per item, plex/unlock.py), so
Plex's agent can take over; the values stay and nothing is deleted from Plex. Each
item's record is dropped as soon as its unlock is sent, then the scene's, so a retry
after a failure sends only what is left. A gone scene never synced needs nothing.
Neither is ever a dead letter: the result is "forgotten", and the job is acked.

A failure (Plex down, a refused token) is the scene's result, routed by the worker
like any other; the scene keeps the records of the items not yet unlocked.
"""

from __future__ import annotations

import logging
import threading
from typing import Dict, List, Optional

from mapping.unlock import owned_locks
from plex.unlock import unlock
from sync_queue.filter_skips import FilterSkips
from sync_queue.sync_state import SceneState, SyncState
from worker.batch.connection import PlexConnection
from worker.batch.scene import Outcome, SyncResult
from worker.quick_retry import QuickRetry

log = logging.getLogger("stash2plex.sync")


class GoneScenes:
    """One per SceneSyncer; Plex is reached only for a gone scene that was synced."""

    def __init__(self, state: SyncState, skips: FilterSkips, plex: PlexConnection, db_lock: threading.Lock):
        self.state = state
        self.skips = skips
        self.plex = plex
        self.db_lock = db_lock

    def forget_all(self, scene_ids: List[int], retry: QuickRetry) -> Dict[int, Outcome]:
        if not scene_ids:
            return {}
        with self.db_lock:
            states = self.state.get_many(scene_ids)
        results: Dict[int, Outcome] = {}
        for sid in scene_ids:
            try:
                results[sid] = self._forget(sid, states.get(sid), retry)
            except Exception as exc:  # routed per scene by the worker
                results[sid] = exc
        return results

    def _forget(self, sid: int, st: Optional[SceneState], retry: QuickRetry) -> SyncResult:
        items = sorted(st.items.values(), key=lambda i: int(i.rating_key)) if st else []
        keys = [i.rating_key for i in items]
        sent = 0
        for n, item in enumerate(items):
            fields = owned_locks(item.written, item.poster_hash, item.art_hash)
            if fields:
                retry(unlock, self.plex.server(), item.section_id, item.rating_key, fields)
                sent += 1
            if n + 1 < len(items):  # the last one goes with the scene's own row below
                with self.db_lock:
                    self.state.drop_items(sid, keep=keys[n + 1:])
        with self.db_lock:
            self.state.forget(sid)
            self.skips.forget([sid])
        if items:
            log.info("scene %s is gone from Stash: unlocked its Plex item(s) %s and forgot them",
                     sid, ", ".join(keys))
        return SyncResult(sid, "forgotten", edited=sent > 0, plex_keys=keys)
