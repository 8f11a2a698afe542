"""The composition root: builds stores, clients and the worker for one plugin run.

Tasks and the drainer both start here. Everything is built lazily, so Queue Status
works with Stash and Plex both unreachable, and nothing opens a connection it does
not need.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import time
from typing import Any, Callable, Dict, List, Optional

from mapping.scene_filter import filter_key
from plex import client as plex_client
from plex.index import PathIndex
from stash.client import StashReader
from sync_queue import inbox, storage
from sync_queue.db import open_read_only
from sync_queue.dead_letters import DeadLetters
from sync_queue.filter_skips import FilterSkips
from sync_queue.store import QueueStore
from sync_queue.sync_state import SyncState
from validation.settings import PLUGIN_ID, Settings, load_settings
from worker.breaker import CircuitBreaker
from worker.database import open_db
from worker.identity import check_server
from worker.lock import DrainLock
from worker.batch.syncer import SceneSyncer
from worker.loop import SyncWorker

log = logging.getLogger("stash2plex")


class App:
    """One plugin run's collaborators, built on first use."""

    def __init__(
        self,
        server_connection: Dict[str, Any],
        data_dir: str,
        clock: Callable[[], float] = time.time,
        settings: Optional[Settings] = None,
    ):
        self.server_connection = server_connection
        self.data_dir = data_dir
        self.clock = clock
        self._settings = settings
        self.settings_warnings: List[str] = []
        self._conn = None
        self._stash: Optional[StashReader] = None
        self._plex = None
        self._sections = None
        self.storage_problem: Optional[str] = None  # set when the data folder is read-only
        os.makedirs(data_dir, exist_ok=True)

    # -- storage (no network) -------------------------------------------------
    @property
    def conn(self):
        if self._conn is None:
            try:
                self._conn = open_db(self.data_dir)
                self.storage_problem = storage.unwritable(self.data_dir)
            except (sqlite3.Error, OSError) as exc:
                problem = storage.plain_words(exc, self.data_dir)
                if storage.kind_of(exc, self.data_dir) != "read_only":
                    raise
                # Queue Status still reports what it can read; a write says the same words.
                self._conn = open_read_only(self.data_dir)
                self.storage_problem = problem
                log.warning("%s", problem)
        return self._conn

    @property
    def store(self) -> QueueStore:
        return QueueStore(self.conn, clock=self.clock)

    @property
    def dead_letters(self) -> DeadLetters:
        return DeadLetters(self.conn)

    @property
    def sync_state(self) -> SyncState:
        return SyncState(self.conn)

    @property
    def index(self) -> PathIndex:
        return PathIndex(self.conn)

    def breaker(self, settings: Optional[Settings] = None) -> CircuitBreaker:
        return CircuitBreaker(self.conn, settings or self.settings_or_defaults(), self.clock)

    def lock(self) -> DrainLock:
        return DrainLock(self.data_dir)

    # -- Stash ----------------------------------------------------------------
    @property
    def stash(self) -> StashReader:
        if self._stash is None:
            self._stash = StashReader.from_server_connection(self.server_connection)
        return self._stash

    @property
    def settings(self) -> Settings:
        """Settings as saved in Stash; bad optional values fall back with a warning."""
        if self._settings is None:
            self._settings = self._read_settings()
        return self._settings

    def _read_settings(self) -> Settings:
        raw = self.stash.plugin_settings(PLUGIN_ID)
        settings, warnings = load_settings(raw)  # a path_map it cannot read raises ConfigError
        for warning in warnings:
            log.warning(warning)
        self.settings_warnings = warnings
        return settings

    def reread_settings(self) -> Optional[Settings]:
        """Ask Stash for the settings again; the new ones when they changed, else None.

        A long-running drainer calls this every few seconds (one small query), so a fix
        saved on the settings page reaches queued work without a button. A change to
        how Plex is reached drops the connection, so the next request uses it.
        """
        fresh = self._read_settings()
        old = self._settings
        if old is not None and fresh.fingerprint() == old.fingerprint():
            return None
        self._settings = fresh
        if old is None or plex_client.connection_changed(old, fresh):
            self._plex = None
            self._sections = None
        return fresh

    def settings_or_defaults(self) -> Settings:
        """For paths that must work while Stash is unreachable (status, breaker reads)."""
        if self._settings is not None:
            return self._settings
        try:
            return self.settings
        except Exception as exc:  # noqa: BLE001 - any failure here just means "defaults"
            log.debug("using default settings: %s", exc)
            return Settings()

    # -- Plex -----------------------------------------------------------------
    def plex(self):
        """A connected PlexServer; ConfigError names the fix for a bad URL or token."""
        if self._plex is None:
            settings = self.settings
            settings.require_plex()
            server = plex_client.connect(settings, self.conn)
            check_server(self.conn, server, self.clock)  # another server: drop the old one's keys
            self._plex = server
        return self._plex

    def sections(self):
        if self._sections is None:
            self._sections = plex_client.resolve_sections(self.plex(), self.settings)
        return self._sections

    # -- the worker -------------------------------------------------------------
    def syncer(self) -> SceneSyncer:
        breaker = self.breaker()
        settings = self.settings
        return SceneSyncer(settings, self.stash, self.plex, self.conn, clock=self.clock,
                           plex_settled=breaker.settled, edit_threads=settings.plex_concurrency)

    def _refresh_for_worker(self):
        fresh = self.reread_settings()
        return None if fresh is None else (fresh, self.syncer().sync_batch)

    def _settings_changed(self, old: Settings, new: Settings) -> None:
        if plex_client.connection_changed(old, new):
            # A fixed URL or token is tried at once, not after the open circuit's wait.
            self.breaker(new).reset()
        self.requeue_filtered(new)

    def requeue_filtered(self, settings: Settings) -> int:
        """Scenes the filter left out under other filter settings may pass now: queue them again."""
        try:
            ids = FilterSkips(self.conn).judged_under_other(filter_key(settings))
            if ids:
                inbox.enqueue(self.data_dir, ids, reason="scene_filter_changed", now=self.clock())
                log.info("The scene filter changed: %d scenes it left out are queued again", len(ids))
        except (sqlite3.Error, OSError) as exc:  # they wait for the next change, or Sync All
            log.warning("could not queue the scenes the scene filter left out: %s", exc)
            return 0
        return len(ids)

    def make_worker(
        self, idle_grace: Optional[float], retry_horizon: Optional[float] = None, on_progress=None, on_beat=None,
        live_settings: bool = False, should_stop=None, wake=None,
    ) -> SyncWorker:
        settings = self.settings
        self.requeue_filtered(settings)
        return SyncWorker(
            store=self.store,
            breaker=self.breaker(settings),
            settings=settings,
            sync_batch=self.syncer().sync_batch,
            state_lookup=self.sync_state.get_many,
            clock=self.clock,
            rng=random.Random(),
            idle_grace=idle_grace,
            retry_horizon=retry_horizon,
            on_progress=on_progress,
            on_beat=on_beat,
            settings_hash=settings.fingerprint(),
            refresh=self._refresh_for_worker if live_settings else None,
            on_settings_changed=self._settings_changed,
            should_stop=should_stop,
            wake=wake,
            read_ahead=True,
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
