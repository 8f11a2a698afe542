"""Draining in the foreground, shared by Process Queue, Sync All and Sync Recent.

Every consumer takes the drain lock (persist-queue is not safe for two consumers in
two processes). When a background drainer holds it, the task waits and reports the
queue shrinking instead, bounded, and then drains whatever is left itself.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict

from tasks.context import TaskContext, iso_time
from errors.kinds import ConfigError, SyncError, TransientError
from validation.settings import SETTINGS_PAGE

log = logging.getLogger("stash2plex")

WAIT_FOR_DRAINER_SECONDS = 1800.0  # a Stash task may run long; it is stoppable from the UI
FOREGROUND_RETRY_HORIZON = 2.0  # retries due this soon are part of this run; later ones go to the background
# A task waits this long on an empty queue before it returns (a longer grace only delayed
# every Process Queue); saves arriving later get their own drainer (see the counts read below).
FOREGROUND_IDLE_GRACE = 0.2
# A background drainer that reports a pause or an open circuit gets this long to resume
# (it re-reads the settings every few seconds) before the task returns and says why.
WAITING_GRACE_SECONDS = 8.0
STALL_SECONDS = 120.0


def check_plex(ctx: TaskContext) -> None:
    """Fail fast, naming the fix, before touching any job (every job stays queued)."""
    settings = ctx.app.settings
    settings.require_plex()
    try:
        ctx.app.sections()
    except ConfigError:
        raise
    except TransientError as exc:
        raise ConfigError(
            f"Plex at {settings.plex_url} did not answer ({exc}). Check that Plex is running and that "
            f"plex_url on {SETTINGS_PAGE} is right; every queued job is kept."
        ) from None


def work_left(counts: Dict[str, Any]) -> int:
    """Jobs a drain would take on now: queued (claimed ones included) and retries already due."""
    return int(counts.get("pending", 0)) + int(counts.get("due_retries", 0))


class ProgressBar:
    """Stash's progress bar for one task: it only ever moves forward, and ends at 1.0."""

    def __init__(self, report: Callable[[float], None], start: float = 0.0):
        self._report = report
        self._start = start  # a task that showed progress before draining starts the bar there
        self._last = -1.0
        self._guard = threading.Lock()

    def __call__(self, fraction: float) -> None:
        value = self._start + (1.0 - self._start) * max(0.0, min(1.0, fraction))
        value = round(value, 4)  # stashlog sends four decimals
        with self._guard:
            if value <= self._last:
                return
            self._last = value
        self._report(value)


def _waiting_on(ctx: TaskContext) -> str:
    """Why the background drainer is not draining now, or '' while it is."""
    app = ctx.app
    paused = app.store.last_config_error()
    if paused:
        return f"paused by a settings problem: {paused.get('message')}"
    if app.breaker().state() != "closed":
        return "Plex is not answering; the background drainer probes it and syncs when it is back"
    return ""


def wait_for_background_drainer(ctx: TaskContext, lock, bar: ProgressBar, deadline: float) -> "tuple[bool, str]":
    """Show another process's drain as progress; (True, '') once we hold the lock.

    Otherwise (False, why): the holder has nothing to do now (it sleeps until a retry is
    due), it is waiting for Plex or for a settings fix (nothing this task could do), the
    queue did not move for STALL_SECONDS, or the deadline passed. Never silently long.
    """
    store = ctx.app.store
    start = work_left(store.counts(time.time())) or 1
    announced = False
    last_left, moved_at = None, time.monotonic()
    while time.time() < deadline:
        if lock.try_acquire():
            return True, ""
        left = work_left(store.counts(time.time()))
        if left == 0:
            return False, ""
        if left != last_left:
            last_left, moved_at = left, time.monotonic()
        why = _waiting_on(ctx)
        if why and time.monotonic() - moved_at > WAITING_GRACE_SECONDS:
            return False, why
        if time.monotonic() - moved_at > STALL_SECONDS:
            return False, f"the background drainer has not finished a job for {STALL_SECONDS:.0f} s"
        if not announced:
            log.info("A background drainer is syncing; showing its progress.")
            announced = True
        bar(min(0.99, 1.0 - left / max(start, left)))
        time.sleep(0.5)
    return False, "this task waited as long as it may"


def _plex_went_away(worker) -> bool:
    """This run's own attempts opened the circuit (or failed its probe): Plex went down under us.

    The worker releases a job, uncounted, exactly when a transient failure finds the circuit
    open. A circuit that was already open when the task started (Plex answered check_plex,
    so it is likely back) is left to the worker's probe. Read from the worker's tallies:
    the SQLite connection is the worker thread's while it runs.
    """
    summary = worker.summary()
    return bool(summary["errors_by_kind"].get("transient")) and summary["released"] > 0


