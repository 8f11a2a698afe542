"""The SyncWorker thread: promote → claim a batch → sync → route each result.

Everything it touches is injected (store, breaker, settings, the sync function, the
clock, the random source and the wait), so tests drive it on real SQLite files with a
fake clock, and every runner (background drainer, Process Queue) routes failures through
the same classify → decide path (worker/routing.py). Settings saved in Stash while it
runs are picked up by worker/live_settings.py; the batch itself is worker/batch/.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

from sync_queue.store import Job, QueueStore
from errors.kinds import ErrorKind, SyncError
from worker.batch import BATCH_SIZE
from worker.breaker import CircuitBreaker
from worker.classify import classify, describe, server_unavailable
from worker.live_settings import LiveSettings, Refresh, SyncBatch
from worker.routing import JobRouter, config_message

log = logging.getLogger(__name__)

StateLookup = Callable[[List[int]], Mapping[int, Any]]

# After an outage Plex is often still busy (a restart re-reads its library): for this long
# the worker sends small batches with a pause between them.
POLITE_SECONDS = 30.0
POLITE_BATCH = 5
MIN_PAUSE = 0.01  # never spin on a zero wait
# While idle, a worker given `wake` asks it this often whether a hook queued work (a cheap
# check: sync_queue/inbox.py InboxWatch), so a save does not wait for poll_interval.
WAKE_CHECK_SECONDS = 0.05  # ~3 ms CPU per idle second on this machine; a save waits 25 ms on average
# While Stash cannot be reached at all, its jobs are put back unattempted and asked
# again this often; after STASH_GONE_SECONDS the worker stops (the jobs stay queued, and
# the first hook of a running Stash starts a new drainer).
STASH_RETRY_SECONDS = 2.0
STASH_GONE_SECONDS = 900.0
FOREVER = float("inf")


class SyncWorker(threading.Thread):
    def __init__(
        self, store: QueueStore, breaker: CircuitBreaker, settings: Any, sync_batch: SyncBatch, *,
        state_lookup: Optional[StateLookup] = None, clock: Callable[[], float] = time.time,
        rng: Optional[random.Random] = None, wait: Optional[Callable[[float], object]] = None,
        batch_size: int = BATCH_SIZE, idle_grace: Optional[float] = 3.0, retry_horizon: Optional[float] = None,
        on_progress: Optional[Callable[[int, int, dict], None]] = None,
        on_beat: Optional[Callable[[], None]] = None, settings_hash: Optional[str] = None,
        refresh: Optional[Refresh] = None, on_settings_changed: Optional[Callable[[Any, Any], None]] = None,
        should_stop: Optional[Callable[[], Optional[str]]] = None, wake: Optional[Callable[[], bool]] = None,
        read_ahead: bool = False,
    ):
        super().__init__(name="SyncWorker", daemon=True)
        self.store = store
        self.breaker = breaker
        self.settings = settings
        self.sync_batch = sync_batch
        self.state_lookup = state_lookup
        self.clock = clock
        self.router = JobRouter(store, breaker, rng if rng is not None else random.Random())
        self.stop_event = threading.Event()
        self.pause = wait if wait is not None else self.stop_event.wait
        self.batch_size = max(1, batch_size)
        self.idle_grace = idle_grace
        # Retries due within this many seconds keep the worker alive (asleep) even after
        # idle_grace; defaults to idle_grace. The detached drainer uses a long horizon.
        self.retry_horizon = idle_grace if retry_horizon is None else retry_horizon
        self.on_progress = on_progress
        self.on_beat = on_beat
        self.settings_hash = settings_hash
        self.live_settings = LiveSettings(refresh, on_settings_changed, clock())
        # Asked every cycle; a reason (e.g. "replaced": the queue file was swapped) stops the worker.
        self.should_stop = should_stop
        self.wake = wake  # True when work may have arrived: ends an idle wait early
        self.read_ahead = read_ahead  # sync_batch takes read_after and next_ids (worker/batch/ahead.py)
        self._stash_down_since: Optional[float] = None
        self.stopped_reason: Optional[str] = None
        self.config_error: Optional[str] = None
        self.error: Optional[BaseException] = None
        self._idle_since: Optional[float] = None
        self._store_coalesced_base = store.coalesced

    # -- control ---------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the current batch, then return."""
        self.stop_event.set()

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                if not self._cycle():
                    return
            self.stopped_reason = self.stopped_reason or "stopped"
        except Exception as exc:  # the drainer reads .error and logs it; jobs stay claimed until resumed
            log.exception("sync worker stopped by an error")
            self.error = exc
            self.stopped_reason = "error"

    def summary(self) -> dict:
        tally = self.router.tally
        coalesced = tally["skipped_coalesced"] + self.store.coalesced - self._store_coalesced_base
        return {
            "synced": tally["synced"],
            "unchanged": tally["unchanged"],
            "filtered": tally["filtered"],
            "forgotten": tally["forgotten"],
            "deferred": tally["deferred"],
            "dead_lettered": tally["dead_lettered"],
            "skipped_coalesced": coalesced,
            "released": tally["released"],
            "errors_by_kind": dict(self.router.errors),
            "stopped_reason": self.stopped_reason,
            "config_error": self.config_error,
        }

    # -- one turn of the loop --------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        self.pause(max(MIN_PAUSE, seconds))

    def _wait_for_work(self, seconds: float) -> None:
        """An idle wait that ends early when `wake` says a hook queued something."""
        if self.wake is None:
            return self._wait(seconds)
        deadline = time.monotonic() + max(MIN_PAUSE, seconds)
        while not self.stop_event.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.pause(min(WAKE_CHECK_SECONDS, left))
            if self.wake():
                return

    def _cycle(self) -> bool:
        """One promote/claim/sync turn; False when the worker should stop."""
        now = self.clock()
        if self.on_beat is not None:
            self.on_beat()
        if self.should_stop is not None:
            reason = self.should_stop()
            if reason:
                self.stopped_reason = reason
                return False
        if not self._refresh_settings(now):
            return False
        self.store.promote(now)
        if not self.store.has_ready():
            return self._idle(now)
        self._idle_since = None
        if not self.breaker.allow(now):
            return self._hold(now)
        jobs = self.store.claim(self._batch_limit(now), now)
        jobs = self._drop_already_synced(jobs)
        if not jobs:
            self.breaker.cancel_probe(now)
            return True
        keep_going = self._run_batch(jobs)
        self._report_progress()
        if keep_going and self._polite(self.clock()):
            self._wait(self.settings.poll_interval)
        return keep_going

    def _refresh_settings(self, now: float) -> bool:
        """Pick up settings saved in Stash since the last look; False when they are unusable."""
        try:
            fresh = self.live_settings.poll(now)
        except SyncError as exc:  # only settings that cannot be used come through
            self._pause_for_config(describe(exc), now)
            return False
        if fresh is None:
            return True
        old = self.settings
        self.settings, self.sync_batch = fresh
        self.settings_hash = self.settings.fingerprint()
        self.router.lone_failures.clear()
        self.live_settings.changed(old, self.settings)
        return True

    def _idle(self, now: float) -> bool:
        """Nothing ready: wait for a retry due soon, or stop after `idle_grace` quiet seconds."""
        poll = self.settings.poll_interval
        if self.idle_grace is None:
            self._wait_for_work(poll)
            return True
        next_retry = self.store.next_retry_at()
        if next_retry is not None and next_retry - now <= max(self.idle_grace, self.retry_horizon):
            self._idle_since = None
            self._wait_for_work(min(poll, next_retry - now))
            return True
        if self._idle_since is None:
            self._idle_since = now
        quiet = now - self._idle_since
        if quiet >= self.idle_grace:
            self.stopped_reason = "idle"
            return False
        self._wait_for_work(min(poll, self.idle_grace - quiet))
        return True

    def _hold(self, now: float) -> bool:
        """The circuit is open: attempt nothing, count nothing, wait for the probe time."""
        self.breaker.note_jobs_held(self.store.counts(now)["pending"])
        probe_at = self.breaker.next_probe_at()
        self._wait(min(self.settings.poll_interval, (probe_at or now) - now))
        return True

    def _polite(self, now: float) -> bool:
        recovered = self.breaker.recovered_at()
        return recovered is not None and 0.0 <= now - recovered < POLITE_SECONDS

    def _batch_limit(self, now: float) -> int:
        if self.breaker.holds_probe or self.breaker.failures() > 0:
            return 1  # a probe is one job; after a transient failure, feel the way one job at a time
        if self._polite(now):
            return min(self.batch_size, POLITE_BATCH)
        return self.batch_size

    def _drop_already_synced(self, jobs: List[Job]) -> List[Job]:
        """Ack jobs queued before the last successful sync read Stash: that sync already covered them."""
        if not jobs or self.state_lookup is None:
            return jobs
        states = self.state_lookup([job.scene_id for job in jobs])
        kept = []
        for job in jobs:
            state = states.get(job.scene_id)
            read_at = None if state is None else state.read_at
            if read_at is not None and job.enqueued_at < read_at:
                self.router.covered(job)
            else:
                kept.append(job)
        return kept

    # -- routing results -------------------------------------------------------------

    def _call_sync(self, jobs: List[Job]) -> Dict[int, object]:
        scene_ids = [job.scene_id for job in jobs]
        try:
            if self.read_ahead:  # a read taken ahead serves a batch only if it began after every job was queued
                results = self.sync_batch(scene_ids, read_after=max(job.enqueued_at for job in jobs),
                                          next_ids=self.store.waiting_ids(self.batch_size))
            else:
                results = self.sync_batch(scene_ids)
        except Exception as exc:  # a failure of the whole batch applies to each of its scenes
            return {scene_id: exc for scene_id in scene_ids}
        return dict(results or {})

    def _stash_is_down(self, jobs: List[Job], results: Dict[int, object], now: float) -> bool:
        """Stash could not be reached for the whole batch: put the jobs back, count nothing."""
        outcomes = [results.get(job.scene_id) for job in jobs]
        down = bool(outcomes) and all(
            isinstance(o, BaseException) and classify(o) is ErrorKind.STASH and server_unavailable(o)
            for o in outcomes)
        if not down:
            self._stash_down_since = None
            return False
        if self._stash_down_since is None:
            self._stash_down_since = now
            log.warning("Stash cannot be reached (%s); its jobs wait, asking again every %.0f s",
                        describe(outcomes[0]), STASH_RETRY_SECONDS)
        for job in jobs:
            self.router.release(job)
        self.breaker.cancel_probe(now)
        if now - self._stash_down_since >= STASH_GONE_SECONDS:
            self.stopped_reason = "stash_gone"
        else:
            self._wait(STASH_RETRY_SECONDS)
        return True

    def _run_batch(self, jobs: List[Job]) -> bool:
        results = self._call_sync(jobs)
        now = self.clock()
        if self._stash_is_down(jobs, results, now):
            return self.stopped_reason is None
        config = config_message(results)
        self.router.route(jobs, results, now, self.settings, hold=config is not None)
        self.breaker.cancel_probe(now)  # no-op unless the probe ended with neither success nor transient failure
        if config is None:
            return True
        self._pause_for_config(config, now)
        return False

    def _pause_for_config(self, message: str, now: float) -> None:
        self.store.note_config_error(message, now, self.settings_hash)
        self.config_error = message
        self.stopped_reason = "config"
        log.error("draining paused until the settings are fixed: %s", message)

    def _report_progress(self) -> None:
        if self.on_progress is None:
            return
        summary = self.summary()
        done = sum(summary[k] for k in ("synced", "unchanged", "filtered", "forgotten", "deferred",
                                        "dead_lettered", "skipped_coalesced"))
        self.on_progress(done, done + self.store.counts()["pending"], summary)
