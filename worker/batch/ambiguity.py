"""Ambiguity: one of a scene's files held by two items of the same Plex library.

A scene reaches every item that holds one of its files (a 1080p and a 480p copy, or the
same folder in two libraries); only one file held by two different items of one
library leaves no way to tell which item is the scene. That is an AmbiguousMatch
unless the user allowed a guess (allow_ambiguous_match: the lowest ratingKey).
"""

from __future__ import annotations

from typing import Dict, List, Optional

from errors.kinds import AmbiguousMatch
from plex.items import item_files
from validation.pathmap import path_key
from validation.privacy import show_path
from worker.batch.scene import BatchScene, Match


def choose_targets(scene: BatchScene, items: Dict[int, object], settings) -> Optional[Exception]:
    """One file held by two items of one library; otherwise None, and the targets set."""
    chosen: List[Match] = []
    for plex_path in scene.paths:
        by_section: Dict[str, List[str]] = {}
        for sid, key in scene.targets:
            if any(path_key(f) == path_key(plex_path) for f in item_files(items[int(key)])):
                by_section.setdefault(sid, []).append(key)
        for sid, keys in sorted(by_section.items()):
            keys = sorted(set(keys), key=int)
            if len(keys) > 1 and not settings.allow_ambiguous_match:
                return _ambiguous(plex_path, sid, keys, items)
            if (sid, keys[0]) not in chosen:
                chosen.append((sid, keys[0]))  # lowest ratingKey when guessing is allowed
    scene.targets = chosen
    return None


def _ambiguous(plex_path: str, sid: str, keys: List[str], items: Dict[int, object]) -> AmbiguousMatch:
    names = [f'section {sid} item {k} "{items[int(k)].title}"' for k in keys]
    library = items[int(keys[0])].librarySectionTitle or sid
    return AmbiguousMatch(show_path(plex_path), names, hint=(
        f'{len(keys)} items of library "{library}" hold this one file: remove the '
        f"duplicate in Plex, or turn on allow_ambiguous_match to sync the item with "
        f"the lowest ratingKey"))