def _left_to_background(counts: Dict[str, Any], why: str = "") -> Dict[str, Any]:
    """The reply when the background drainer holds the lock and nothing is left for us."""
    left = work_left(counts)
    if left:
        summary = f"a background drainer is still busy with {left} jobs; the queue is in its hands"
        if why:
            summary += f" ({why})"
    else:
        summary = "nothing queued now"
    deferred = int(counts.get("deferred", 0))
    if deferred:
        summary += f"; waiting to retry {deferred} (next retry {iso_time(counts.get('next_retry_at'))}, "
        summary += "handled by the background drainer)"
    return {"synced": 0, "unchanged": 0, "background_drainer": True, "counts": counts, "summary": summary}


def drain_foreground(ctx: TaskContext, progress_from: float = 0.0) -> Dict[str, Any]:
    """Drain now; the bar moves from `progress_from` (what the task already showed) to 1.0."""
    check_plex(ctx)
    app = ctx.app
    app.store.merge_hook_writes()  # the hooks' drops; a locked file says so here, in plain words
    lock = app.lock()
    bar = ProgressBar(ctx.progress, start=progress_from)
    bar(0.0)
    got_lock, why = wait_for_background_drainer(ctx, lock, bar, time.time() + WAIT_FOR_DRAINER_SECONDS)
    if not got_lock:
        bar(1.0)
        return _left_to_background(app.store.counts(time.time()), why)
    try:
        worker, summary, outage = _drain_holding_lock(app, bar)
    finally:
        lock.release()
    counts = app.store.counts(time.time())
    _raise_if_cut_short(ctx, summary, worker.error, outage, counts)
    app.store.clear_config_error()
    # Read after the lock is released: a save that slipped in after the worker's last look
    # (its own drainer found our lock and left) is seen here and gets a drainer.
    if int(counts.get("deferred", 0)) > 0 or work_left(counts) > 0:
        ctx.start_drainer()  # waiting retries are the background drainer's job
    bar(1.0)
    return _finished(summary, counts)


def _drain_holding_lock(app, bar: ProgressBar) -> "tuple[Any, Dict[str, Any], bool]":
    """One worker over the queue: (the worker, its summary, whether Plex went away under it)."""
    store = app.store
    store.resume_unacked()
    total = max(1, work_left(store.counts(time.time())))

    def on_progress(done: int, _total: int, _summary: Dict[str, Any]) -> None:
        bar(min(0.99, done / max(total, done + 1)))

    worker = app.make_worker(
        idle_grace=FOREGROUND_IDLE_GRACE, retry_horizon=FOREGROUND_RETRY_HORIZON, on_progress=on_progress
    )
    outage = False
    worker.start()
    while worker.is_alive():
        worker.join(0.5)
        if not outage and _plex_went_away(worker):
            outage = True
            worker.stop()  # it would hold the task open for as long as Plex stays down
    return worker, worker.summary(), outage


def _raise_if_cut_short(ctx: TaskContext, summary: Dict[str, Any], error: Any, outage: bool,
                        counts: Dict[str, Any]) -> None:
    """A run that did not drain to the end fails the task, saying why; every job is kept."""
    if summary.get("stopped_reason") == "config":
        raise ConfigError(str(summary.get("config_error")))
    if summary.get("stopped_reason") == "error":
        raise SyncError(f"the sync stopped on an unexpected error ({error!r}); every job is kept")
    if outage:
        ctx.start_drainer()  # it honours the open circuit and probes until Plex is back
        raise TransientError(
            f"Plex at {ctx.app.settings.plex_url} stopped answering during the run after {summary.get('synced', 0)} "
            f"scenes; the other {work_left(counts) + int(counts.get('deferred', 0))} jobs are kept and the "
            f"background drainer syncs them when Plex is back"
        )


def _finished(summary: Dict[str, Any], counts: Dict[str, Any]) -> Dict[str, Any]:
    """The task's reply after a drain that reached its end."""
    result = dict(summary)
    result["counts"] = counts
    result["summary"] = (
        f"synced {summary.get('synced', 0)}, unchanged {summary.get('unchanged', 0)}, "
        f"waiting to retry {counts.get('deferred', 0)}, dead letters {counts.get('dead_letters', 0)}"
    )
    if summary.get("filtered"):
        result["summary"] += f", left alone by the scene filter {summary['filtered']}"
    if summary.get("forgotten"):
        result["summary"] += f", forgotten (gone from Stash) {summary['forgotten']}"
    return result
