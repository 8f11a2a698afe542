"""One batch of scenes, as its stages: read → filter → match → plan → apply → record.

The request budget is the design: all scenes of a batch are read from Stash in one
request (read.py), and a scene the filter settings leave out stops there with no Plex
request (scene_filter.py); matching is a lookup in the path index (no request), and a scene
whose fingerprint and Plex items are unchanged costs nothing in Plex. The scenes that
do need an edit are matched again against Plex itself, with one multi-get, before
anything is written (match.py). Each item they reach then gets its plan (plan.py) and
its requests (apply.py): one batched PUT, a rating call only when the rating changed,
uploads only when image bytes changed, a few items at a time (lanes.py); Plex going
down mid-batch stops the rest (stop.py). What each item now holds is kept as it comes
back and recorded in one transaction per stage (record.py). Scenes gone from Stash have their Plex items unlocked and their
sync state dropped, last (gone.py).

Per-scene failures are returned as exception instances (the worker routes each by its
kind); a failure that stops the whole batch (Stash unreachable, Plex refusing the
token at connect, a library that is gone) is raised.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from errors.kinds import ErrorKind
from plex.index import PathIndex
from sync_queue.filter_skips import FilterSkips
from sync_queue.sync_state import SyncState
from worker.batch.ahead import ReadAhead
from worker.batch.apply import ItemSender
from worker.batch.connection import PlexConnection
from worker.batch.gone import GoneScenes
from worker.batch.lanes import EDIT_THREADS, LANES_PER_REQUEST, lanes_by_item, run_lanes
from worker.batch.match import Items, Matcher, lookup, unchanged
from worker.batch.read import read_scenes
from worker.batch.record import Done, Recorder
from worker.batch.scene import BatchScene, Match, Outcome, SyncResult
from worker.batch.scene_filter import SceneFilter
from worker.batch.stop import BatchStop
from worker.classify import classify
from worker.collection_art import CollectionArtPass
from worker.quick_retry import QuickRetry

log = logging.getLogger("stash2plex.sync")

_SERVER_TROUBLE = (ErrorKind.TRANSIENT, ErrorKind.CONFIG, ErrorKind.STASH)


class SceneSyncer:
    """Syncs batches of scene ids; one instance per drainer (it keeps the Plex connection)."""

    def __init__(self, settings, stash_reader, plex_connect: Callable[[], object], conn,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 edit_threads: int = EDIT_THREADS, plex_settled: Callable[[], bool] = lambda: True):
        self.settings = settings
        self.plex_settled = plex_settled  # the breaker's word: optional work waits for a settled Plex
        self.stash = stash_reader
        self.conn = conn
        self.clock = clock
        self.sleep = sleep
        self.edit_threads = max(1, int(edit_threads))
        self.mapper = settings.path_map  # parsed (and checked) with the settings
        self.index = PathIndex(conn, clock=clock)
        self.state = SyncState(conn)
        self.plex = PlexConnection(settings, plex_connect, conn, self.index, clock)
        self.matcher = Matcher(settings, conn, self.index, self.state, self.plex, clock)
        db_lock = threading.Lock()  # the connection is shared with the edit threads
        self.recorder = Recorder(self.state, clock, db_lock)
        self.sender = ItemSender(settings, stash_reader, self.index, self.state, db_lock, self.recorder.later)
        skips = FilterSkips(conn)
        self.scene_filter = SceneFilter(settings, skips, clock, db_lock)
        self.gone = GoneScenes(self.state, skips, self.plex, db_lock)
        self.collection_art = CollectionArtPass(stash_reader, self.plex, conn, db_lock, clock, self.edit_threads)
        self.ahead = ReadAhead(stash_reader.find_scenes, clock)

    def sync_batch(self, scene_ids: Iterable[int], read_after: Optional[float] = None,
                   next_ids: Sequence[int] = ()) -> Dict[int, Outcome]:
        """Each scene's result: read → filter → match → plan → apply → record; then gone scenes and collection art.

        `next_ids` are the scenes the caller will most likely ask for next: their Stash
        read starts now, beside this batch's Plex work, and serves the next batch when
        every one of its jobs was queued before `read_after` of that call (ahead.py).
        """
        ids = list(dict.fromkeys(int(i) for i in scene_ids))
        try:
            return self._sync(ids, read_after, next_ids) if ids else {}
        except BaseException:
            self.ahead.start(())  # nothing is carried past a batch that failed as a whole
            raise

    def _sync(self, ids: List[int], read_after: Optional[float], next_ids: Sequence[int]) -> Dict[int, Outcome]:
        retry = QuickRetry(sleep=self.sleep)
        read_at, found = self.clock(), None
        taken = self.ahead.take(ids, read_after)
        if taken is not None:
            found, read_at = taken
        work, results, gone = read_scenes(self.stash, self.state, ids, retry, self.settings, self.mapper,
                                          self.scene_filter, found)
        this = set(ids)
        self.ahead.start([i for i in next_ids if int(i) not in this])  # beside this batch's Plex work
        to_write = self._skip_unchanged(work, results, read_at) if work else []  # matched in the index
        self.recorder.flush(results)
        try:
            if to_write:
                items, failed, ready = self.matcher.in_plex(to_write, retry)  # matched in Plex
                results.update(failed)
                if ready:
                    results.update(self._edit_all(ready, items, retry, read_at))
        finally:
            self.recorder.flush(results)  # before any job is acked (the worker acks on return)
        results.update(self.gone.forget_all(gone, retry))
        self._collections(work, results, retry)
        return results

    def _collections(self, work: List[BatchScene], results: Dict[int, Outcome], retry: QuickRetry) -> None:
        """The artwork of the collections the batch's synced scenes are in (worker/collection_art.py)."""
        if any(isinstance(r, Exception) and classify(r) in _SERVER_TROUBLE for r in results.values()):
            return  # Plex or Stash is failing: the scenes' retries come first
        if not self.plex_settled():
            return  # a probe, or Plex failing lately: one scene's sync is all a probe may send
        reached = [(target[0], src) for s in work if isinstance(results.get(s.scene_id), SyncResult)
                   for target in set(s.targets or s.candidates) for src in s.sources]
        try:
            self.collection_art.run(reached, retry)
        except Exception as exc:  # never a scene's failure; the next batch tries again
            log.warning("collection artwork skipped this time (%s: %s)", type(exc).__name__, exc)

    def _skip_unchanged(self, work: List[BatchScene], results: Dict[int, Outcome],
                        read_at: float) -> List[BatchScene]:
        """Scenes the index says Plex already holds are done (no request); the rest need a write."""
        section_ids = self.plex.indexed_section_ids()
        to_write: List[BatchScene] = []
        for scene in work:
            scene.candidates = lookup(self.index, scene, section_ids) if section_ids is not None else []
            if unchanged(scene):
                results[scene.scene_id] = self.recorder.unchanged(scene, read_at)
            else:
                to_write.append(scene)
        return to_write

    def _edit_all(self, scenes: List[BatchScene], items: Items, retry: QuickRetry,
                  read_at: float) -> Dict[int, Outcome]:
        """Plan, apply and record every item the scenes reach, a few items at a time (lanes)."""
        stop = BatchStop(retry)

        def send(scene: BatchScene, target: Match):
            return self.sender.send_one(scene, target, items[int(target[1])], retry, stop)

        done: Dict[int, Done] = {s.scene_id: [] for s in scenes}
        for scene, target, outcome in run_lanes(send, lanes_by_item(scenes), self.edit_threads * LANES_PER_REQUEST):
            done[scene.scene_id].append((target, self.recorder.sent(scene, target, outcome)))
        return {s.scene_id: self.recorder.finished(s, done[s.scene_id], read_at) for s in scenes}
