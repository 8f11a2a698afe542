"""The detached drainer: one process machine-wide, holding the drain lock.

Started by a hook (plugin/spawn.py) with the launch document on stdin. It syncs until
nothing is ready and no retry is due within the horizon, then exits. Before exiting it
clears its heartbeat and looks at the inbox once more: a hook that enqueued after the
worker's last look either sees the cleared heartbeat and starts a new drainer, or its
row is seen here. Logs go to `<data dir>/logs/drainer.log`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any, Dict

from plugin import stashlog
from plugin.logsetup import reconfigure, setup_file_logging
from sync_queue import inbox

HEARTBEAT_SECONDS = 0.5
# Retries due within this horizon keep the drainer alive (sleeping, not spinning): the
# longest default backoff (not found: 600 s) fits, so nobody has to press a button.
RETRY_HORIZON_SECONDS = 900.0
IDLE_GRACE_SECONDS = 3.0
# A settings problem is not retried by every hook of a bulk edit: only after this long,
# or at once when the settings change.
CONFIG_ERROR_QUIET_SECONDS = 60.0
# How long a new drainer waits for a lock whose holder does not beat (see _take_lock).
SPARE_WAIT_SECONDS = 5.0
# While Stash cannot be reached at start-up, ask again this often (a refused connection is cheap).
STASH_RETRY_SECONDS = 2.0


class _Heartbeat(threading.Thread):
    """Tells hooks that a drainer is alive, so they do not start another."""

    def __init__(self, data_dir: str):
        super().__init__(name="drainer-heartbeat", daemon=True)
        self.data_dir = data_dir
        self.stop_event = threading.Event()

    def run(self) -> None:
        conn = inbox.connect(self.data_dir)
        try:
            while not self.stop_event.is_set():
                inbox.beat(conn, os.getpid(), time.time())
                self.stop_event.wait(HEARTBEAT_SECONDS)
            inbox.clear_beat(conn)
        finally:
            conn.close()


def _recent_config_error(app, settings_hash: str) -> str:
    info = app.store.last_config_error() or {}
    if info.get("settings_hash") != settings_hash:
        return ""
    if time.time() - float(info.get("at") or 0) > CONFIG_ERROR_QUIET_SECONDS:
        return ""
    return str(info.get("message") or "")


def _take_lock(lock, data_dir: str) -> bool:
    """The drain lock, or False when a live drainer (one whose heartbeat is fresh) has it.

    A holder without a fresh heartbeat is either leaving (it took its last look at the
    inbox before the row that started us was written, and has not released the lock yet)
    or a task draining in the foreground. Waiting for it, bounded, keeps that row from
    being left behind until the next save.
    """
    deadline = time.monotonic() + SPARE_WAIT_SECONDS
    while not lock.try_acquire():
        if inbox.heartbeat_is_fresh(data_dir, now=time.time()) or time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _settings_once_stash_answers(app, log: logging.Logger):
    """The settings, read from Stash; while Stash cannot be reached, wait and ask again.

    Hooks keep queueing while Stash's API is down (they need no request), and no later
    save may come: a drainer that gave up here would leave those jobs until the next
    save or button press. It keeps beating meanwhile, so hooks start no other drainer.
    """
    from validation.errors import TransientError  # deliberately lazy, like the rest of this path

    give_up_at = time.monotonic() + RETRY_HORIZON_SECONDS
    level = logging.WARNING
    while True:
        try:
            return app.settings
        except TransientError as exc:
            if time.monotonic() + STASH_RETRY_SECONDS > give_up_at:
                raise
            log.log(level, "%s; asking again every %.0f s", exc, STASH_RETRY_SECONDS)
            level = logging.DEBUG  # one warning per outage, not one every two seconds
            time.sleep(STASH_RETRY_SECONDS)


def _dependency_problem(launch: Dict[str, Any]) -> str:
    from plugin.deps import missing_dependencies_message  # imports every client: only the lock holder

    return missing_dependencies_message((launch["server_connection"] or {}).get("PluginDir") or "") or ""


def drain(launch: Dict[str, Any], log: logging.Logger) -> int:
    try:
        from worker.lock import DrainLock  # filelock only
    except ImportError:
        log.error("%s", _dependency_problem(launch))
        return 1

    data_dir = launch["data_dir"]
    lock = DrainLock(data_dir)
    if not _take_lock(lock, data_dir):
        log.debug("another drainer holds the lock; exiting")
        return 0
    log.info("drainer started: holding the drain lock")
    heartbeat = _Heartbeat(data_dir)  # before the slow imports: hooks meanwhile start no spares
    heartbeat.start()
    # Deliberately after the lock: a burst of hooks starts many spare drainers, and each
    # must exit before paying for plexapi, stashapi and pydantic (about a second of CPU).
    problem = _dependency_problem(launch)
    if problem:
        log.error("%s", problem)
        heartbeat.stop_event.set()
        heartbeat.join(5)
        lock.release()
        return 1
    from validation.errors import SyncError
    from worker.app import App

    app = App(launch["server_connection"], data_dir)
    try:
        stashlog.add_secret((launch["server_connection"].get("SessionCookie") or {}).get("Value"))
        settings = _settings_once_stash_answers(app, log)
        stashlog.add_secret(settings.plex_token)
        reconfigure(settings.debug_logging, settings.obfuscate_paths)
        quiet = _recent_config_error(app, settings.fingerprint())
        if quiet:
            log.warning("paused by a settings problem (%s); not retrying yet", quiet)
            return 0
        app.store.resume_unacked()
        while True:
            worker = app.make_worker(idle_grace=IDLE_GRACE_SECONDS, retry_horizon=RETRY_HORIZON_SECONDS)
            worker.start()
            worker.join()
            summary = worker.summary()
            log.info("drain finished: %s", summary)
            if summary.get("stopped_reason") == "config":
                log.error("paused: %s", summary.get("config_error"))
                return 0
            if summary.get("stopped_reason") == "error":
                return 1  # the worker logged why; restarting it at once would spin on the same fault
            app.store.clear_config_error()
            heartbeat.stop_event.set()
            heartbeat.join(5)
            if app.store.counts(time.time()).get("pending", 0) == 0:
                return 0
            heartbeat = _Heartbeat(data_dir)  # a hook slipped in while we were stopping
            heartbeat.start()
    except SyncError as exc:
        log.error("drainer stopped: %s", exc)
        return 0
    except Exception as exc:  # noqa: BLE001 - a detached process has nobody else to tell
        log.error("drainer crashed: %s: %s", type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        return 1
    finally:
        heartbeat.stop_event.set()
        heartbeat.join(5)
        app.close()
        log.info("drainer exiting: releasing the drain lock")
        lock.release()


def main(raw: str) -> int:
    try:
        launch = json.loads(raw)
        data_dir = launch["data_dir"]
        launch["server_connection"]
    except (ValueError, KeyError, TypeError):
        return 2  # not started by our hook; nothing sensible to do or log
    log = setup_file_logging(data_dir)
    return drain(launch, log)
