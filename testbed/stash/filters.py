"""findScenes and friends: criteria, sorting and paging the way Stash's SQL does them.

Facts mirrored from stashapp/stash pkg/sqlite: no `sort` means no ORDER BY (id
order); an unknown sort name is an error; every sort ends with the title as a final
key; per_page -1 returns everything; timestamp criteria compare the stored RFC 3339
text with the value as given, so a value in another format or offset compares as
text, not as time.
"""
from __future__ import annotations

import random
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from testbed.stash.store import (Store, group_descendants, rfc3339, studio_descendants,
                                  tag_descendants)

SCENE_SORTS = {"id", "title", "date", "rating", "created_at", "updated_at", "path",
               "play_count", "o_counter", "duration", "filesize", "organized", "random",
               "code", "resume_time", "play_duration", "studio", "tag_count",
               "performer_count", "file_count"}


class FilterError(ValueError):
    """A filter Stash would reject; surfaces as a GraphQL error."""


def _natural(text: str) -> Tuple[Any, ...]:
    """NATURAL_CI-like key: case-insensitive, digit runs compared as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text.lower()))


def _first_file(scene: Dict[str, Any]) -> Dict[str, Any]:
    return scene["files"][0] if scene["files"] else {}


def _compare(modifier: str, actual: Any, value: Any, value2: Any = None) -> bool:
    """Numeric or text criteria; None behaves like SQL NULL (fails comparisons)."""
    if modifier == "IS_NULL":
        return actual is None or actual == ""
    if modifier == "NOT_NULL":
        return not (actual is None or actual == "")
    if actual is None:
        return False
    if modifier == "EQUALS":
        return actual == value
    if modifier == "NOT_EQUALS":
        return actual != value
    if modifier == "GREATER_THAN":
        return actual > value
    if modifier == "LESS_THAN":
        return actual < value
    if modifier in ("BETWEEN", "NOT_BETWEEN"):
        if value2 is None:
            raise FilterError("%s needs value2" % modifier)
        inside = value <= actual <= value2
        return inside if modifier == "BETWEEN" else not inside
    raise FilterError("modifier %s not supported for this criterion" % modifier)


def _string(modifier: str, actual: Optional[str], value: str) -> bool:
    """String criteria: Stash uses LIKE, so matching ignores ASCII case."""
    actual_l = (actual or "").lower()
    if modifier == "EQUALS":
        return actual_l == value.lower()
    if modifier == "NOT_EQUALS":
        return actual_l != value.lower()
    if modifier == "INCLUDES":
        return value.lower() in actual_l
    if modifier == "EXCLUDES":
        return value.lower() not in actual_l
    if modifier in ("MATCHES_REGEX", "NOT_MATCHES_REGEX"):
        try:
            hit = re.search(value, actual or "") is not None
        except re.error as exc:
            raise FilterError("bad regex: %s" % exc) from exc
        return hit if modifier == "MATCHES_REGEX" else not hit
    return _compare(modifier, actual, value)


def _ids(values: Optional[Sequence[Any]]) -> List[int]:
    return [int(v) for v in values or []]


def _multi(modifier: str, have: Sequence[int], wanted: List[int],
           excludes: List[int]) -> bool:
    if any(x in have for x in excludes):
        return False
    if modifier == "IS_NULL":
        return not have
    if modifier == "NOT_NULL":
        return bool(have)
    if modifier == "INCLUDES":
        return not wanted or any(x in have for x in wanted)
    if modifier == "INCLUDES_ALL":
        return all(x in have for x in wanted)
    if modifier == "EXCLUDES":
        return not any(x in have for x in wanted)
    raise FilterError("modifier %s not supported for multi criteria" % modifier)


def _expand_studios(store: Store, crit: Dict[str, Any]) -> Tuple[List[int], List[int]]:
    """Studio values and excludes, each grown by its child studios down to depth."""
    depth = crit.get("depth") or 0

    def each(ids: List[int]) -> List[int]:
        out: List[int] = []
        for i in ids:
            out.extend(studio_descendants(store, i, depth) if depth else [i])
        return out

    return each(_ids(crit.get("value"))), each(_ids(crit.get("excludes")))


def _joined_hierarchical(store: Store, kind: str, have: Sequence[int],
                         crit: Dict[str, Any]) -> bool:
    """A scene's tags or groups against a HierarchicalMultiCriterionInput.

    Stash's joinedHierarchicalMultiCriterionHandlerBuilder (pkg/sqlite): each value
    (and each excludes id) stands for itself plus its descendants down to `depth`
    (0 or unset: itself only; -1: all levels). INCLUDES needs one value's tree hit,
    INCLUDES_ALL every value's, EQUALS exactly the values (no depth allowed); EXCLUDES
    folds the values into excludes; NOT_EQUALS is an error.
    """
    mod = crit["modifier"]
    depth = crit.get("depth") or 0
    if mod == "EQUALS" and depth:
        raise FilterError("depth is not supported for equals modifier in hierarchical "
                          "multi criterion input")
    if mod == "NOT_EQUALS":
        raise FilterError("not equals modifier is not supported for hierarchical multi "
                          "criterion input")
    if mod == "IS_NULL":
        return not have
    if mod == "NOT_NULL":
        return bool(have)
    values, excludes = _ids(crit.get("value")), _ids(crit.get("excludes"))
    if mod == "EXCLUDES":
        mod, values, excludes = "INCLUDES_ALL", [], excludes + values
    grow = group_descendants if kind == "group" else tag_descendants
    owned = set(have)

    def hit(root: int) -> bool:
        return bool(owned.intersection(grow(store, root, depth)))

    if values:
        roots = {v for v in values if hit(v)}
        if mod == "INCLUDES":
            ok = bool(roots)
        elif mod == "INCLUDES_ALL":
            ok = len(roots) == len(values)
        elif mod == "EQUALS":
            ok = len(roots) == len(values) and len(have) == len(values)
        else:
            raise FilterError("modifier %s not supported for hierarchical criteria" % mod)
        if not ok:
            return False
    return not any(hit(e) for e in excludes)


def scene_matches(store: Store, scene: Dict[str, Any], f: Optional[Dict[str, Any]]) -> bool:
    """Evaluate a SceneFilterType against one scene record."""
    if not f:
        return True
    own = True
    for key, crit in f.items():
        if crit is None or key == "OR":
            continue
        if key == "AND":
            ok = scene_matches(store, scene, crit)
        elif key == "NOT":
            ok = not scene_matches(store, scene, crit)
        else:
            ok = _criterion(store, scene, key, crit)
        if not ok:
            own = False
            break
    if f.get("OR") is not None:  # this level's criteria OR the sub-filter
        return own or scene_matches(store, scene, f["OR"])
    return own


def _criterion(store: Store, scene: Dict[str, Any], key: str, crit: Any) -> bool:
    if key == "organized":
        return scene["organized"] == crit
    mod = crit["modifier"]
    if key in ("title", "code", "details", "director"):
        return _string(mod, scene[key], crit["value"])
    if key == "path":
        paths = [fl["path"] for fl in scene["files"]] or [""]
        hits = [_string(mod, p, crit["value"]) for p in paths]
        return all(hits) if mod in ("EXCLUDES", "NOT_EQUALS", "NOT_MATCHES_REGEX") else any(hits)
    if key in ("id", "rating100", "o_counter", "play_count"):
        return _compare(mod, scene[key], crit["value"], crit.get("value2"))
    if key in ("created_at", "updated_at"):
        return _compare(mod, rfc3339(scene[key]), crit["value"], crit.get("value2"))
    if key == "date":
        return _compare(mod, scene["date"], crit["value"], crit.get("value2"))
    if key == "studios":
        wanted, excl = _expand_studios(store, crit)
        have = [scene["studio_id"]] if scene["studio_id"] is not None else []
        return _multi(mod, have, wanted, excl)
    if key == "tags":
        return _joined_hierarchical(store, "tag", scene["tag_ids"], crit)
    if key == "performers":
        return _multi(mod, scene["performer_ids"], _ids(crit.get("value")),
                      _ids(crit.get("excludes")))
    if key == "groups":
        return _joined_hierarchical(store, "group", [g for g, _ in scene["groups"]], crit)
    raise FilterError("scene filter %s is not emulated" % key)


def _scene_sort_key(store: Store, sort: str) -> Callable[[Dict[str, Any]], Any]:
    def nullable(v: Any) -> Tuple[int, Any]:
        return (0, 0) if v is None else (1, v)  # SQLite puts NULL first ascending

    keys: Dict[str, Callable[[Dict[str, Any]], Any]] = {
        "id": lambda s: s["id"],
        "title": lambda s: _natural(s["title"] or _first_file(s).get("basename", "")),
        "date": lambda s: nullable(s["date"]),
        "rating": lambda s: nullable(s["rating100"]),
        "created_at": lambda s: s["created_at"],
        "updated_at": lambda s: s["updated_at"],
        "path": lambda s: _natural(_first_file(s).get("path", "")),
        "play_count": lambda s: s["play_count"],
        "o_counter": lambda s: s["o_counter"],
        "duration": lambda s: nullable(_first_file(s).get("duration")),
        "filesize": lambda s: nullable(_first_file(s).get("size")),
        "organized": lambda s: s["organized"],
        "code": lambda s: _natural(s["code"]),
        "resume_time": lambda s: s["resume_time"],
        "play_duration": lambda s: s["play_duration"],
        "studio": lambda s: nullable(store.studios[s["studio_id"]]["name"].lower()
                                     if s["studio_id"] in store.studios else None),
        "tag_count": lambda s: len(s["tag_ids"]),
        "performer_count": lambda s: len(s["performer_ids"]),
        "file_count": lambda s: len(s["files"]),
    }
    return keys[sort]


def sort_and_page(items: List[Dict[str, Any]], find: Optional[Dict[str, Any]],
                  key_for: Callable[[str], Callable[[Dict[str, Any]], Any]],
                  allowed: set, title: Callable[[Dict[str, Any]], Any]) -> List[Dict[str, Any]]:
    """Apply FindFilterType sort, direction and paging to an id-ordered list."""
    find = find or {}
    sort = find.get("sort") or ""
    if sort:
        base = sort.split("_", 1)[0] if sort.startswith("random_") else sort
        if base not in allowed:
            raise FilterError("invalid sort: %s" % sort)
        desc = find.get("direction") == "DESC"
        items = sorted(items, key=lambda s: (title(s), s["id"]))  # final title key
        if base == "random":
            seed = sort.split("_", 1)[1] if "_" in sort else None
            random.Random(seed).shuffle(items)
        else:
            items = sorted(items, key=key_for(base), reverse=desc)
    per_page = find.get("per_page")
    per_page = 25 if per_page is None else per_page
    if per_page < 0:
        return items
    page = max(1, find.get("page") or 1)
    return items[(page - 1) * per_page: page * per_page]


def find_scenes(store: Store, find: Optional[Dict[str, Any]], scene_filter: Optional[Dict[str, Any]],
                ids: Optional[List[int]]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(all matching, this page) for findScenes."""
    scenes = sorted(store.all_scenes(), key=lambda s: s["id"])
    if ids is not None:
        wanted = set(ids)
        scenes = [s for s in scenes if s["id"] in wanted]
    q = ((find or {}).get("q") or "").strip().lower()
    if q:
        scenes = [s for s in scenes if q in s["title"].lower() or q in s["details"].lower()
                  or q in s["code"].lower() or any(q in fl["path"].lower() for fl in s["files"])]
    matching = [s for s in scenes if scene_matches(store, s, scene_filter)]
    page = sort_and_page(matching, find, lambda sort: _scene_sort_key(store, sort), SCENE_SORTS,
                         lambda s: _natural(s["title"]))
    return matching, page


