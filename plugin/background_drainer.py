"""The detached drainer: one process machine-wide, holding the drain lock.

Started by a hook (plugin/spawn.py) with the launch document on stdin. It syncs until
nothing is queued and nothing is scheduled, sleeping until the next retry is due
however far ahead it is, re-reading the settings every few seconds meanwhile. A
settings problem pauses it (alive, holding the lock, so hooks start no drainer each)
until the settings change or a minute passes. Logs go to `<data dir>/logs/drainer.log`.

Exit protocol: release the lock, THEN look at the drops and the queue file once more,
and take the lock again if work arrived. A hook writes its drop before it probes the
lock, so a hook that found the lock held is seen by that last look.

What one hold of the lock does is plugin/drain_session.py; the heartbeat for Queue
Status is plugin/heartbeat.py.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Dict

from plugin import spawn
from plugin.drain_session import DrainSession
from plugin.heartbeat import Heartbeat
from plugin.logsetup import setup_file_logging

# How long a new drainer tries for the lock: long enough to get past a hook's probe or
# a drainer that is just leaving (it looks at the queue again after releasing).
SPARE_WAIT_SECONDS = 1.0


def _take_lock(lock) -> bool:
    deadline = time.monotonic() + SPARE_WAIT_SECONDS
    while not lock.try_acquire():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _work_waiting(data_dir: str) -> bool:
    """Anything dropped, queued, scheduled or spooled now (the file at the path, fresh connection)."""
    from sync_queue import drops, missed, spool
    from worker.database import open_db
    from sync_queue.store import QueueStore

    if drops.waiting(data_dir) or missed.first_missed(data_dir) is not None:
        return True
    try:
        conn = open_db(data_dir)
    except Exception:  # noqa: BLE001 - an unusable file: the next hook or task reports it
        return False
    try:
        if spool.has_spooled(conn, data_dir):
            return True
        counts = QueueStore(conn).counts(time.time())
    except Exception:  # noqa: BLE001
        return False
    finally:
        conn.close()
    return counts.get("pending", 0) > 0 or counts.get("deferred", 0) > 0


def _dependency_problem(launch: Dict[str, Any]) -> str:
    from plugin.deps import missing_dependencies_message  # imports every client: only the lock holder

    return missing_dependencies_message((launch["server_connection"] or {}).get("PluginDir") or "") or ""


def drain(launch: Dict[str, Any], log: logging.Logger) -> int:
    try:
        from worker.lock import DrainLock  # filelock only
    except ImportError:
        log.error("%s", _dependency_problem(launch))
        return 1

    lock = DrainLock(launch["data_dir"])
    if not _take_lock(lock):
        log.debug("another drainer holds the lock; exiting")
        return 0
    while True:
        reason = _hold(launch, log)
        log.info("drainer exiting: releasing the drain lock (%s)", reason)
        lock.release()
        if not _hold_again(launch, lock, reason):
            return 1 if reason == "error" else 0


def _hold(launch: Dict[str, Any], log: logging.Logger) -> str:
    """One hold of the lock, heartbeat beating; why it ended (a missing dependency is an error)."""
    log.info("drainer started: holding the drain lock")
    heartbeat = Heartbeat(launch["data_dir"])
    heartbeat.start()
    # Deliberately after the lock: a burst of hooks may start spare drainers, and each
    # must exit before paying for plexapi, stashapi and pydantic (about a second of CPU).
    problem = _dependency_problem(launch)
    if problem:
        log.error("%s", problem)
        reason = "error"
    else:
        reason = _run_session(launch, log)
    heartbeat.stop()
    return reason


def _run_session(launch: Dict[str, Any], log: logging.Logger) -> str:
    """A session from settings to its end; why it ended."""
    session = None
    try:
        session = DrainSession(launch, log, _work_waiting)
        return session.run()
    except Exception as exc:  # noqa: BLE001 - a detached process has nobody else to tell
        log.error("drainer crashed: %s: %s", type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        from sync_queue import storage

        return "replaced" if storage.kind_of(exc) == "damaged" else "error"
    finally:
        if session is not None:
            session.close()


def _hold_again(launch: Dict[str, Any], lock, reason: str) -> bool:
    """After releasing the lock: True when work arrived meanwhile and the lock is ours again."""
    if reason in ("error", "stash_gone", "storage"):
        return False  # the next hook or task starts over; retrying at once would spin
    if not _work_waiting(launch["data_dir"]):
        return False
    if reason == "replaced":
        spawn.start_drainer(launch)  # a fresh process, with no connection to the old file
        return False
    return lock.try_acquire()  # if not: whoever took it (a new drainer, a task) sees the same work


def main(raw: str) -> int:
    try:
        launch = json.loads(raw)
        data_dir = launch["data_dir"]
        conn = launch["server_connection"]
        if not isinstance(data_dir, str) or not isinstance(conn, dict):
            raise TypeError("malformed launch document")
        cookie = conn.get("SessionCookie")
        if cookie is not None and not isinstance(cookie, dict):
            raise TypeError("malformed session cookie")
    except (ValueError, KeyError, TypeError, RecursionError):
        return 2  # not started by our hook; nothing sensible to do or log
    log = setup_file_logging(data_dir)
    return drain(launch, log)
