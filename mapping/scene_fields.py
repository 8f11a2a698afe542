"""What Plex should hold for one Stash scene: cleaned, capped and validated.

`build_metadata` applies the mapping (README, "What Plex receives"); `PlexMetadata`
cleans every text and rejects what cannot be sent, naming the field and the reason.
Stash is the source of truth, so an empty Stash value means "clear it in Plex", except
the title, which falls back to the file name because Plex would otherwise show the raw
file name with its extension. Fields turned off in the settings are left out of
`managed` and never touched in Plex.

Caps (characters): titles, studio names and list entries 255, the summary 4,000. Plex
receives edits as query parameters of a single PUT, and every non-ASCII character
costs up to nine bytes there, so an uncapped summary could push the request past
what the server and proxies in front of it accept.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from typing import Any, Dict, FrozenSet, List, Optional

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from errors.kinds import InvalidMetadata
from mapping.text import clean_text, dedupe

NAME_CAP = 255
SUMMARY_CAP = 4000
URL_CAP = 4096
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Bump when the mapping itself changes, so every scene is synced once more.
MAPPING_VERSION = 1

FIELDS = (
    "title",
    "summary",
    "originally_available_at",
    "studio",
    "actors",
    "genres",
    "collections",
    "user_rating",
    "poster",
    "background",
)


class PlexMetadata(BaseModel):
    """The desired Plex state of one scene; `managed` names the fields we own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    summary: str = ""
    originally_available_at: Optional[date] = None
    studio: str = ""
    actors: List[str] = []
    genres: List[str] = []
    collections: List[str] = []
    user_rating: Optional[float] = None
    poster_url: Optional[str] = None
    background_url: Optional[str] = None
    managed: FrozenSet[str] = frozenset(FIELDS)

    @field_validator("title", "studio", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        return clean_text(_as_text(value), NAME_CAP, single_line=True)

    @field_validator("title")
    @classmethod
    def _title_present(cls, value: str) -> str:
        if not value:
            raise ValueError("is empty after cleaning and the scene has no file name to use")
        return value

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, value: Any) -> str:
        return clean_text(_as_text(value), SUMMARY_CAP)

    @field_validator("originally_available_at", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Optional[date]:
        if value in (None, ""):
            return None
        if isinstance(value, date):
            return value
        if not isinstance(value, str):
            raise ValueError(f"must be a YYYY-MM-DD string, got {type(value).__name__}")
        text = value.strip()
        try:
            if not _ISO_DATE.fullmatch(text):
                raise ValueError
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not a calendar date in the form YYYY-MM-DD") from None

    @field_validator("actors", "genres", "collections", mode="before")
    @classmethod
    def _names(cls, value: Any, info: ValidationInfo) -> List[str]:
        if value is None:
            return []
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"must be a list of names, got {type(value).__name__}")
        names = []
        for i, name in enumerate(value):
            if not isinstance(name, str):
                raise ValueError(f"entry {i} must be a name, got {type(name).__name__}")
            names.append(clean_text(name, NAME_CAP, single_line=True))
        limit = (info.context or {}).get("max_list_items", 100)
        return dedupe(names, limit)

    @field_validator("user_rating", mode="before")
    @classmethod
    def _rating(cls, value: Any) -> Optional[float]:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a number from 0 to 10, got {value!r}")
        if not 0 <= value <= 10:
            raise ValueError(f"must be from 0 to 10, got {value!r}")
        return round(float(value), 1)

    @field_validator("poster_url", "background_url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> Optional[str]:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {str(value)[:80]!r}")
        if len(value) > URL_CAP:
            raise ValueError(f"is longer than {URL_CAP} characters")
        return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {type(value).__name__}")
    return value


def managed_fields(settings) -> FrozenSet[str]:
    """The fields this configuration owns; each skip_* setting takes one out."""
    skipped = {
        "title": settings.skip_title,
        "summary": settings.skip_summary,
        "originally_available_at": settings.skip_date,
        "studio": settings.skip_studio,
        "actors": settings.skip_performers,
        "genres": settings.skip_tags,
        "collections": settings.skip_collections,
        "user_rating": settings.skip_rating,
        "poster": settings.skip_poster,
        "background": not settings.sync_background,
    }
    return frozenset(name for name, skip in skipped.items() if not skip)


