"""What one sync must send to Plex: `plan = diff(current, desired, last_written, settings)`.

Pure: it compares plain values, so the rules below are tested as a table.

- Stash is the source of truth. A managed field whose Plex value differs from the
  desired one is sent; an empty desired value clears it (the title never is empty:
  PlexMetadata falls back to the file name).
- Every managed field ends up locked, even when empty or unchanged, because a Plex
  agent refresh overwrites every unlocked field.
- Lists (actors, genres, collections) are authoritative: when they differ, the whole
  desired list is sent, and values present in the full current item but not desired
  are removed explicitly.
- keep_plex_edits: a field is left as it is in Plex when we wrote it before
  (`last_written` has it) and Plex no longer holds what we wrote, meaning someone
  changed it in Plex after our last sync. On a first sync there is nothing to compare
  with, so Stash wins. Images are outside this rule (see `diff`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple

# Our field name → the name Plex uses in edits, locks and <Field name=…>.
PLEX_FIELD = {
    "title": "title",
    "summary": "summary",
    "originally_available_at": "originallyAvailableAt",
    "studio": "studio",
    "actors": "actor",
    "genres": "genre",
    "collections": "collection",
    "poster": "thumb",
    "background": "art",
}
SCALARS = ("title", "summary", "originally_available_at", "studio")
LISTS = ("actors", "genres", "collections")
ORDERED_LISTS = frozenset({"actors"})  # Plex shows the cast in the order sent
RATING_TOLERANCE = 0.05


@dataclass(frozen=True)
class CurrentItem:
    """The Plex item as it is now, read from a FULLY loaded item (listings are partial)."""

    rating_key: int
    section_id: int
    title: str = ""
    summary: str = ""
    originally_available_at: str = ""  # YYYY-MM-DD or ''
    studio: str = ""
    actors: Tuple[str, ...] = ()
    genres: Tuple[str, ...] = ()
    collections: Tuple[str, ...] = ()
    user_rating: Optional[float] = None
    locked: FrozenSet[str] = frozenset()  # Plex field names with locked="1"


@dataclass
class EditPlan:
    """Everything one sync sends; empty parts send nothing."""

    fields: Dict[str, str] = field(default_factory=dict)  # Plex field → value ('' clears)
    tags: Dict[str, List[str]] = field(default_factory=dict)  # Plex tag → full desired list
    remove_tags: Dict[str, List[str]] = field(default_factory=dict)  # Plex tag → values to drop
    lock: Set[str] = field(default_factory=set)  # Plex fields to lock without a value change
    set_rating: bool = False
    rating: Optional[float] = None  # with set_rating: None clears
    upload_poster: bool = False  # the screenshot URL differs from the one last uploaded
    upload_background: bool = False
    kept: List[str] = field(default_factory=list)  # fields left as edited in Plex
    written: Dict[str, Any] = field(default_factory=dict)  # what Plex holds for us afterwards

    @property
    def needs_edit(self) -> bool:
        """Whether the batched PUT has anything to carry."""
        return bool(self.fields or self.tags or self.remove_tags or self.lock)

    @property
    def is_empty(self) -> bool:
        return not (self.needs_edit or self.set_rating or self.upload_poster or self.upload_background)


def desired_values(desired) -> Dict[str, Any]:
    """The managed values of a PlexMetadata in the plain form `written` stores."""
    date = desired.originally_available_at
    values = {
        "title": desired.title,
        "summary": desired.summary,
        "originally_available_at": date.isoformat() if date else "",
        "studio": desired.studio,
        "actors": list(desired.actors),
        "genres": list(desired.genres),
        "collections": list(desired.collections),
        "user_rating": desired.user_rating,
        "poster": desired.poster_url,
        "background": desired.background_url,
    }
    return {name: value for name, value in values.items() if name in desired.managed}


def _same(name: str, a: Any, b: Any) -> bool:
    if name == "user_rating":
        if a is None or b is None:
            return a is None and b is None
        return abs(float(a) - float(b)) < RATING_TOLERANCE
    if name in LISTS:
        a, b = list(a or ()), list(b or ())
        return a == b if name in ORDERED_LISTS else sorted(a) == sorted(b)
    return (a or "").strip() == (b or "").strip()


def _user_edited(name: str, now: Any, last_written: Mapping[str, Any], keep: bool) -> bool:
    return keep and name in last_written and not _same(name, now, last_written[name])


def diff(current: CurrentItem, desired, last_written: Optional[Mapping[str, Any]], settings) -> EditPlan:
    """Plan the edit that makes `current` hold `desired` (a PlexMetadata).

    Images: an upload is planned when the screenshot URL differs from the one we last
    uploaded from; the caller then compares content hashes before sending bytes. A
    poster picked by hand in Plex is therefore replaced only when Stash's screenshot
    changes, with or without keep_plex_edits.
    """
    last = dict(last_written or {})
    keep = bool(settings.keep_plex_edits)
    want = desired_values(desired)
    plan = EditPlan()

    for name in SCALARS:
        if name not in want:
            continue
        plex, now = PLEX_FIELD[name], getattr(current, name)
        if _user_edited(name, now, last, keep):
            plan.kept.append(name)
            plan.written[name] = last[name]
            continue
        if not _same(name, now, want[name]):
            plan.fields[plex] = want[name]
            if name == "originally_available_at":
                # Plex shows `year` beside the date and does not derive it from an edit.
                plan.fields["year"] = want[name][:4]
        elif plex not in current.locked:
            plan.lock.add(plex)
        plan.written[name] = want[name]

    for name in LISTS:
        if name not in want:
            continue
        plex, now = PLEX_FIELD[name], list(getattr(current, name))
        if _user_edited(name, now, last, keep):
            plan.kept.append(name)
            plan.written[name] = list(last[name])
            continue
        wanted = want[name]
        if not _same(name, now, wanted):
            plan.tags[plex] = list(wanted)
            keys = {v.casefold() for v in wanted}
            gone = [v for v in now if v.casefold() not in keys]
            if gone:
                plan.remove_tags[plex] = gone
        elif plex not in current.locked:
            plan.lock.add(plex)
        plan.written[name] = list(wanted)

    if "user_rating" in want:
        if _user_edited("user_rating", current.user_rating, last, keep):
            plan.kept.append("user_rating")
            plan.written["user_rating"] = last["user_rating"]
        else:
            if not _same("user_rating", current.user_rating, want["user_rating"]):
                plan.set_rating, plan.rating = True, want["user_rating"]
            plan.written["user_rating"] = want["user_rating"]

    for name in ("poster", "background"):
        if name not in want:
            continue
        plex = PLEX_FIELD[name]
        if plex not in current.locked:
            plan.lock.add(plex)
        url = want[name]
        if url and last.get(name) != url:
            setattr(plan, f"upload_{name}", True)
        # The URL is recorded only once the upload succeeded (see apply).
        if last.get(name) == url:
            plan.written[name] = url
    return plan


def drift(current: CurrentItem, written: Mapping[str, Any]) -> List[str]:
    """Fields whose Plex value is no longer what we last wrote, or whose lock is gone.

    Reconcile uses it: a scene unchanged in Stash costs no request at sync time, so
    a change made in Plex (by a person, or an agent refresh of an unlocked field)
    is only seen by comparing Plex with `written`.
    """
    values = {
        "title": current.title,
        "summary": current.summary,
        "originally_available_at": current.originally_available_at,
        "studio": current.studio,
        "actors": current.actors,
        "genres": current.genres,
        "collections": current.collections,
        "user_rating": current.user_rating,
    }
    changed = [name for name, now in values.items() if name in written and not _same(name, now, written[name])]
    unlocked = [
        name
        for name in written
        if name in PLEX_FIELD and name not in ("poster", "background") and PLEX_FIELD[name] not in current.locked
    ]
    return changed + [f"{name} (unlocked)" for name in unlocked if name not in changed]
