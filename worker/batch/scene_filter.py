"""Filter: the scenes the filter settings leave out of Plex stop here, right after the read.

The rule is mapping/scene_filter.py's (only_organized, required_tags,
excluded_scene_tags). A scene it leaves out costs no Plex request and is done: its
job is acked, never retried nor dead-lettered, and Plex keeps whatever it holds (a
scene that was synced before keeps its values, locks and sync state). The hook cannot
apply the filter: it would need the settings, which only a network call to Stash
returns, so every scene reaches this stage.

The scenes left out, with their reason, are recorded for Queue Status
(sync_queue/filter_skips.py), and a scene that passes loses its record.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Dict

from mapping.scene_filter import filter_key, skip_reason
from sync_queue.filter_skips import FilterSkips
from worker.batch.scene import SyncResult

log = logging.getLogger("stash2plex.sync")


class SceneFilter:
    """One per SceneSyncer; the settings are the syncer's (a settings change builds a new one)."""

    def __init__(self, settings, skips: FilterSkips, clock: Callable[[], float], db_lock: threading.Lock):
        self.settings = settings
        self.skips = skips
        self.clock = clock
        self.db_lock = db_lock
        self.key = filter_key(settings)

    def leave_out(self, scenes: Dict[int, dict]) -> Dict[int, SyncResult]:
        """The result of each scene the filter leaves out; the others go on to matching."""
        results: Dict[int, SyncResult] = {}
        skipped, passed = [], []
        for sid, scene in scenes.items():
            skip = skip_reason(scene, self.settings)
            if skip is None:
                passed.append(sid)
                continue
            log.info("scene %s left alone in Plex: %s", sid, skip.detail)
            skipped.append((sid, skip.reason))
            results[sid] = SyncResult(sid, "filtered")
        with self.db_lock:
            self.skips.update(skipped, passed, self.key, self.clock())
        return results
