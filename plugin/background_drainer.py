"""The detached drainer: one process machine-wide, holding the drain lock.

Started by a hook (plugin/spawn.py) with the launch document on stdin. It syncs until
nothing is queued and nothing is scheduled, sleeping until the next retry is due
however far ahead it is, re-reading the settings every few seconds meanwhile. A
settings problem pauses it (alive, holding the lock, so hooks start no drainer each)
until the settings change or a minute passes. Logs go to `<data dir>/logs/drainer.log`.

Exit protocol: release the lock, THEN look at the queue file once more, and take the
lock again if work arrived. A hook commits its job before it probes the lock, so a
hook that found the lock held is seen by that last look.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any, Dict, Optional

from plugin import spawn, stashlog
from plugin.logsetup import reconfigure, setup_file_logging
from sync_queue import inbox

HEARTBEAT_SECONDS = 0.5
IDLE_GRACE_SECONDS = 3.0
# While a settings problem pauses draining: look for a change this often, and retry
# with unchanged settings this often (a Plex library may be created, a token restored).
PAUSE_POLL_SECONDS = 3.0
CONFIG_RETRY_SECONDS = 60.0
# How long a new drainer tries for the lock: long enough to get past a hook's probe or
# a drainer that is just leaving (it looks at the queue again after releasing).
SPARE_WAIT_SECONDS = 1.0
# While Stash cannot be reached at start-up, ask again this often, up to STASH_GONE_SECONDS.
STASH_RETRY_SECONDS = 2.0
STASH_GONE_SECONDS = 900.0
# While the queue file refuses writes (locked, disk full), try again this often.
STORAGE_RETRY_SECONDS = 5.0
STORAGE_GIVE_UP_SECONDS = 86400.0


class _Heartbeat(threading.Thread):
    """A figure for Queue Status (when the drainer last beat); liveness is the lock's."""

    def __init__(self, data_dir: str):
        super().__init__(name="drainer-heartbeat", daemon=True)
        self.data_dir = data_dir
        self.stop_event = threading.Event()

    def run(self) -> None:
        try:
            conn = inbox.connect(self.data_dir)
        except Exception:  # noqa: BLE001 - a figure only; the drain goes on without it
            return
        try:
            while not self.stop_event.is_set():
                try:
                    inbox.beat(conn, os.getpid(), time.time())
                except Exception:  # noqa: BLE001 - locked or full: the next beat tries again
                    pass
                self.stop_event.wait(HEARTBEAT_SECONDS)
            try:
                inbox.clear_beat(conn)
            except Exception:  # noqa: BLE001
                pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(5)


class _FileIdentity:
    """Notices the queue file being removed or replaced under a running drainer.

    The drainer's connections keep the old file open; new hooks write the new one. A
    drainer that kept going would leave every new job behind, so it stops and a fresh
    drainer takes over the file now at the path.
    """

    def __init__(self, data_dir: str):
        self.path = inbox.db_path(data_dir)
        self.first = self._now()

    def _now(self) -> Optional[tuple]:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_dev, stat.st_ino)

    def changed(self) -> Optional[str]:
        return "replaced" if self._now() != self.first else None


def _take_lock(lock) -> bool:
    deadline = time.monotonic() + SPARE_WAIT_SECONDS
    while not lock.try_acquire():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _work_waiting(data_dir: str) -> bool:
    """Anything queued, scheduled or spooled in the file at the path now (fresh connection)."""
    from sync_queue import spool
    from worker.database import open_db
    from sync_queue.store import QueueStore

    if spool.first_missed(data_dir) is not None:
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