def find_named(store: Store, table: Dict[int, Dict[str, Any]], find: Optional[Dict[str, Any]],
               obj_filter: Optional[Dict[str, Any]], ids: Optional[List[int]]
               ) -> Tuple[int, List[Dict[str, Any]]]:
    """findStudios/findPerformers/findTags/findGroups: name, timestamps, q, paging."""
    with store.lock:
        items = [dict(r) for _, r in sorted(table.items())]
    if ids is not None:
        items = [r for r in items if r["id"] in set(ids)]
    q = ((find or {}).get("q") or "").strip().lower()
    if q:
        items = [r for r in items if q in r["name"].lower()]
    for key, crit in (obj_filter or {}).items():
        if crit is None:
            continue
        if key == "name":
            items = [r for r in items if _string(crit["modifier"], r["name"], crit["value"])]
        elif key in ("created_at", "updated_at"):
            items = [r for r in items if _compare(crit["modifier"], rfc3339(r[key]),
                                                  crit["value"], crit.get("value2"))]
    keys = {"id": lambda r: r["id"], "name": lambda r: _natural(r["name"]),
            "created_at": lambda r: r["created_at"], "updated_at": lambda r: r["updated_at"]}
    page = sort_and_page(items, find, lambda s: keys[s], set(keys) | {"random"},
                         lambda r: _natural(r["name"]))
    return len(items), page
