"""Live settings: a running worker picks up settings saved in Stash within seconds.

Every SETTINGS_REFRESH_SECONDS the worker asks (one small GraphQL query, through the
composition root's `refresh`) whether the saved settings changed, so a fix saved on the
settings page reaches queued work without a new drainer. Settings that cannot be used
pause draining (their ConfigError is raised to the loop); any other failure to ask
keeps the current settings.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, List, Mapping, Optional, Tuple

from errors.kinds import ErrorKind, SyncError

log = logging.getLogger(__name__)

SyncBatch = Callable[[List[int]], Mapping[int, object]]
# Returns (settings, sync_batch) when the saved settings changed, None when they did not.
Refresh = Callable[[], Optional[Tuple[Any, SyncBatch]]]

# How often a running worker asks Stash whether its settings were changed (one small
# GraphQL query): a fix saved on the settings page reaches queued work within seconds.
SETTINGS_REFRESH_SECONDS = 3.0


class LiveSettings:
    def __init__(self, refresh: Optional[Refresh], on_changed: Optional[Callable[[Any, Any], None]], now: float):
        self.refresh = refresh
        self.on_changed = on_changed
        self.refreshed_at = now

    def poll(self, now: float) -> Optional[Tuple[Any, SyncBatch]]:
        """(settings, sync_batch) when the saved settings changed since the last look.

        None when they did not, when it is not time to look, or when Stash could not
        say; raises the SyncError of settings that cannot be used (kind CONFIG).
        """
        if self.refresh is None or now - self.refreshed_at < SETTINGS_REFRESH_SECONDS:
            return None
        self.refreshed_at = now
        try:
            return self.refresh()
        except SyncError as exc:
            if exc.kind is not ErrorKind.CONFIG:
                log.debug("could not re-read the settings (%s); keeping the current ones", exc)
                return None
            raise

    def changed(self, old: Any, new: Any) -> None:
        """The worker now uses `new`: say so, and let the composition root react (a new URL)."""
        log.info("settings changed in Stash; now using them")
        if self.on_changed is not None:
            self.on_changed(old, new)