def file_title(scene: Dict[str, Any]) -> str:
    """The first file's name without its last extension ('' when there is no file)."""
    for f in scene.get("files") or []:
        if not isinstance(f, dict):
            continue
        name = f.get("basename") or _basename(f.get("path") or "")
        if name:
            dot = name.rfind(".")
            return name[:dot] if dot > 0 else name
    return ""


def _basename(path: str) -> str:
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _names_of(items: Any, field: str) -> List[Any]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidMetadata(f"{field}: Stash sent {type(items).__name__}, expected a list")
    names = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidMetadata(f"{field}: an entry is {type(item).__name__}, expected an object")
        names.append(item.get("name"))
    return names


def build_metadata(scene: Dict[str, Any], settings) -> PlexMetadata:
    """Map a Stash scene (our fragment's shape) onto the desired Plex metadata.

    Raises InvalidMetadata naming the field and the reason; never guesses a value.
    """
    if not isinstance(scene, dict) or "id" not in scene:
        raise InvalidMetadata("scene: Stash returned something that is not a scene")
    managed = managed_fields(settings)
    studio = scene.get("studio")
    if studio is not None and not isinstance(studio, dict):
        raise InvalidMetadata(f"studio: Stash sent {type(studio).__name__}, expected an object")
    studio_name = (studio or {}).get("name") or ""

    title = scene.get("title")
    if title is None or (isinstance(title, str) and not clean_text(title, NAME_CAP, True)):
        title = file_title(scene)

    excluded = settings.excluded_tag_names
    tags = [n for n in _names_of(scene.get("tags"), "tags")
            if not (isinstance(n, str) and n.strip().casefold() in excluded)]

    groups = scene.get("groups") or []
    if not isinstance(groups, list):
        raise InvalidMetadata(f"groups: Stash sent {type(groups).__name__}, expected a list")
    collections = _names_of([g.get("group") if isinstance(g, dict) else g for g in groups], "groups")
    if studio_name and not settings.skip_studio_collection:
        collections.append(studio_name)

    rating100 = scene.get("rating100")
    if rating100 is not None and (isinstance(rating100, bool) or not isinstance(rating100, (int, float))):
        raise InvalidMetadata(f"rating100: must be a number from 0 to 100, got {rating100!r}")
    paths = scene.get("paths")
    screenshot = paths.get("screenshot") if isinstance(paths, dict) else None

    data = {
        "title": title,
        "summary": scene.get("details"),
        "originally_available_at": scene.get("date"),
        "studio": studio_name,
        "actors": _names_of(scene.get("performers"), "performers"),
        "genres": tags,
        "collections": collections,
        "user_rating": None if rating100 is None else rating100 / 10,
        "poster_url": screenshot if "poster" in managed else None,
        "background_url": screenshot if "background" in managed else None,
        "managed": managed,
    }
    # A field we do not manage is never validated: a bad date must not block a scene
    # whose dates are not synced.
    defaults = {"summary": "", "originally_available_at": None, "studio": "", "actors": [],
                "genres": [], "collections": [], "user_rating": None}
    for name, empty in defaults.items():
        if name not in managed:
            data[name] = empty
    if "title" not in managed:
        data["title"] = file_title(scene) or f"scene {scene.get('id')}"
    try:
        return PlexMetadata.model_validate(data, context={"max_list_items": settings.max_list_items})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "scene"
        reason = err["msg"].replace("Value error, ", "")
        raise InvalidMetadata(f"scene {scene.get('id')}: {_stash_name(field)} {reason}") from None


def _stash_name(field: str) -> str:
    """Name the field as the user knows it in Stash."""
    return {
        "summary": "details",
        "originally_available_at": "date",
        "actors": "performers",
        "genres": "tags",
        "collections": "groups",
        "user_rating": "rating",
        "poster_url": "screenshot URL",
        "background_url": "screenshot URL",
    }.get(field, field)


def fingerprint(meta: PlexMetadata, settings) -> str:
    """A stable hash of everything a sync would send; equal means nothing to do.

    It covers the desired values, which fields are managed, the image source URL (the
    screenshot URL carries Stash's timestamp, so a new screenshot changes it) and the
    settings that change what is written.
    """
    payload = {
        "v": MAPPING_VERSION,
        "meta": meta.model_dump(mode="json"),
        "keep_plex_edits": settings.keep_plex_edits,
    }
    payload["meta"]["managed"] = sorted(meta.managed)
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()
