"""Metadata edits in the query-string vocabulary plexapi sends.

`PUT /library/sections/{id}/all?type=1&id=RK&title.value=…&title.locked=1&genre[0].tag.tag=A`
is parsed into an `Edit` and applied to one item. The semantics mirror the server's:
an indexed tag list in a request replaces that list entirely, `tag[].tag.tag-`
removes names, `X.locked` adds or drops a lock, and every edit bumps updatedAt.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, Iterable, List, Optional, Tuple
from urllib.parse import unquote

from testbed.plex.model import TAG_ELEMENTS, Item, Tag, title_from_file

_INDEXED = re.compile(r"^([A-Za-z]+)\[(\d+)\]\.(tag\.tag|tagging\.text)$")
_REMOVE = re.compile(r"^([A-Za-z]+)\[\]\.tag\.tag-$")
_VALUE = re.compile(r"^([A-Za-z]+)\.value$")
_LOCK = re.compile(r"^([A-Za-z]+)\.locked$")

# Parameters that address the request itself rather than the item.
_ROUTING = {"type", "id", "X-Plex-Token", "includeExternalMedia"}


class EditError(ValueError):
    """A value the server would reject (answered with 400)."""


@dataclass
class Edit:
    values: Dict[str, str] = field(default_factory=dict)
    locks: Dict[str, bool] = field(default_factory=dict)
    replace: Dict[str, Dict[int, str]] = field(default_factory=dict)
    roles: Dict[str, Dict[int, str]] = field(default_factory=dict)
    remove: Dict[str, List[str]] = field(default_factory=dict)
    ignored: List[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.values or self.locks or self.replace or self.remove)


def parse_edit(pairs: Iterable[Tuple[str, str]]) -> Edit:
    """Sort decoded query pairs into values, locks, tag replacements and removals."""
    edit = Edit()
    for key, value in pairs:
        if key in _ROUTING:
            continue
        m = _INDEXED.match(key)
        if m:
            kind, index, what = m.group(1), int(m.group(2)), m.group(3)
            if kind not in TAG_ELEMENTS:
                edit.ignored.append(key)
            elif what == "tag.tag":
                edit.replace.setdefault(kind, {})[index] = value
            else:
                edit.roles.setdefault(kind, {})[index] = value
            continue
        m = _REMOVE.match(key)
        if m:
            kind = m.group(1)
            if kind not in TAG_ELEMENTS:
                edit.ignored.append(key)
                continue
            # plexapi quotes each name before joining with commas, and the query
            # string quotes the whole again: one decode happened already.
            names = [unquote(part) for part in value.split(",") if part != ""]
            edit.remove.setdefault(kind, []).extend(names)
            continue
        m = _VALUE.match(key)
        if m:
            edit.values[m.group(1)] = value
            continue
        m = _LOCK.match(key)
        if m:
            edit.locks[m.group(1)] = value.strip() not in ("", "0", "false")
            continue
        edit.ignored.append(key)
    return edit


def apply_edit(item: Item, edit: Edit, now: int) -> None:
    """Apply one parsed edit to `item` (validate everything first, then change)."""
    values = {name: _convert(name, raw, item) for name, raw in edit.values.items()}
    for name, value in values.items():
        if name == "userRating":
            item.user_rating = value
        elif name == "addedAt":
            if value is not None:
                item.added_at = int(value)
        elif name == "originallyAvailableAt":
            item.fields[name] = value
            item.fields["year"] = int(value[:4]) if value else None
        else:
            item.fields[name] = value
    for kind, by_index in edit.replace.items():
        roles = edit.roles.get(kind, {})
        item.tags[kind] = _dedupe(
            Tag(by_index[i].strip(), (roles.get(i) or None) if kind == "actor" else None)
            for i in sorted(by_index))
    for kind, names in edit.remove.items():
        gone = {n.strip().lower() for n in names}
        item.tags[kind] = [t for t in item.tags.get(kind, []) if t.name.lower() not in gone]
    for name, locked in edit.locks.items():
        if locked:
            item.locked.add(name)
        else:
            item.locked.discard(name)
    touch(item, now)


def touch(item: Item, now: int) -> None:
    """Record a change: newer updatedAt (never backwards) and a new cache version."""
    item.updated_at = max(now, item.updated_at)
    item.version += 1


def _dedupe(tags: Iterable[Tag]) -> List[Tag]:
    seen = set()
    out = []
    for tag in tags:
        key = tag.name.lower()
        if tag.name and key not in seen:
            seen.add(key)
            out.append(tag)
    return out


def _convert(name: str, raw: str, item: Item):
    raw = raw if raw is not None else ""
    if name == "title":
        # An empty title is not kept: the scanner's file-name title comes back.
        return raw or title_from_file(item.files[0] if item.files else "")
    if name == "originallyAvailableAt":
        if not raw:
            return None
        try:
            datetime.strptime(raw[:10], "%Y-%m-%d")
        except ValueError:
            raise EditError("originallyAvailableAt must be YYYY-MM-DD: %r" % raw) from None
        return raw[:10]
    if name in ("userRating",):
        return _number(name, raw, float)
    if name in ("year", "addedAt"):
        return _number(name, raw, int)
    return raw or None


def _number(name: str, raw: str, kind) -> Optional[float]:
    if raw == "":
        return None
    try:
        return kind(float(raw)) if kind is int else kind(raw)
    except ValueError:
        raise EditError("%s must be a number: %r" % (name, raw)) from None
