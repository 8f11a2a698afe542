"""What Plex should hold for one Stash scene, and its fingerprint.

`build_metadata` reads every row of the field table (mapping/fields.py) from the
scene and hands the values to `PlexMetadata` (validation/scene_metadata.py), which
cleans and checks them. Stash is the source of truth, so an empty Stash value means
"clear it in Plex", except the title, which falls back to the file name because Plex
would otherwise show the raw file name with its extension. Fields turned off in the
settings are left out of `managed` and never touched in Plex.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, FrozenSet

from pydantic import ValidationError

from errors.kinds import InvalidMetadata
from mapping.fields import FIELDS
from validation.scene_metadata import PlexMetadata

# Bump when the mapping itself changes, so every scene is synced once more.
# 2: the director became a managed field (each item needs one edit to own and lock it).
MAPPING_VERSION = 2

# The model's attribute → the field as the user knows it in Stash.
_STASH_NAME = {row.model_attr: row.stash for row in FIELDS}


def managed_fields(settings) -> FrozenSet[str]:
    """The fields this configuration owns; each field's setting can take it out."""
    return frozenset(row.name for row in FIELDS if row.managed_by(settings))


def build_metadata(scene: Dict[str, Any], settings) -> PlexMetadata:
    """Map a Stash scene (our fragment's shape) onto the desired Plex metadata.

    Raises InvalidMetadata naming the field and the reason; never guesses a value.
    """
    if not isinstance(scene, dict) or "id" not in scene:
        raise InvalidMetadata("scene: Stash returned something that is not a scene")
    managed = managed_fields(settings)
    data: Dict[str, Any] = {"managed": managed}
    for row in FIELDS:
        value = row.read(scene, settings)
        # A field we do not manage is never validated: a bad date must not block a
        # scene whose dates are not synced.
        data[row.model_attr] = value if row.name in managed else row.unmanaged(scene)
    try:
        return PlexMetadata.model_validate(data, context={"max_list_items": settings.max_list_items})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "scene"
        reason = err["msg"].replace("Value error, ", "")
        raise InvalidMetadata(f"scene {scene.get('id')}: {_STASH_NAME.get(field, field)} {reason}") from None


def fingerprint(meta: PlexMetadata, settings) -> str:
    """A stable hash of everything a sync would send; equal means nothing to do.

    It covers the desired values, which fields are managed, the image source URL (the
    screenshot URL carries Stash's timestamp, so a new screenshot changes it) and the
    settings that change what is written. Settings that shape values (title_template,
    code_in_summary, excluded_tags) enter only through the values they produce: a new
    template re-syncs just the scenes whose title it changes.
    """
    payload = {
        "v": MAPPING_VERSION,
        "meta": meta.model_dump(mode="json"),
        "keep_plex_edits": settings.keep_plex_edits,
    }
    if settings.poster_style != "screenshot" and "poster" in meta.managed:
        # Only when not the default, so fingerprints stored before the setting existed
        # stay valid; switching styles changes it, and the poster is made again once.
        payload["poster_style"] = settings.poster_style
    payload["meta"]["managed"] = sorted(meta.managed)
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()