class _Session:
    """One hold of the drain lock: settings, then workers until idle, paused or stopped."""

    def __init__(self, launch: Dict[str, Any], log: logging.Logger):
        from worker.composition_root import App  # deliberately lazy: only the lock holder pays for the clients

        self.launch = launch
        self.log = log
        self.data_dir = launch["data_dir"]
        self.app = App(launch["server_connection"], self.data_dir)
        self.identity = _FileIdentity(self.data_dir)

    def close(self) -> None:
        self.app.close()

    def _settings(self):
        """The settings, read from Stash; while Stash cannot be reached, wait and ask again."""
        from errors.kinds import ErrorKind, SyncError

        give_up_at = time.monotonic() + STASH_GONE_SECONDS
        level = logging.WARNING
        while True:
            try:
                return self.app.settings
            except SyncError as exc:
                if exc.kind not in (ErrorKind.STASH, ErrorKind.TRANSIENT) or time.monotonic() > give_up_at:
                    raise
                self.log.log(level, "%s; asking again every %.0f s", exc, STASH_RETRY_SECONDS)
                level = logging.DEBUG  # one warning per outage, not one every two seconds
                time.sleep(STASH_RETRY_SECONDS)

    def _paused(self, message: str) -> bool:
        """Wait while the settings are wrong; True to try again, False to leave (nothing to do)."""
        from errors.kinds import SyncError

        self.log.error("paused: %s", message)
        retry_at = time.monotonic() + CONFIG_RETRY_SECONDS
        while time.monotonic() < retry_at:
            time.sleep(PAUSE_POLL_SECONDS)
            if self.identity.changed() or not _work_waiting(self.data_dir):
                return False
            try:
                fresh = self.app.reread_settings()
            except SyncError as exc:
                self.log.debug("settings still unusable: %s", exc)
                continue
            if fresh is not None:
                self._use(fresh)
                self.log.info("settings changed in Stash; trying again")
                self.app.breaker(fresh).reset()
                self.app.store.clear_config_error()  # noted again at once if still wrong
                return True
        return True

    def _use(self, settings) -> None:
        stashlog.add_secret(settings.plex_token)
        reconfigure(settings.debug_logging, settings.obfuscate_paths)

    def _recent_config_error(self, settings_hash: str) -> str:
        info = self.app.store.last_config_error() or {}
        if info.get("settings_hash") != settings_hash:
            return ""
        if time.time() - float(info.get("at") or 0) > CONFIG_RETRY_SECONDS:
            return ""
        return str(info.get("message") or "")

    def run(self) -> str:
        """Drain; returns why it ended: idle, replaced, stash_gone, storage or error."""
        from sync_queue import storage
        from errors.kinds import SyncError
        from worker.catch_up import catch_up_missed

        stashlog.add_secret((self.launch["server_connection"].get("SessionCookie") or {}).get("Value"))
        storage_since = None
        checked_pause = False
        try:
            self._use(self._settings())
            while True:
                try:
                    if not checked_pause:  # a pause recorded by an earlier drainer, same settings
                        quiet = self._recent_config_error(self.app.settings.fingerprint())
                        checked_pause = True
                        if quiet and not self._paused(quiet):
                            return "idle"
                    self.app.store.resume_unacked()
                    worker = self.app.make_worker(
                        idle_grace=IDLE_GRACE_SECONDS, retry_horizon=float("inf"), live_settings=True,
                        should_stop=self.identity.changed, on_beat=lambda: catch_up_missed(self.app))
                except Exception as exc:  # noqa: BLE001 - storage trouble is waited out below
                    worker, error = None, exc
                else:
                    worker.start()
                    worker.join()
                    error = worker.error
                    summary = worker.summary()
                    self.log.info("drain finished: %s", summary)
                    reason = summary.get("stopped_reason")
                    if reason == "config":
                        if not self._paused(str(summary.get("config_error"))):
                            return "idle"
                        continue
                    if reason in ("replaced", "stash_gone"):
                        return reason
                    if reason != "error":
                        self.app.store.clear_config_error()
                        return "idle"
                kind = storage.kind_of(error) if error is not None else None
                if kind == "damaged":
                    return "replaced"  # a fresh drainer's open moves the damaged file aside
                if kind is None and worker is None and isinstance(error, SyncError):
                    raise error  # a settings or Stash problem before draining: said below
                if kind is None:
                    self.log.error("drainer stopped by an unexpected error: %s: %s", type(error).__name__, error)
                    return "error"
                storage_since = storage_since or time.monotonic()
                if time.monotonic() - storage_since > STORAGE_GIVE_UP_SECONDS:
                    return "storage"
                self.log.warning("%s; trying again in %.0f s", storage.plain_words(error, self.data_dir),
                                 STORAGE_RETRY_SECONDS)
                time.sleep(STORAGE_RETRY_SECONDS)
                if self.identity.changed():
                    return "replaced"
        except SyncError as exc:
            self.log.error("drainer stopped: %s", exc)
            return "error"


def drain(launch: Dict[str, Any], log: logging.Logger) -> int:
    try:
        from worker.lock import DrainLock  # filelock only
    except ImportError:
        log.error("%s", _dependency_problem(launch))
        return 1

    data_dir = launch["data_dir"]
    lock = DrainLock(data_dir)
    if not _take_lock(lock):
        log.debug("another drainer holds the lock; exiting")
        return 0
    code = 0
    while True:
        log.info("drainer started: holding the drain lock")
        heartbeat = _Heartbeat(data_dir)
        heartbeat.start()
        # Deliberately after the lock: a burst of hooks may start spare drainers, and each
        # must exit before paying for plexapi, stashapi and pydantic (about a second of CPU).
        problem = _dependency_problem(launch)
        reason = "error"
        if problem:
            log.error("%s", problem)
        else:
            session = None
            try:
                session = _Session(launch, log)
                reason = session.run()
            except Exception as exc:  # noqa: BLE001 - a detached process has nobody else to tell
                log.error("drainer crashed: %s: %s", type(exc).__name__, exc)
                log.debug("traceback", exc_info=True)
                from sync_queue import storage

                if storage.kind_of(exc) == "damaged":
                    reason = "replaced"
            finally:
                if session is not None:
                    session.close()
        heartbeat.stop()
        log.info("drainer exiting: releasing the drain lock (%s)", reason)
        lock.release()
        code = 1 if reason == "error" else 0
        if reason in ("error", "stash_gone", "storage") or problem:
            return code  # the next hook or task starts over; retrying at once would spin
        if not _work_waiting(data_dir):
            return code
        if reason == "replaced":
            spawn.start_drainer(launch)  # a fresh process, with no connection to the old file
            return code
        if not lock.try_acquire():
            return code  # whoever took it (a new drainer, a task) sees the same work


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
