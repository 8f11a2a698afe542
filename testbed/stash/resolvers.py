"""The executable GraphQL schema: the SDL subset plus resolvers over the Store.

Queries and object fields live here, mutations in mutations.py. Resolvers receive a
RequestContext: the app (the emulator, for configuration and plugins), the base URL
taken from the request's Host header (Stash builds image URLs from it), the plugin
hooks already on the call chain, and the hook events a mutation queues.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from graphql import GraphQLError, GraphQLSchema, build_schema

from testbed.stash import activity, filters, mutations, package_api
from testbed.stash.store import Store, group_descendants, rfc3339, studio_descendants


@dataclass
class RequestContext:
    app: Any
    base_url: str
    visited: List[Tuple[str, str]] = field(default_factory=list)
    events: List[Tuple[str, int, Any, Optional[List[str]]]] = field(default_factory=list)
    memo: Dict[str, Any] = field(default_factory=dict)  # per-request lookups

    @property
    def store(self) -> Store:
        return self.app.store


def _store(info: Any) -> Store:
    return info.context.app.store


def _copy(table: Dict[int, Dict[str, Any]], key: Any) -> Optional[Dict[str, Any]]:
    rec = table.get(key) if key is not None else None
    return dict(rec) if rec is not None else None


def _int_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise GraphQLError("invalid id: %r" % (value,)) from exc


def _unix(ts: datetime) -> int:
    return int(ts.timestamp())


def _image_url(info: Any, kind: str, rec: Dict[str, Any], suffix: str = "image",
               has: str = "has_image") -> str:
    url = "%s/%s/%s/%s?t=%d" % (info.context.base_url, kind, rec["id"], suffix,
                                _unix(rec["updated_at"]))
    return url if rec.get(has) else url + "&default=true"


# ---- queries ------------------------------------------------------------------

def find_scene(_root: Any, info: Any, id: Any = None, checksum: Optional[str] = None):
    store = _store(info)
    if id is not None:
        return store.scene(_int_id(id))
    if checksum:
        for scene in store.all_scenes():
            if any(fp["value"] == checksum for fl in scene["files"] for fp in fl["fingerprints"]):
                return scene
    return None


def find_scenes(_root: Any, info: Any, filter: Any = None, scene_filter: Any = None,
                scene_ids: Any = None, ids: Any = None):
    store = _store(info)
    wanted = [_int_id(i) for i in ids] if ids else [int(i) for i in scene_ids or []]
    if wanted:
        # Stash's FindMany: filter and paging are ignored, order follows the ids, and
        # one missing id fails the whole query.
        # Looked up by id, as Stash's FindMany does: the cost follows the ids asked, not the library.
        found = {sid: scene for sid in set(wanted) for scene in (store.scene(sid),) if scene is not None}
        scenes = []
        for sid in wanted:
            if sid not in found:
                raise GraphQLError("scene with id %d not found" % sid)
            scenes.append(found.pop(sid))
        matching = page = scenes
    else:
        try:
            matching, page = filters.find_scenes(store, filter, scene_filter, None)
        except filters.FilterError as exc:
            raise GraphQLError(str(exc)) from exc
    files = [s["files"][0] for s in matching if s["files"]]
    return {"count": len(matching), "scenes": page,
            "duration": lambda *_: float(sum(f["duration"] for f in files)),
            "filesize": lambda *_: float(sum(f["size"] for f in files))}


def _finder(kind: str, list_key: str, filter_arg: str):
    def resolve(_root: Any, info: Any, filter: Any = None, ids: Any = None, **kwargs: Any):
        store = _store(info)
        id_list = [_int_id(i) for i in ids] if ids else None
        if id_list is None and kwargs.get("performer_ids"):
            id_list = list(kwargs["performer_ids"])
        try:
            count, page = filters.find_named(store, store.table(kind), filter,
                                             kwargs.get(filter_arg), id_list)
        except filters.FilterError as exc:
            raise GraphQLError(str(exc)) from exc
        return {"count": count, list_key: page}
    return resolve


def _getter(kind: str):
    def resolve(_root: Any, info: Any, id: Any):
        store = _store(info)
        with store.lock:
            return _copy(store.table(kind), _int_id(id))
    return resolve


def configuration(_root: Any, info: Any):
    return {"general": lambda *_: info.context.app.general_config(), "ui": {}}


def config_plugins(_root: Any, info: Any, include: Optional[List[str]] = None):
    return _store(info).plugins_config(include)


# ---- scene fields -------------------------------------------------------------

def scene_paths(scene: Dict[str, Any], info: Any) -> Dict[str, Any]:
    base = "%s/scene/%d" % (info.context.base_url, scene["id"])
    return {"screenshot": "%s/screenshot?t=%d" % (base, _unix(scene["updated_at"])),
            "preview": base + "/preview", "stream": base + "/stream",
            "webp": base + "/webp", "vtt": base + "/vtt/thumbs",
            "sprite": base + "/vtt/sprite", "funscript": base + "/funscript",
            "interactive_heatmap": base + "/interactive_heatmap",
            "caption": base + "/caption"}


def _stash_ids(rec: Dict[str, Any], _info: Any) -> List[Dict[str, Any]]:
    return [dict(s, updated_at=s.get("updated_at") or rec["updated_at"])
            for s in rec.get("stash_ids") or []]


def _many(kind: str, key: str):
    def resolve(rec: Dict[str, Any], info: Any) -> List[Dict[str, Any]]:
        store = _store(info)
        with store.lock:
            table = store.table(kind)
            return [dict(table[i]) for i in rec.get(key) or [] if i in table]
    return resolve


def scene_groups(scene: Dict[str, Any], info: Any) -> List[Dict[str, Any]]:
    store = _store(info)
    with store.lock:
        return [{"group": dict(store.groups[g]), "scene_index": idx}
                for g, idx in scene["groups"] if g in store.groups]


def scene_studio(scene: Dict[str, Any], info: Any):
    store = _store(info)
    with store.lock:
        return _copy(store.studios, scene["studio_id"])


def file_folder(rec: Dict[str, Any], info: Any):
    store = _store(info)
    with store.lock:
        return _copy(store.folders_by_id, rec["parent_folder_id"])


def file_fingerprint(rec: Dict[str, Any], _info: Any, type: str):
    for fp in rec["fingerprints"]:
        if fp["type"] == type:
            return fp["value"]
    return None


# ---- related object fields ----------------------------------------------------

def _scenes_by(info: Any, kind: str) -> Dict[int, List[Dict[str, Any]]]:
    """Scenes grouped by related id, built once per request (counts on every row)."""
    memo = info.context.memo
    if "by" not in memo:
        by: Dict[str, Dict[int, List[Dict[str, Any]]]] = {
            "tag": {}, "performer": {}, "studio": {}, "group": {}}
        for scene in _store(info).all_scenes():
            keys = [("tag", t) for t in scene["tag_ids"]]
            keys += [("performer", p) for p in scene["performer_ids"]]
            keys += [("group", g) for g, _ in scene["groups"]]
            if scene["studio_id"] is not None:
                keys.append(("studio", scene["studio_id"]))
            for k, obj_id in keys:
                by[k].setdefault(obj_id, []).append(scene)
        memo["by"] = by
    return memo["by"][kind]


def studio_scene_count(rec: Dict[str, Any], info: Any, depth: Optional[int] = None) -> int:
    ids = studio_descendants(_store(info), rec["id"], depth) if depth else [rec["id"]]
    by = _scenes_by(info, "studio")
    return sum(len(by.get(i, [])) for i in ids)


def studio_children(rec: Dict[str, Any], info: Any) -> List[Dict[str, Any]]:
    store = _store(info)
    with store.lock:
        return [dict(s) for s in store.studios.values() if s["parent_id"] == rec["id"]]


def studio_parent(rec: Dict[str, Any], info: Any):
    store = _store(info)
    with store.lock:
        return _copy(store.studios, rec["parent_id"])


def tag_children(rec: Dict[str, Any], info: Any) -> List[Dict[str, Any]]:
    store = _store(info)
    with store.lock:
        return [dict(t) for t in store.tags.values() if rec["id"] in t["parent_ids"]]


def group_containing(rec: Dict[str, Any], info: Any) -> List[Dict[str, Any]]:
    store = _store(info)
    with store.lock:
        return [{"group": dict(store.groups[g]), "description": None}
                for g in rec.get("containing_ids", []) if g in store.groups]


def group_subs(rec: Dict[str, Any], info: Any) -> List[Dict[str, Any]]:
    store = _store(info)
    with store.lock:
        return [{"group": dict(g), "description": None} for g in store.groups.values()
                if rec["id"] in g.get("containing_ids", [])]


def group_scene_count(rec: Dict[str, Any], info: Any, depth: Optional[int] = None) -> int:
    """Stash counts with the hierarchical groups filter: scenes of sub-groups too."""
    by = _scenes_by(info, "group")
    with _store(info).lock:
        ids = group_descendants(_store(info), rec["id"], depth) if depth else [rec["id"]]
    return len({s["id"] for i in ids for s in by.get(i, [])})


def group_studio(rec: Dict[str, Any], info: Any):
    store = _store(info)
    with store.lock:
        return _copy(store.studios, rec["studio_id"])


def _scenes_with(kind: str):
    def resolve(rec: Dict[str, Any], info: Any, depth: Optional[int] = None):
        return list(_scenes_by(info, kind).get(rec["id"], []))
    return resolve


def _scene_count(kind: str):
    def resolve(rec: Dict[str, Any], info: Any, depth: Optional[int] = None) -> int:
        return len(_scenes_by(info, kind).get(rec["id"], []))
    return resolve


def _resolvers() -> Dict[str, Dict[str, Any]]:
    const = lambda value: (lambda *_a, **_k: value)  # noqa: E731
    return {
        "Query": {
            "findScene": find_scene, "findScenes": find_scenes,
            "findStudio": _getter("studio"), "findPerformer": _getter("performer"),
            "findTag": _getter("tag"), "findGroup": _getter("group"),
            "findStudios": _finder("studio", "studios", "studio_filter"),
            "findPerformers": _finder("performer", "performers", "performer_filter"),
            "findTags": _finder("tag", "tags", "tag_filter"),
            "findGroups": _finder("group", "groups", "group_filter"),
            "configuration": configuration,
            "version": lambda _r, info: info.context.app.version_info(),
            "systemStatus": lambda _r, info: info.context.app.system_status(),
            "plugins": lambda _r, info: info.context.app.plugin_list(),
        },
        "ConfigResult": {"plugins": config_plugins},
        "Scene": {
            "url": lambda s, _i: (s["urls"] or [""])[0], "paths": scene_paths,
            "studio": scene_studio, "performers": _many("performer", "performer_ids"),
            "tags": _many("tag", "tag_ids"), "groups": scene_groups,
            "stash_ids": _stash_ids, "play_history": lambda s, _i: sorted(s.get("play_history") or [], reverse=True), "o_history": const([]),
            "captions": const(None),
        },
        "VideoFile": {"parent_folder": file_folder, "fingerprint": file_fingerprint},
        "Folder": {"parent_folder": file_folder},
        "Studio": {
            "url": lambda r, _i: r["url"], "urls": lambda r, _i: [r["url"]] if r["url"] else [],
            "parent_studio": studio_parent, "child_studios": studio_children,
            "tags": _many("tag", "tag_ids"), "stash_ids": _stash_ids,
            "image_path": lambda r, i: _image_url(i, "studio", r),
            "scene_count": studio_scene_count,
        },
        "Performer": {
            "tags": _many("tag", "tag_ids"), "stash_ids": _stash_ids,
            "image_path": lambda r, i: _image_url(i, "performer", r),
            "scene_count": _scene_count("performer"), "scenes": _scenes_with("performer"),
        },
        "Tag": {
            "parents": _many("tag", "parent_ids"), "children": tag_children,
            "parent_count": lambda r, _i: len(r["parent_ids"]),
            "child_count": lambda r, i: len(tag_children(r, i)),
            "image_path": lambda r, i: _image_url(i, "tag", r),
            "scene_count": _scene_count("tag"),
        },
        "Group": {
            "studio": group_studio, "tags": _many("tag", "tag_ids"),
            "containing_groups": group_containing, "sub_groups": group_subs,
            "front_image_path": lambda r, i: _image_url(i, "group", r, "frontimage"),
            "back_image_path": lambda r, i: (_image_url(i, "group", r, "backimage",
                                                        "has_back_image")
                                             if r.get("has_back_image") else None),
            "scene_count": group_scene_count, "scenes": _scenes_with("group"),
        },
    }


@lru_cache(maxsize=1)
def schema() -> GraphQLSchema:
    """Build the schema once per process; it holds no per-emulator state."""
    sdl = Path(__file__).with_name("schema.graphql").read_text(encoding="utf-8")
    built = build_schema(sdl)
    time_type = built.type_map["Time"]
    to_text = (lambda v: rfc3339(v) if isinstance(v, datetime) else v)  # noqa: E731
    # graphql-core 3.2 calls serialize(); 3.3 calls coerce_output_value().
    for attr in ("serialize", "coerce_output_value"):
        setattr(time_type, attr, to_text)
    for type_name, fields in list(_resolvers().items()) + list(package_api.RESOLVERS.items()):
        gql_type = built.type_map[type_name]
        for field_name, fn in fields.items():
            gql_type.fields[field_name].resolve = fn  # type: ignore[attr-defined]
    for field_name, fn in list(mutations.RESOLVERS.items()) + list(activity.RESOLVERS.items()):
        built.mutation_type.fields[field_name].resolve = fn  # type: ignore[union-attr]
    return built
