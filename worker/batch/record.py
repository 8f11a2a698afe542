"""Record: remember what each Plex item now holds for a scene, and when the scene was read.

The sync state (sync_queue/sync_state.py) is what makes the next batch cheap: an
unchanged fingerprint on the same items costs no request, and what was written is what
keep-Plex-edits compares with. What a batch has to record (each item as its edit comes
back from the lanes, an image hash as soon as Plex accepted the upload, the scene's
own row once every item of it synced) is kept in memory, in the order it happened, and
written in one short transaction when the batch's stage ends (`flush`): the edit threads
only append, and hooks never wait on a batch-long transaction. The worker acks a job
only after `sync_batch` returned, so a crash before the flush costs at most the batch's
requests again, never a job. A failure to record fails the scenes it held, routed by
the worker like any other failure.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Dict, List, Tuple, Union

from sync_queue import db
from sync_queue.sync_state import ItemState, SceneState, SyncState
from worker.batch.apply import Sent
from worker.batch.scene import BatchScene, Match, Outcome, SyncResult

log = logging.getLogger("stash2plex.sync")

Done = List[Tuple[Match, Union[Sent, Exception]]]  # each target of a scene, and what sending did
Write = Callable[[], None]


class Recorder:
    def __init__(self, state: SyncState, clock: Callable[[], float], db_lock: threading.Lock):
        self.state = state
        self.clock = clock
        self.db_lock = db_lock
        self._writes: List[Tuple[int, Write]] = []  # (scene id, write), in the order they happened
        self._lock = threading.Lock()

    def later(self, scene_id: int, write: Write) -> None:
        """Keep a write for the flush (any thread)."""
        with self._lock:
            self._writes.append((int(scene_id), write))

    def flush(self, results: Dict[int, Outcome]) -> None:
        """Write what was kept, in one transaction; if that fails, the scenes it held fail."""
        with self._lock:
            writes, self._writes = self._writes, []
        if not writes:
            return
        try:
            with self.db_lock, db.transaction(self.state.conn):
                for _, write in writes:
                    write()
        except Exception as exc:  # routed per scene by the worker: nothing of theirs was recorded
            for scene_id in {s for s, _ in writes}:
                if isinstance(results.get(scene_id), SyncResult):
                    results[scene_id] = exc

    def unchanged(self, scene: BatchScene, read_at: float) -> SyncResult:
        """An unchanged scene was read successfully too: remember when."""
        st = scene.state
        keys = sorted(st.items, key=int)
        first = st.items[keys[0]]
        result = SyncResult(scene.scene_id, "unchanged", first.rating_key, first.section_id, plex_keys=keys)
        st.read_at = read_at
        st.items = {}  # unchanged: the item rows stay as they are
        self.later(scene.scene_id, lambda: self.state.record(st))
        return result

    def sent(self, scene: BatchScene, target: Match, outcome: Union[Sent, Exception]) -> Union[Sent, Exception]:
        """Keep one item's record as its edit comes back from its lane."""
        if not isinstance(outcome, Exception):
            item = self._item(scene, target, outcome)
            self.later(scene.scene_id, lambda: self.state.record_item(item))
        return outcome

    def finished(self, scene: BatchScene, done: Done, read_at: float) -> Outcome:
        """The scene's result once all its items came back: its first failure, or its row (kept)."""
        failed = [o for _, o in done if isinstance(o, Exception)]
        if failed:
            return failed[0]
        synced_at = self.clock()
        self.later(scene.scene_id, lambda: self._record(scene, done, read_at, synced_at))
        first = done[0][0]
        return _result(scene, first, [t[1] for t, _ in done], [s for _, s in done])

    def _item(self, scene: BatchScene, target: Match, sent: Sent) -> ItemState:
        """What this Plex item now holds for the scene."""
        plan, done = sent.plan, sent.done
        old = scene.item_state(target)
        written = dict(plan.written)
        if done.poster_hash:
            written["poster"] = scene.meta.poster_url
        if done.art_hash:
            written["background"] = scene.meta.background_url
        if plan.kept:
            log.info("scene %s: kept Plex edits of %s on item %s", scene.scene_id, ", ".join(plan.kept), target[1])
        return ItemState(
            scene_id=scene.scene_id, rating_key=target[1], section_id=target[0], fingerprint=scene.fp,
            written=written,
            poster_hash=done.poster_hash or (old.poster_hash if old else None),
            art_hash=done.art_hash or (old.art_hash if old else None),
            synced_at=self.clock(),
        )

    def _record(self, scene: BatchScene, done: List[Tuple[Match, Sent]], read_at: float, synced_at: float) -> None:
        """Every item of the scene synced: the scene's own row, and no other items (in the flush)."""
        keys = [t[1] for t, _ in done]
        first = done[0][0]
        self.state.drop_items(scene.scene_id, keep=keys)
        recorded = self.state.get(scene.scene_id)
        primary = recorded.items.get(first[1]) if recorded else None
        self.state.record(SceneState(
            scene_id=scene.scene_id,
            fingerprint=scene.fp,
            plex_key=first[1],
            section_id=first[0],
            # The first item's record, as a single-item view for older readers.
            written=dict(primary.written) if primary else {},
            poster_hash=primary.poster_hash if primary else None,
            art_hash=primary.art_hash if primary else None,
            image_source=scene.meta.poster_url or scene.meta.background_url,
            read_at=read_at,
            synced_at=synced_at,
        ))


def _result(scene: BatchScene, first: Match, keys: List[str], sent: List[Sent]) -> SyncResult:
    return SyncResult(
        scene.scene_id, "synced", first[1], first[0],
        edited=any(s.done.edited for s in sent), rated=any(s.done.rated for s in sent),
        uploads=sum(s.done.uploads for s in sent),
        kept=sorted({k for s in sent for k in s.plan.kept}), plex_keys=keys)
