"""Read ahead: the next batch's scenes are read from Stash while this batch writes to Plex.

A batch's Stash read leaves the edit lanes idle; the worker knows which jobs wait next
(it peeks the ready queue), so the syncer starts their read, one batch ahead, on a
thread of its own as soon as its own read is done. Only Stash is asked: the Plex
requests of a batch stay within its lanes.

A read taken ahead stands for "Stash as read at `read_at`" exactly as a read taken at
the batch's start does, so it is used under the same rule that lets a sync absorb a job
(worker/loop.py `_drop_already_synced`): only for a batch whose every job was queued
before the read began (`read_after` < `read_at`), and only when it covers every id of
the batch. Anything else (other ids, a job queued after the read began, a failed read)
and the batch reads Stash itself, as it always did. What was recorded for a scene (its
sync state) is never taken ahead: the batch reads that from SQLite when it runs.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import Callable, Dict, List, Optional, Sequence, Tuple

log = logging.getLogger("stash2plex.sync")

Found = Dict[int, dict]


class ReadAhead:
    """At most one read in flight; one per SceneSyncer.

    Each read runs on a daemon thread of its own: nothing lingers after a syncer is
    dropped, and a drainer that exits never waits for a read nobody will use.
    """

    def __init__(self, find_scenes: Callable[[List[int]], Found], clock: Callable[[], float]):
        self.find_scenes = find_scenes
        self.clock = clock
        self._ahead: Optional[Tuple[frozenset, float, Future]] = None
        self.used = 0  # batches served from a read taken ahead (bench and logs)

    def start(self, ids: Sequence[int]) -> None:
        """Begin reading these scenes now (a read already in flight is given up)."""
        wanted = frozenset(int(i) for i in ids)
        if not wanted:
            self._ahead = None
            return
        read_at = self.clock()  # before the request leaves: Stash is at least this fresh
        future: Future = Future()

        def read() -> None:
            try:
                future.set_result(self.find_scenes(sorted(wanted)))
            except BaseException as exc:  # handed to take(), which falls back to the batch's own read
                future.set_exception(exc)

        threading.Thread(target=read, name="stash2plex-read", daemon=True).start()
        self._ahead = (wanted, read_at, future)

    def take(self, ids: Sequence[int], read_after: Optional[float]) -> Optional[Tuple[Found, float]]:
        """The scenes read ahead and when, if that read may stand for these ids; else None."""
        ahead, self._ahead = self._ahead, None
        if ahead is None or read_after is None:
            return None
        wanted, read_at, future = ahead
        if not read_at > read_after or not wanted.issuperset(int(i) for i in ids):
            return None
        try:
            found = future.result()
        except Exception as exc:  # the batch reads Stash itself, with its retries
            log.debug("reading ahead failed (%s: %s); the batch reads Stash itself", type(exc).__name__, exc)
            return None
        self.used += 1
        return {int(i): found[int(i)] for i in ids if int(i) in found}, read_at

    def close(self) -> None:
        self._ahead = None
