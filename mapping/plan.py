"""What one sync must send to Plex: `plan = diff(current, desired, last_written, settings)`.

Pure: it compares plain values, so the rules below are tested as a table. Which
fields exist, their Plex names and kinds is the field table's (mapping/fields.py);
this module holds what each kind compares and sends.

- Stash is the source of truth. A managed field whose Plex value differs from the
  desired one is sent; an empty desired value clears it (the title never is empty:
  PlexMetadata falls back to the file name).
- Every managed field ends up locked, even when empty or unchanged, because a Plex
  agent refresh overwrites every unlocked field.
- Lists (actors, genres, collections, directors) are authoritative: when they differ, the whole
  desired list is sent, and values present in the full current item but not desired
  are removed explicitly.
- keep_plex_edits: a field is left as it is in Plex when we wrote it before
  (`last_written` has it) and Plex no longer holds what we wrote, meaning someone
  changed it in Plex after our last sync. On a first sync there is nothing to compare
  with, so Stash wins. Images are outside this rule (see `diff`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple

from mapping.fields import BY_NAME, DATE, FIELDS, IMAGE, RATING, TAGS, TEXT, Field

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
    directors: Tuple[str, ...] = ()
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
    values = {}
    for row in FIELDS:
        if row.name in desired.managed:
            values[row.name] = _plain(row, getattr(desired, row.model_attr))
    return values


def _plain(row: Field, value: Any) -> Any:
    """A model value as stored: a date as YYYY-MM-DD ('' for none), a list copied."""
    if row.kind == DATE:
        return value.isoformat() if value else ""
    return _copied(row, value)


def _copied(row: Field, value: Any) -> Any:
    return list(value) if row.kind == TAGS else value


def same(row: Field, a: Any, b: Any) -> bool:
    """Whether Plex's value and ours are the same for this field's kind."""
    if row.kind == RATING:
        if a is None or b is None:
            return a is None and b is None
        return abs(float(a) - float(b)) < RATING_TOLERANCE
    if row.kind == TAGS:
        a, b = list(a or ()), list(b or ())
        return a == b if row.ordered else sorted(a) == sorted(b)
    return (a or "").strip() == (b or "").strip()


def _send_text(plan: EditPlan, row: Field, now: Any, value: str) -> None:
    plan.fields[row.plex] = value


def _send_date(plan: EditPlan, row: Field, now: Any, value: str) -> None:
    plan.fields[row.plex] = value
    # Plex shows `year` beside the date and does not derive it from an edit.
    plan.fields["year"] = value[:4]


def _send_tags(plan: EditPlan, row: Field, now: Any, value: List[str]) -> None:
    """The whole list, and what Plex holds beyond it removed explicitly."""
    plan.tags[row.plex] = list(value)
    keys = {v.casefold() for v in value}
    gone = [v for v in now if v.casefold() not in keys]
    if gone:
        plan.remove_tags[row.plex] = gone


def _send_rating(plan: EditPlan, row: Field, now: Any, value: Optional[float]) -> None:
    plan.set_rating, plan.rating = True, value


SEND: Dict[str, Callable[[EditPlan, Field, Any, Any], None]] = {
    TEXT: _send_text, DATE: _send_date, TAGS: _send_tags, RATING: _send_rating,
}


def _plan_image(plan: EditPlan, row: Field, current: CurrentItem, url: Optional[str], last: Mapping[str, Any]) -> None:
    """Lock it; upload when the screenshot URL is not the one we last uploaded from."""
    if row.plex not in current.locked:
        plan.lock.add(row.plex)
    if url and last.get(row.name) != url:
        setattr(plan, f"upload_{row.name}", True)
    # The URL is recorded only once the upload succeeded (see apply).
    if last.get(row.name) == url:
        plan.written[row.name] = url


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
    for row in FIELDS:
        if row.name not in want:
            continue
        if row.kind == IMAGE:
            _plan_image(plan, row, current, want[row.name], last)
            continue
        now = getattr(current, row.name)
        if keep and row.name in last and not same(row, now, last[row.name]):
            plan.kept.append(row.name)  # edited in Plex since our last write
            plan.written[row.name] = _copied(row, last[row.name])
            continue
        if not same(row, now, want[row.name]):
            SEND[row.kind](plan, row, now, want[row.name])
        elif row.plex and row.plex not in current.locked:
            plan.lock.add(row.plex)
        plan.written[row.name] = _copied(row, want[row.name])
    return plan


def drift(current: CurrentItem, written: Mapping[str, Any]) -> List[str]:
    """Fields whose Plex value is no longer what we last wrote, or whose lock is gone.

    Reconcile uses it: a scene unchanged in Stash costs no request at sync time, so
    a change made in Plex (by a person, or an agent refresh of an unlocked field)
    is only seen by comparing Plex with `written`.
    """
    changed = [row.name for row in FIELDS if row.kind != IMAGE and row.name in written
               and not same(row, getattr(current, row.name), written[row.name])]
    # Images are not checked: CurrentItem holds no image, and apply locks one with every upload.
    unlocked = [name for name in written if name in BY_NAME and BY_NAME[name].kind != IMAGE
                and BY_NAME[name].plex and BY_NAME[name].plex not in current.locked]
    return changed + [f"{name} (unlocked)" for name in unlocked if name not in changed]
