"""Folder scans: ask Plex to scan the folder of a file it does not have yet.

Plex may not have noticed a new file (no filesystem watching, a network share); when
scan_missing_folders is on, the folder of each missing file is asked for at most once
per not_found_base_seconds (the asks are remembered for a day in the meta table). A scan
request is a courtesy: if it fails, the scene still waits in the retry schedule.
"""

from __future__ import annotations

import logging
from typing import Callable, List

from sync_queue import db
from validation.pathmap import parent_folder, path_key
from validation.privacy import show_path

log = logging.getLogger("stash2plex.sync")

SCAN_META_KEY = "plex_folder_scans"  # folder key -> when we last asked Plex to scan it
SCAN_MEMORY_SECONDS = 86400.0


def scan_missing_folders(conn, settings, sections: Callable[[], list], clock: Callable[[], float],
                         paths: List[str]) -> None:
    """Ask Plex to scan each missing file's folder, once per folder per backoff window."""
    if not settings.scan_missing_folders:
        return
    now = clock()
    asked = db.get_meta(conn, SCAN_META_KEY) or {}
    asked = {k: v for k, v in asked.items() if now - v < SCAN_MEMORY_SECONDS}
    changed = False
    for plex_path in paths:
        folder = parent_folder(plex_path)
        key = path_key(folder)
        if now - asked.get(key, float("-inf")) < settings.not_found_base_seconds:
            continue
        for section in sections():
            if _holds(section, key) and _ask(section, folder):
                asked[key] = now
                changed = True
                break
    if changed:
        db.set_meta(conn, SCAN_META_KEY, asked)


def _holds(section, key: str) -> bool:
    """The folder lies in one of the library's locations."""
    return any(key == path_key(loc) or key.startswith(path_key(loc).rstrip("/") + "/")
               for loc in section.locations)


def _ask(section, folder: str) -> bool:
    try:
        section.update(path=folder)
    except Exception as exc:  # a scan request is a courtesy; the job still waits
        log.warning("could not ask Plex to scan %s: %s", show_path(folder), exc)
        return False
    log.info("asked Plex to scan %s", show_path(folder))
    return True
