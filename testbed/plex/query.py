"""Section listing filters and sorts, in the parameter forms plexapi emits.

plexapi builds `/library/sections/1/all?type=1&title=foo&updatedAt%3E%3E=1700000000`;
the operator rides in the parameter name, so after URL decoding the name is
`updatedAt>>`. Operators: strings `=` contains, `!=` not contains, `==` is,
`!==` is not, `<=` begins with, `>=` ends with; numbers and dates `=`, `!=`,
`>>=` greater, `<<=` less (strict, as "is after"/"is before"); tags `=`/`!=`
by id or name. A comma-separated value means any of them.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Tuple

from testbed.plex.model import TAG_ELEMENTS, Item, TagIds

STRING_FIELDS = ("title", "titleSort", "originalTitle", "studio", "summary", "tagline",
                 "contentRating", "editionTitle")
INTEGER_FIELDS = ("year", "userRating", "id")
DATE_FIELDS = ("addedAt", "updatedAt", "originallyAvailableAt", "lastRatedAt")
SORT_FIELDS = ("titleSort", "title", "addedAt", "updatedAt", "originallyAvailableAt",
               "year", "userRating", "lastRatedAt", "id", "ratingKey", "studio")

_KEY = re.compile(r"^(?:[a-zA-Z]+\.)?([a-zA-Z]+)([!<>=]*)$")
_RELATIVE = re.compile(r"^-?(\d+)(mon|[smhdwy])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mon": 2592000,
          "y": 31536000}

Predicate = Callable[[Item], bool]


class QueryError(ValueError):
    """A filter value the server cannot read (answered with 400)."""


@dataclass
class Query:
    """One parsed listing request: type, filters, sort and limit."""

    type: Optional[int] = None
    predicates: List[Predicate] = field(default_factory=list)
    sort: List[Tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: Optional[int] = None
    cache_key: Tuple = ()

    def matches(self, item: Item) -> bool:
        return all(p(item) for p in self.predicates)

    def order(self, items: List[Item]) -> List[Item]:
        ordered = sorted(items, key=lambda it: it.rating_key)
        keys = self.sort or [("titleSort", False)]
        for name, desc in reversed(keys):
            ordered.sort(key=_sort_key(name), reverse=desc)
        return ordered


def parse_query(pairs: Iterable[Tuple[str, str]], tag_ids: TagIds,
                now: Optional[float] = None) -> Query:
    now = time.time() if now is None else now
    query = Query()
    used = []
    for key, value in pairs:
        if key == "type":
            query.type = _int(key, value)
        elif key == "sort":
            query.sort = [_parse_sort(s) for s in value.split(",") if s.strip()]
        elif key == "limit":
            query.limit = _int(key, value)
        else:
            pred = _predicate(key, value, tag_ids, now)
            if pred is None:
                continue  # includeGuids, X-Plex-*, push/pop… change nothing here
            query.predicates.append(pred)
        used.append((key, value))
    query.cache_key = tuple(sorted(used))
    return query


def _parse_sort(text: str) -> Tuple[str, bool]:
    name, _, direction = text.strip().partition(":")
    name = name.split(".")[-1]
    if name not in SORT_FIELDS:
        raise QueryError("unknown sort field %r" % name)
    return name, direction == "desc"


def _sort_key(name: str):
    if name in ("titleSort", "title"):
        return lambda it: it.sort_title() if name == "titleSort" else it.title().lower()
    if name in ("id", "ratingKey"):
        return lambda it: it.rating_key
    getter = _getter(name)

    def key(it: Item):
        value = getter(it)
        return (value is not None, value if value is not None else 0)
    return key


def _getter(name: str) -> Callable[[Item], Any]:
    if name == "addedAt":
        return lambda it: it.added_at
    if name == "updatedAt":
        return lambda it: it.updated_at
    if name == "lastRatedAt":
        return lambda it: it.last_rated_at
    if name == "userRating":
        return lambda it: it.user_rating
    if name == "id":
        return lambda it: it.rating_key
    if name == "originallyAvailableAt":
        return lambda it: _date_epoch(it.fields.get(name))
    if name == "studio":
        return lambda it: (it.fields.get(name) or "").lower()
    return lambda it: it.fields.get(name)


def _predicate(key: str, value: str, tag_ids: TagIds, now: float) -> Optional[Predicate]:
    m = _KEY.match(key)
    if not m:
        return None
    name, op = m.group(1), m.group(2)
    wanted = [v for v in value.split(",")] if value != "" else [""]
    if name in STRING_FIELDS:
        return _string_pred(name, op, [w.lower() for w in wanted])
    if name in INTEGER_FIELDS or name in DATE_FIELDS:
        if name in DATE_FIELDS:
            numbers = [_date_value(key, w, now) for w in wanted]
        else:
            numbers = [_number(key, w) for w in wanted]
        return _number_pred(_getter(name), op, numbers)
    if name == "inProgress":
        # PMS: items the account started and did not finish (a viewOffset is set).
        started = value not in ("0", "")
        return lambda it: started == bool(it.view_offset)
    if name in TAG_ELEMENTS or name == "role":
        kind = "actor" if name == "role" else name
        names = set()
        for w in wanted:
            resolved = tag_ids.name_for(kind, int(w)) if w.isdigit() else None
            names.add((resolved or w).lower())
        negate = op.startswith("!")
        return lambda it: negate != any(t.name.lower() in names for t in it.tags.get(kind, []))
    return None


def _string_pred(name: str, op: str, wanted: List[str]) -> Predicate:
    def text(it: Item) -> str:
        return (it.fields.get(name) or "").lower()
    tests = {
        "": lambda s, w: w in s,
        "!": lambda s, w: w not in s,
        "=": lambda s, w: s == w,
        "!=": lambda s, w: s != w,
        "<": lambda s, w: s.startswith(w),
        ">": lambda s, w: s.endswith(w),
    }
    if op not in tests:
        raise QueryError("unknown string operator %r for %s" % (op, name))
    test = tests[op]
    if op.startswith("!"):
        return lambda it: all(test(text(it), w) for w in wanted)
    return lambda it: any(test(text(it), w) for w in wanted)


def _number_pred(getter: Callable[[Item], Any], op: str, wanted: List[float]) -> Predicate:
    tests = {
        "": lambda v, w: v == w,
        "!": lambda v, w: v != w,
        ">>": lambda v, w: v > w,
        "<<": lambda v, w: v < w,
    }
    if op not in tests:
        raise QueryError("unknown numeric operator %r" % op)
    test = tests[op]

    def pred(it: Item) -> bool:
        value = getter(it)
        if value is None:
            return op == "!"
        return any(test(value, w) for w in wanted)
    return pred


def _date_value(key: str, text: str, now: float) -> float:
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        return now - int(m.group(1)) * _UNITS[m.group(2)]
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return _date_epoch(text)
    return _number(key, text)


def _date_epoch(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    return time.mktime(time.strptime(text[:10], "%Y-%m-%d"))


def _number(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise QueryError("%s needs a number, got %r" % (key, text)) from None


def _int(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise QueryError("%s needs an integer, got %r" % (key, text)) from None
