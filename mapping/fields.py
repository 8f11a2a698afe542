"""Every Stash → Plex field rule, one row per field (README, "What reaches Plex").

A row names the field, where its value comes from in Stash, the Plex field it becomes
(the same name locks it), the setting that switches it, and its kind. Building the
desired state (mapping/scene_fields.py) and planning the edit (mapping/plan.py) both
read this table, and the kind decides the rest:

  kind    desired value       sent when Plex differs          an empty Stash value
  text    cleaned text        the field, locked               '' clears it
  date    YYYY-MM-DD          the field and `year`, locked    '' clears both
  tags    list of names       the whole list + removals       [] removes every entry
  rating  0 to 10             Plex's rate endpoint            None clears the rating
  image   screenshot URL      the bytes, then locked          nothing is uploaded

Stash is the source of truth; every managed field but the rating (Plex has no lock
for it) ends up locked, even when unchanged, because an agent refresh overwrites
unlocked fields; keep_plex_edits spares every kind but images (mapping/plan.py).
A field turned off by its setting is never read into Plex nor validated: the model
gets the row's `empty` value instead. Two settings shape a value rather than switch a
field: title_template renders the title (validation/title_template.py) and
code_in_summary puts the studio code before the details.

Adding a field: a row here (and its reader when Stash needs one), its attribute on
PlexMetadata (validation/scene_metadata.py) and CurrentItem, and its reading in
plex/items.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Dict, List, Tuple

from errors.kinds import InvalidMetadata
from validation.scene_metadata import NAME_CAP, SUMMARY_CAP
from validation.text import clean_text, dedupe

TEXT, DATE, TAGS, RATING, IMAGE = "text", "date", "tags", "rating", "image"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Scene = Dict[str, Any]


@dataclass(frozen=True)
class Field:
    """One field rule; `name` is ours (managed, written, CurrentItem, PlexMetadata)."""

    name: str
    read: Callable[[Scene, Any], Any]  # (scene, settings) → the value PlexMetadata validates
    stash: str  # the field as the user knows it in Stash, for error messages
    plex: str  # Plex's name in edits, locks and <Field name=…>; '' when Plex has no lock
    kind: str
    switch: str  # a skip_* setting turns the field off; any other setting turns it on
    empty: Any = None  # the value when unmanaged; a callable gets the scene
    ordered: bool = False  # tags: Plex shows them in the order sent (the cast)
    attr: str = ""  # the PlexMetadata attribute, when it is not `name`

    @property
    def model_attr(self) -> str:
        return self.attr or self.name

    def managed_by(self, settings) -> bool:
        on = bool(getattr(settings, self.switch))
        return not on if self.switch.startswith("skip_") else on

    def unmanaged(self, scene: Scene) -> Any:
        return self.empty(scene) if callable(self.empty) else self.empty


# -- reading Stash's scene (our fragment's shape) ---------------------------------------


def file_title(scene: Scene) -> str:
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


def _title(scene: Scene, settings) -> Any:
    """Stash's title (the file name when it is empty), through title_template when one is set."""
    title = _plain_title(scene)
    template = settings.title_template
    if settings.skip_title or not template or not isinstance(title, str):  # not text: the model names it
        return title
    return template.render(_template_values(scene, settings, title)) or title


def _plain_title(scene: Scene) -> Any:
    """Stash's title; the file name when it is empty (Plex would show the raw file name)."""
    title = scene.get("title")
    if title is None or (isinstance(title, str) and not clean_text(title, NAME_CAP, True)):
        return file_title(scene)
    return title


def _template_values(scene: Scene, settings, title: str) -> Dict[str, str]:
    """The text of each placeholder the template uses, whether or not its own field is synced."""
    readers: Dict[str, Callable[[], str]] = {
        "title": lambda: clean_text(title, NAME_CAP, single_line=True),
        "studio": lambda: clean_text(_studio(scene, settings), NAME_CAP, single_line=True),
        "date": lambda: _date_text(scene),
        "year": lambda: _date_text(scene)[:4],
        "code": lambda: _text(scene, "code"),
        "performers": lambda: ", ".join(dedupe(
            [clean_text(n, NAME_CAP, single_line=True) for n in _performers(scene, settings) if isinstance(n, str)],
            settings.max_list_items)),
        "director": lambda: _text(scene, "director"),
    }
    return {name: readers[name]() for name in settings.title_template.names}


def _text(scene: Scene, key: str) -> str:
    """A one-line text field of the scene, cleaned ('' when unset)."""
    value = scene.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidMetadata(f"{key}: Stash sent {type(value).__name__}, expected text")
    return clean_text(value, NAME_CAP, single_line=True)


