"""One hold of the drain lock in the background drainer: settings, then workers until done.

A session reads the settings (waiting while Stash cannot be reached), pauses while they
are wrong, runs one SyncWorker after another and waits out a queue file that refuses
writes. It ends with a reason the drainer acts on: idle, replaced, stash_gone, storage
or error.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, Optional

from plugin import log_secrets
from plugin.file_identity import FileIdentity
from plugin.logsetup import reconfigure

# While a settings problem pauses draining: look for a change this often, and retry
# with unchanged settings this often (a Plex library may be created, a token restored).
PAUSE_POLL_SECONDS = 3.0
CONFIG_RETRY_SECONDS = 60.0
# While Stash cannot be reached at start-up, ask again this often, up to STASH_GONE_SECONDS.
STASH_RETRY_SECONDS = 2.0
STASH_GONE_SECONDS = 900.0
# While the queue file refuses writes (locked, disk full), try again this often.
STORAGE_RETRY_SECONDS = 5.0
STORAGE_GIVE_UP_SECONDS = 86400.0
AGAIN = "again"  # a worker ended on a settings problem that is fixed now: start another


class DrainSession:
    """One hold of the drain lock: settings, then workers until idle, paused or stopped."""

    def __init__(self, launch: Dict[str, Any], log: logging.Logger, work_waiting: Callable[[str], bool]):
        from worker.composition_root import App  # deliberately lazy: only the lock holder pays for the clients

        self.launch = launch
        self.log = log
        self.data_dir = launch["data_dir"]
        self.work_waiting = work_waiting  # anything queued in the file at the path now
        self.app = App(launch["server_connection"], self.data_dir)
        self.identity = FileIdentity(self.data_dir)
        self.checked_pause = False
        self.storage_since: Optional[float] = None
        self.started = time.monotonic()

    def close(self) -> None:
        self.app.close()

    def run(self) -> str:
        """Drain; returns why it ended: idle, replaced, stash_gone, storage or error."""
        from errors.kinds import SyncError

        log_secrets.hide_connection_secrets(self.launch["server_connection"])
        try:
            settings = self._readable_settings()
            if settings is None:
                return "idle"
            self._use(settings)
            return self._drain_until_done()
        except SyncError as exc:
            self.log.error("drainer stopped: %s", exc)
            return "error"

    def _drain_until_done(self) -> str:
        """Workers one after another until one ends for good; storage trouble is waited out."""
        while True:
            try:
                if not self._earlier_pause_over():
                    return "idle"
                worker = self._make_worker()
            except Exception as exc:  # noqa: BLE001 - storage trouble is waited out below
                worker, error = None, exc
            else:
                ending = self._run_worker(worker)
                if ending == AGAIN:
                    continue
                if ending == "idle":
                    self._import_activity(at_end=True)
                if ending != "error":
                    return ending
                error = worker.error
            ending = self._after_error(error, before_draining=worker is None)
            if ending is not None:
                return ending

    def _earlier_pause_over(self) -> bool:
        """A pause recorded by an earlier drainer (same settings) is sat out; False to leave."""
        if self.checked_pause:
            return True
        quiet = self._recent_config_error(self.app.settings.fingerprint())
        self.checked_pause = True
        return not quiet or self._paused(quiet)

    def _make_worker(self):
        from sync_queue.inbox import InboxWatch
        from worker.catch_up import catch_up_missed

        self.app.store.resume_unacked()
        def beat() -> None:
            catch_up_missed(self.app)
            self._import_activity(at_end=False)

        # Lingers idle for drainer_linger_seconds (a burst of saves pays one cold start), and
        # a hook's drop wakes it at once: poll_interval only paces retries.
        return self.app.make_worker(
            idle_grace=self.app.settings.drainer_linger_seconds, retry_horizon=float("inf"),
            live_settings=True, should_stop=self.identity.changed, on_beat=beat,
            wake=InboxWatch(self.app.store.conn, self.data_dir).arrived)

    def _import_activity(self, at_end: bool) -> None:
        """Plex activity, when due: after the queue went idle, or during a drain longer than the period.

        Saves come first: a hook-started drain syncs its scenes, then imports.
        """
        from worker.activity_import import import_if_due

        settings = self.app.settings
        if not settings.import_plex_activity:
            return
        if at_end or time.monotonic() - self.started >= settings.activity_minutes * 60:
            import_if_due(self.app)

    def _run_worker(self, worker) -> str:
        """Run one worker to its end: why the session ends, AGAIN, or 'error' (worker.error says)."""
        worker.start()
        worker.join()
        summary = worker.summary()
        self.log.info("drain finished: %s", summary)
        reason = summary.get("stopped_reason")
        if reason == "config":
            return AGAIN if self._paused(str(summary.get("config_error"))) else "idle"
        if reason in ("replaced", "stash_gone", "error"):
            return reason
        self.app.store.clear_config_error()
        return "idle"

    def _after_error(self, error: Optional[BaseException], before_draining: bool) -> Optional[str]:
        """Why the session ends after `error`, or None to try again (storage trouble, waited out)."""
        from errors.kinds import SyncError
        from sync_queue import storage

        kind = storage.kind_of(error) if error is not None else None
        if kind == "damaged":
            return "replaced"  # a fresh drainer's open moves the damaged file aside
        if kind is None and before_draining and isinstance(error, SyncError):
            raise error  # a settings or Stash problem before draining: said in run()
        if kind is None:
            self.log.error("drainer stopped by an unexpected error: %s: %s", type(error).__name__, error)
            return "error"
        self.storage_since = self.storage_since or time.monotonic()
        if time.monotonic() - self.storage_since > STORAGE_GIVE_UP_SECONDS:
            return "storage"
        self.log.warning("%s; trying again in %.0f s", storage.plain_words(error, self.data_dir),
                         STORAGE_RETRY_SECONDS)
        time.sleep(STORAGE_RETRY_SECONDS)
        return "replaced" if self.identity.changed() else None

    def _readable_settings(self):
        """The settings; one that cannot be read (a bad path_map or title_template) pauses
        draining like any settings problem, noted for Queue Status. None: nothing waits any more."""
        from errors.kinds import ErrorKind, SyncError

        while True:
            try:
                return self._settings()
            except SyncError as exc:
                if exc.kind is not ErrorKind.CONFIG:
                    raise
                self.app.store.note_config_error(str(exc), time.time())
                if not self._paused(str(exc)):
                    return None

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
            if self.identity.changed() or not self.work_waiting(self.data_dir):
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
        log_secrets.hide_setting_secrets(settings)
        reconfigure(settings.debug_logging, settings.obfuscate_paths)

    def _recent_config_error(self, settings_hash: str) -> str:
        info = self.app.store.last_config_error() or {}
        if info.get("settings_hash") != settings_hash:
            return ""
        if time.time() - float(info.get("at") or 0) > CONFIG_RETRY_SECONDS:
            return ""
        return str(info.get("message") or "")
