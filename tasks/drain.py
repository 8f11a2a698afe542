"""Draining in the foreground, shared by Process Queue, Sync All and Sync Recent.

Every consumer takes the drain lock (persist-queue is not safe for two consumers in
two processes). When a background drainer holds it, the task waits and reports the
queue shrinking instead, bounded, and then drains whatever is left itself.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict

from tasks.context import TaskContext
from validation.errors import ConfigError, TransientError
from validation.settings import SETTINGS_PAGE

log = logging.getLogger("stash2plex")

WAIT_FOR_DRAINER_SECONDS = 1800.0  # a Stash task may run long; it is stoppable from the UI
FOREGROUND_IDLE_GRACE = 2.0  # retries due this soon are part of this run; later ones go to the background


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


def _busy(counts: Dict[str, Any]) -> int:
    return int(counts.get("pending", 0)) + int(counts.get("in_flight", 0))


def wait_for_background_drainer(ctx: TaskContext, lock, deadline: float) -> bool:
    """Report progress while another process drains; True once we hold the lock."""
    store = ctx.app.store
    start = _busy(store.counts(time.time())) or 1
    announced = False
    while time.time() < deadline:
        if lock.try_acquire():
            return True
        if not announced:
            log.info("A background drainer is syncing; showing its progress.")
            announced = True
        left = _busy(store.counts(time.time()))
        ctx.progress(max(0.0, min(0.99, 1.0 - left / start)))
        time.sleep(0.5)
    return False


def drain_foreground(ctx: TaskContext) -> Dict[str, Any]:
    check_plex(ctx)
    app = ctx.app
    lock = app.lock()
    ctx.progress(0.0)
    if not wait_for_background_drainer(ctx, lock, time.time() + WAIT_FOR_DRAINER_SECONDS):
        counts = app.store.counts(time.time())
        return {"summary": "a background drainer is still busy; the queue is in its hands", "counts": counts}
    try:
        store = app.store
        store.resume_unacked()
        total = max(1, _busy(store.counts(time.time())))
        guard = threading.Lock()

        def on_progress(done: int, _total: int, _summary: Dict[str, Any]) -> None:
            with guard:
                ctx.progress(min(0.99, done / max(total, done + 1)))

        worker = app.make_worker(idle_grace=FOREGROUND_IDLE_GRACE, on_progress=on_progress)
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
        summary = worker.summary()
    finally:
        lock.release()
    counts = app.store.counts(time.time())
    if summary.get("stopped_reason") == "config":
        raise ConfigError(str(summary.get("config_error")))
    app.store.clear_config_error()
    if int(counts.get("deferred", 0)) > 0 or _busy(counts) > 0:
        ctx.start_drainer()  # waiting retries are the background drainer's job
    ctx.progress(1.0)
    result = dict(summary)
    result["counts"] = counts
    result["summary"] = (
        f"synced {summary.get('synced', 0)}, unchanged {summary.get('unchanged', 0)}, "
        f"waiting to retry {counts.get('deferred', 0)}, dead letters {counts.get('dead_letters', 0)}"
    )
    return result