def _date_text(scene: Scene) -> str:
    """The scene's date as YYYY-MM-DD for the title template ('' when unset)."""
    value = scene.get("date")
    if value in (None, ""):
        return ""
    text = value.strip() if isinstance(value, str) else ""
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise InvalidMetadata(f"date: {str(value)[:40]!r} is not a calendar date in the form YYYY-MM-DD "
                          f"(title_template uses it)")


def _placeholder_title(scene: Scene) -> str:
    """A title the model accepts when titles are not synced; it is never sent."""
    return file_title(scene) or f"scene {scene.get('id')}"


def _studio(scene: Scene, settings) -> str:
    studio = scene.get("studio")
    if studio is not None and not isinstance(studio, dict):
        raise InvalidMetadata(f"studio: Stash sent {type(studio).__name__}, expected an object")
    return (studio or {}).get("name") or ""


def _summary(scene: Scene, settings) -> Any:
    """Stash's details; with code_in_summary the studio code first: 'ABC-123 · details'."""
    details = scene.get("details")
    if not settings.code_in_summary or not (details is None or isinstance(details, str)):
        return details  # off, or not text (the model names that)
    code = _text(scene, "code")
    if not code:
        return details
    if not details or not clean_text(details, SUMMARY_CAP):
        return code
    return f"{code} · {details}"


def _director(scene: Scene, settings) -> List[str]:
    """Stash's director, one name, as Plex's director list ([] clears it)."""
    name = _text(scene, "director")
    return [name] if name else []


def _performers(scene: Scene, settings) -> List[Any]:
    return _names_of(scene.get("performers"), "performers")


def _tags(scene: Scene, settings) -> List[Any]:
    """Tag names minus the excluded ones (compared trimmed and case-insensitively)."""
    excluded = settings.excluded_tag_names
    return [n for n in _names_of(scene.get("tags"), "tags")
            if not (isinstance(n, str) and n.strip().casefold() in excluded)]


def _collections(scene: Scene, settings) -> List[Any]:
    """Each group's name, then the studio's unless skip_studio_collection."""
    groups = scene.get("groups") or []
    if not isinstance(groups, list):
        raise InvalidMetadata(f"groups: Stash sent {type(groups).__name__}, expected a list")
    names = _names_of([g.get("group") if isinstance(g, dict) else g for g in groups], "groups")
    studio = _studio(scene, settings)
    if studio and not settings.skip_studio_collection:
        names.append(studio)
    return names


def _rating(scene: Scene, settings) -> Any:
    """Stash's rating100 on Plex's 0-10 scale."""
    rating100 = scene.get("rating100")
    if rating100 is not None and (isinstance(rating100, bool) or not isinstance(rating100, (int, float))):
        raise InvalidMetadata(f"rating100: must be a number from 0 to 100, got {rating100!r}")
    return None if rating100 is None else rating100 / 10


def _screenshot(scene: Scene, settings) -> Any:
    paths = scene.get("paths")
    return paths.get("screenshot") if isinstance(paths, dict) else None


def _key(key: str) -> Callable[[Scene, Any], Any]:
    return lambda scene, settings: scene.get(key)


# -- the table --------------------------------------------------------------------------
# Its order is the order of the edit's parameters and of the values stored as written.

FIELDS: Tuple[Field, ...] = (
    Field("title", _title, "title", "title", TEXT, "skip_title", empty=_placeholder_title),
    Field("summary", _summary, "details", "summary", TEXT, "skip_summary", empty=""),
    Field("originally_available_at", _key("date"), "date", "originallyAvailableAt", DATE, "skip_date"),
    Field("studio", _studio, "studio", "studio", TEXT, "skip_studio", empty=""),
    Field("actors", _performers, "performers", "actor", TAGS, "skip_performers", empty=(), ordered=True),
    Field("genres", _tags, "tags", "genre", TAGS, "skip_tags", empty=()),
    Field("collections", _collections, "groups", "collection", TAGS, "skip_collections", empty=()),
    Field("directors", _director, "director", "director", TAGS, "skip_director", empty=()),
    Field("user_rating", _rating, "rating", "", RATING, "skip_rating"),
    Field("poster", _screenshot, "screenshot URL", "thumb", IMAGE, "skip_poster", attr="poster_url"),
    Field("background", _screenshot, "screenshot URL", "art", IMAGE, "sync_background", attr="background_url"),
)
BY_NAME: Dict[str, Field] = {row.name: row for row in FIELDS}
