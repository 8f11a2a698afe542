"""Which scenes go to Plex: only_organized, required_tags, excluded_scene_tags.

A pure rule on the scene as Stash returns it (our fragment's `organized` and `tags`),
so the drainer and any task that wants to say what the filter would do give the same
answer. A scene the filter leaves out is left as it is in Plex: nothing is written,
unlocked or cleared, whatever Stash2Plex wrote to it before.

Tag names compare trimmed and case-insensitively, as excluded_tags does; a tag's
parents do not count (a scene tagged "Child" does not have "Parent"). When several
rules leave a scene out, the reason given is the first of: an excluded tag, not
organized, no required tag.

Not to be confused with excluded_tags, which keeps single tags out of Plex's genres
and lets the scene itself sync.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

NOT_ORGANIZED = "not_organized"
EXCLUDED_TAG = "excluded_tag"
NO_REQUIRED_TAG = "no_required_tag"


@dataclass(frozen=True)
class Skip:
    """Why the filter leaves a scene out: `reason` to count, `detail` to log."""

    reason: str
    detail: str


def _tag_names(scene: Dict[str, Any]) -> List[str]:
    """The scene's tag names as Stash spells them (entries without a name are skipped)."""
    tags = scene.get("tags") or []
    return [t["name"].strip() for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)]


def skip_reason(scene: Dict[str, Any], settings) -> Optional[Skip]:
    """Why the filter leaves this scene out of Plex, or None when it goes to Plex."""
    names = _tag_names(scene)
    excluded = [n for n in names if n.casefold() in settings.excluded_scene_tag_names]
    if excluded:
        return Skip(EXCLUDED_TAG, f"tagged '{excluded[0]}' (excluded_scene_tags)")
    if settings.only_organized and scene.get("organized") is not True:
        return Skip(NOT_ORGANIZED, "not marked organized (only_organized)")
    required = settings.required_tag_names
    if required and not any(n.casefold() in required for n in names):
        return Skip(NO_REQUIRED_TAG, "has none of the tags in required_tags")
    return None


def is_active(settings) -> bool:
    """Whether the filter can leave any scene out."""
    return bool(settings.only_organized or settings.required_tag_names or settings.excluded_scene_tag_names)


def filter_key(settings) -> str:
    """A short hash of the filter settings alone, as parsed (order, case and spaces ignored).

    A scene left out under one key may pass under another: the drainer queues the
    scenes skipped under an older key again.
    """
    blob = json.dumps({
        "organized": bool(settings.only_organized),
        "required": sorted(settings.required_tag_names),
        "excluded": sorted(settings.excluded_scene_tag_names),
    }, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
