"""Where the emulated Stash and Plex see the library's files, and the rule joining them.

Kept apart from testbed/world.py so a benchmark's engine process can name the layout
without importing the emulators (they run in processes of their own there).
"""

from __future__ import annotations

STASH_PREFIX = "/data/stash"
PLEX_PREFIX = "/media/plex"
PATH_MAP = f"{STASH_PREFIX} => {PLEX_PREFIX}"
SECTION = "Scenes"
