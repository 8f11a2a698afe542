"""Routing: where each job goes after its scene's sync, and the counts of where they went.

A success is acked (and, when Plex answered, tells the breaker). A failure is
classified (classify.py) and decided (policy.py): retried later or dead-lettered; or
put back without counting an attempt when it says nothing about the job (a config
error in the same batch, a Plex outage the breaker now holds). Every runner routes
through here, so a job fails the same way whoever drains it.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional

from errors.kinds import ErrorKind, SyncError
from sync_queue.store import Job, QueueStore
from worker.breaker import CircuitBreaker
from worker.classify import classify, describe, server_unavailable
from worker.policy import DeadLetter, Retry, decide, probe_retry_at
from worker.quick_retry import is_dropped_connection

log = logging.getLogger(__name__)

# Successes counted under their own name: left alone by the scene filter; gone from Stash.
OWN_TALLY = ("filtered", "forgotten")


def changed(result: object) -> bool:
    """Results say `changed=False` (attribute or key) when the scene needed no Plex edit."""
    if isinstance(result, Mapping):
        return bool(result.get("changed", True))
    return bool(getattr(result, "changed", True))


def config_message(results: Dict[int, object]) -> Optional[str]:
    """The message of the batch's first config failure, or None."""
    for outcome in results.values():
        if isinstance(outcome, BaseException) and classify(outcome) is ErrorKind.CONFIG:
            return describe(outcome)
    return None


class JobRouter:
    """Routes the jobs of a worker; `tally` and `errors` feed its summary."""

    def __init__(self, store: QueueStore, breaker: CircuitBreaker, rng: random.Random):
        self.store = store
        self.breaker = breaker
        self.rng = rng
        self.tally: Counter = Counter()
        self.errors: Counter = Counter()
        # Scenes whose own item failed transiently since Plex last answered: one job failing
        # alone is that job's error, not an outage (promise 7).
        self.lone_failures: set = set()

    def route(self, jobs: List[Job], results: Dict[int, object], now: float, settings: Any, hold: bool) -> None:
        """Each job by its scene's result; `hold` puts failures back (a config error in the batch)."""
        for job in jobs:
            outcome = results.get(job.scene_id)
            if job.scene_id not in results:
                outcome = SyncError(f"the sync returned no result for scene {job.scene_id}")
            if isinstance(outcome, BaseException):
                self.failed(job, outcome, now, settings, hold=hold)
            else:
                self.succeeded(job, outcome, now)

    def succeeded(self, job: Job, outcome: object, now: float) -> None:
        self.store.succeeded(job, now)
        if changed(outcome):
            # Only an answer from Plex moves the breaker; an unchanged scene sent it nothing.
            self.breaker.success(now)
            self.lone_failures.clear()
        status = getattr(outcome, "status", None)
        self.tally[status if status in OWN_TALLY else "synced" if changed(outcome) else "unchanged"] += 1

    def covered(self, job: Job) -> None:
        """Acked unattempted: a sync that read Stash after the job was queued covered it."""
        self.store.ack(job)
        self.tally["skipped_coalesced"] += 1

    def release(self, job: Job) -> None:
        """Put back unattempted: the failure said nothing about the job."""
        self.store.release(job)
        self.tally["released"] += 1

    def failed(self, job: Job, exc: BaseException, now: float, settings: Any, hold: bool) -> None:
        kind = classify(exc)
        message = describe(exc)
        self.errors[kind.value] += 1
        if kind is ErrorKind.UNEXPECTED:
            log.error("scene %s: unexpected failure: %s", job.scene_id, message, exc_info=exc)
        else:
            log.warning("scene %s: %s failure: %s", job.scene_id, kind.value, message)
        probing = self.breaker.holds_probe  # failure() below ends the probe
        # A config error in the batch, or an open circuit, means the failure says nothing
        # about this job: put it back without counting an attempt.
        # A refused connection on the job's last allowed attempt opens the circuit rather
        # than dead-lettering the job: nothing reached Plex, so it is not the job's fault.
        # (A timeout may be this item's alone; it keeps the job's own budget.)
        refused = job.attempts + 1 > settings.max_retries and is_dropped_connection(exc, idempotent=False)
        if hold or (self._feeds_breaker(job, kind, exc) and self.breaker.failure(kind, message, now, force=refused)):
            if probing and not hold:
                # The next probe must be another job (see policy.probe_retry_at).
                retry_at = probe_retry_at(job.attempts, now, settings, self.rng)
                self.store.defer(job, retry_at, job.attempts, kind, message, now=now)
                self.tally["deferred"] += 1
                return
            self.release(job)
            return
        self._decide(job, kind, message, now, settings)

    def _decide(self, job: Job, kind: ErrorKind, message: str, now: float, settings: Any) -> None:
        decision = decide(job.attempts, kind, message, now, settings, self.rng)
        if isinstance(decision, Retry):
            self.store.defer(job, decision.not_before, decision.attempts, kind, message, now=now)
            self.tally["deferred"] += 1
        elif isinstance(decision, DeadLetter):
            self.store.dead_letter(job, decision.kind, decision.reason, decision.attempts, now=now)
            self.tally["dead_lettered"] += 1
        else:  # Pause: only CONFIG decides that, and CONFIG is held above
            self.release(job)

    def _feeds_breaker(self, job: Job, kind: ErrorKind, exc: BaseException) -> bool:
        """Is this failure evidence of a Plex outage?

        Connection-level failures (refused, timeout, 429, 502-504) always are. A failure
        Plex answered for one item (a 500 on its write) counts only once a second scene
        has failed the same way since Plex last answered: one job failing alone never
        opens the circuit. Stash's failures never do.
        """
        if kind is not ErrorKind.TRANSIENT:
            return False
        if server_unavailable(exc):
            return True
        self.lone_failures.add(job.scene_id)
        return len(self.lone_failures) >= 2
