"""Mutation resolvers: scene edits, creations, destruction, settings, plugin runs.

Each scene mutation queues the hook event Stash would fire after its transaction
commits: the hook type, the scene id, the input as Stash's Go struct marshals it and
the names of the fields the client actually sent. Hand-written structs in pkg/models
(SceneUpdateInput, SceneDestroyInput) marshal every field, null when not sent;
gqlgen-generated ones (BulkSceneUpdateInput) tag nullable fields `omitempty`, so only
set values appear. The HTTP layer runs those hooks before it answers, because Stash
makes the mutation wait for every hook process.
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Dict, List, Optional

from graphql import (GraphQLError, GraphQLInputObjectType, GraphQLList, GraphQLNonNull,
                     is_input_object_type)

from testbed.stash.store import NotFound, Store

DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
SCALAR_SCENE_FIELDS = ("title", "code", "details", "director", "rating100", "organized",
                       "resume_time", "play_duration")


def _store(info: Any) -> Store:
    return info.context.app.store


def full_input(value: Any, gql_type: Any) -> Any:
    """Expand a coerced input value to every declared field, recursively."""
    while isinstance(gql_type, GraphQLNonNull):
        gql_type = gql_type.of_type
    if value is None:
        return None
    if isinstance(gql_type, GraphQLList):
        return [full_input(v, gql_type.of_type) for v in value]
    if is_input_object_type(gql_type):
        assert isinstance(gql_type, GraphQLInputObjectType)
        return {name: full_input(value.get(name), fld.type)
                for name, fld in gql_type.fields.items()}
    return value


def omitempty_input(value: Any, gql_type: Any) -> Any:
    """A coerced input as a gqlgen-generated Go model marshals it.

    gqlgen tags every nullable field `json:",omitempty"`: nil pointers and empty
    slices vanish; non-null fields and set scalars (even "" or false) stay.
    """
    while isinstance(gql_type, GraphQLNonNull):
        gql_type = gql_type.of_type
    if isinstance(gql_type, GraphQLList):
        return [omitempty_input(v, gql_type.of_type) for v in value]
    if not is_input_object_type(gql_type):
        return value
    assert isinstance(gql_type, GraphQLInputObjectType)
    out = {}
    for name, fld in gql_type.fields.items():
        item = value.get(name)
        if not isinstance(fld.type, GraphQLNonNull) and (item is None or item == []):
            continue
        out[name] = omitempty_input(item, fld.type)
    return out


def _queue(info: Any, hook_type: str, scene_id: int, value: Any, type_name: str,
           fields: Optional[List[str]]) -> None:
    full = full_input(value, info.schema.type_map[type_name]) if value is not None else None
    info.context.events.append((hook_type, scene_id, full, fields))


def _image_bytes(data_url: str) -> bytes:
    """Decode a base64 data URL; Stash would download an http URL, we refuse it."""
    match = re.match(r"^data:[^;,]*;base64,(.*)$", data_url, re.S)
    if not match:
        raise GraphQLError("emulator accepts only base64 data URLs for images")
    try:
        return base64.b64decode(match.group(1), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise GraphQLError("invalid base64 image: %s" % exc) from exc


def _date(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    if not DATE_RE.match(value):
        raise GraphQLError("invalid date: %s" % value)
    return value


def scene_fields(given: Dict[str, Any]) -> Dict[str, Any]:
    """SceneUpdateInput/SceneCreateInput keys -> Store.update_scene fields.

    o_counter and play_count are accepted but ignored: Stash marks them "Unsupported"
    in SceneUpdateInput. The save still bumps updated_at.
    """
    out: Dict[str, Any] = {}
    for key in SCALAR_SCENE_FIELDS:
        if key in given:
            out[key] = given[key]
    if "organized" in out and out["organized"] is None:
        out["organized"] = False
    if "url" in given:
        out["urls"] = [given["url"]] if given["url"] else []
    if "urls" in given:
        out["urls"] = list(given["urls"] or [])
    if "date" in given:
        out["date"] = _date(given["date"])
    if "studio_id" in given:
        out["studio_id"] = int(given["studio_id"]) if given["studio_id"] else None
    for key in ("performer_ids", "tag_ids"):
        if key in given:
            out[key] = [int(i) for i in given[key] or []]
    # Stash prefers groups; the deprecated movies fill them only when groups is absent
    # (scenePartialFromInput; sceneCreate tests for a non-empty list instead).
    if "groups" in given:
        out["groups"] = [(int(g["group_id"]), g.get("scene_index")) for g in given["groups"] or []]
    elif "movies" in given:
        out["groups"] = [(int(m["movie_id"]), m.get("scene_index")) for m in given["movies"] or []]
    if "stash_ids" in given:
        out["stash_ids"] = [{"endpoint": s["endpoint"], "stash_id": s["stash_id"],
                             "updated_at": s.get("updated_at")} for s in given["stash_ids"] or []]
    return out


def _apply_update(info: Any, given: Dict[str, Any]) -> Dict[str, Any]:
    store = _store(info)
    scene_id = int(given["id"])
    try:
        scene = store.update_scene(scene_id, **scene_fields(given))
    except NotFound as exc:
        raise GraphQLError("%s not found" % exc) from exc
    if given.get("cover_image"):
        store.set_image("scene", scene_id, _image_bytes(given["cover_image"]), bump=False)
        scene = store.scene(scene_id) or scene
    return scene


def scene_update(_root: Any, info: Any, input: Dict[str, Any]):
    scene = _apply_update(info, input)
    _queue(info, "Scene.Update.Post", scene["id"], input, "SceneUpdateInput", list(input))
    return scene


def scenes_update(_root: Any, info: Any, input: List[Dict[str, Any]]):
    """Every scene's hook gets the WHOLE input list; only inputFields is per scene.

    Stash's ScenesUpdate hands `input` (the []*SceneUpdateInput) to ExecutePostHooks
    for each scene, with that scene's own input map for the field names.
    """
    out = [_apply_update(info, item) for item in input]
    whole = full_input(input, GraphQLList(info.schema.type_map["SceneUpdateInput"]))
    for scene, item in zip(out, input):
        info.context.events.append(("Scene.Update.Post", scene["id"], whole, list(item)))
    return out


def _bulk_ids(current: List[Any], spec: Optional[Dict[str, Any]], convert) -> List[Any]:
    if spec is None:
        return current
    values = [convert(v) for v in spec.get("ids", spec.get("values")) or []]
    mode = spec["mode"]
    if mode == "SET":
        return values
    if mode == "ADD":
        return current + [v for v in values if v not in current]
    return [v for v in current if v not in values]


def bulk_scene_update(_root: Any, info: Any, input: Dict[str, Any]):
    store = _store(info)
    out = []
    for raw_id in input.get("ids") or []:
        scene = store.scene(int(raw_id))
        if scene is None:
            raise GraphQLError("scene with id %s not found" % raw_id)
        given = {k: v for k, v in input.items()
                 if k in SCALAR_SCENE_FIELDS + ("date", "studio_id")}
        fields = scene_fields(given)
        fields["performer_ids"] = _bulk_ids(scene["performer_ids"], input.get("performer_ids"), int)
        fields["tag_ids"] = _bulk_ids(scene["tag_ids"], input.get("tag_ids"), int)
        # urls wins over the deprecated url, which replaces the list (optionalURLsBulk).
        if "urls" not in input and "url" in input:
            fields["urls"] = [input["url"]] if input["url"] else []
        else:
            fields["urls"] = _bulk_ids(scene["urls"], input.get("urls"), str)
        current_groups = [g for g, _ in scene["groups"]]
        groups_spec = input.get("group_ids") if "group_ids" in input else input.get("movie_ids")
        wanted = _bulk_ids(current_groups, groups_spec, int)
        index = dict(scene["groups"])
        fields["groups"] = [(g, index.get(g)) for g in wanted]
        try:
            updated = store.update_scene(scene["id"], **fields)
        except NotFound as exc:
            raise GraphQLError("%s not found" % exc) from exc
        out.append(updated)
    # One hook per scene, each with the one bulk input (BulkSceneUpdate in Stash).
    bulk = omitempty_input(input, info.schema.type_map["BulkSceneUpdateInput"])
    for updated in out:
        info.context.events.append(("Scene.Update.Post", updated["id"], bulk, list(input)))
    return out


def scene_create(_root: Any, info: Any, input: Dict[str, Any]):
    store = _store(info)
    if input.get("file_ids"):
        raise GraphQLError("emulator cannot assign files by id; use add_scene(files=...)")
    given = dict(input)
    if not given.get("groups"):  # sceneCreate: an empty groups list lets movies through
        given.pop("groups", None)
    try:
        scene_id = store.add_scene(**scene_fields(given))
    except NotFound as exc:
        raise GraphQLError("%s not found" % exc) from exc
    if input.get("cover_image"):
        store.set_image("scene", scene_id, _image_bytes(input["cover_image"]), bump=False)
    # Real Stash fires Scene.Create.Post with input null and no inputFields
    # (pkg/scene/create.go): only the id tells the plugin which scene.
    _queue(info, "Scene.Create.Post", scene_id, None, "SceneCreateInput", None)
    return store.scene(scene_id)


def _destroy(info: Any, scene_id: int, input: Dict[str, Any], type_name: str) -> None:
    store = _store(info)
    scene = store.scene(scene_id)
    if scene is None:
        raise GraphQLError("scene with id %d not found" % scene_id)
    store.delete_scene(scene_id)
    full = full_input(input, info.schema.type_map[type_name])
    first = scene["files"][0] if scene["files"] else {}
    oshash = next((fp["value"] for fp in first.get("fingerprints", [])
                   if fp["type"] == "oshash"), "")
    # Stash's destroy hooks add the primary file's checksum, oshash and path to the
    # input (plugin.SceneDestroyInput / ScenesDestroyInput in pkg/plugin/hooks.go) and
    # pass nil inputFields (internal/api/resolver_mutation_scene.go SceneDestroy and
    # ScenesDestroy: ExecutePostHooks(..., nil)); HookContext tags inputFields
    # omitempty (pkg/plugin/common/msg.go), so the hook gets no inputFields at all.
    full.update(checksum="", oshash=oshash, path=first.get("path", ""))
    info.context.events.append(("Scene.Destroy.Post", scene_id, full, None))


def scene_destroy(_root: Any, info: Any, input: Dict[str, Any]) -> bool:
    _destroy(info, int(input["id"]), input, "SceneDestroyInput")
    return True


def scenes_destroy(_root: Any, info: Any, input: Dict[str, Any]) -> bool:
    for raw_id in input["ids"]:
        _destroy(info, int(raw_id), input, "ScenesDestroyInput")
    return True


def scene_generate_screenshot(_root: Any, info: Any, id: Any, at: Optional[float] = None) -> str:
    try:
        _store(info).set_image("scene", int(id), None)
    except NotFound as exc:
        raise GraphQLError("%s not found" % exc) from exc
    return info.context.app.next_job_id()


def _creator(kind: str):
    def resolve(_root: Any, info: Any, input: Dict[str, Any]):
        store = _store(info)
        args = {k: v for k, v in input.items() if v is not None}
        image = args.pop("image", None) or args.pop("front_image", None)
        name = args.pop("name")
        if "tag_ids" in args:
            args["tag_ids"] = [int(i) for i in args["tag_ids"]]
        try:
            if kind == "studio":
                urls = args.pop("urls", [])
                parent = args.pop("parent_id", None)
                new_id = store.add_studio(name, parent_id=int(parent) if parent else None,
                                          image=bool(image), url=(urls or [""])[0], **args)
            elif kind == "performer":
                new_id = store.add_performer(name, image=bool(image), **args)
            elif kind == "tag":
                parents = [int(i) for i in args.pop("parent_ids", [])]
                new_id = store.add_tag(name, parent_ids=parents, **args)
            else:
                studio = args.pop("studio_id", None)
                related = {key: [int(d["group_id"]) for d in args.pop(field, [])]
                           for key, field in (("containing_ids", "containing_groups"),
                                              ("sub_ids", "sub_groups"))}
                new_id = store.add_group(name, studio_id=int(studio) if studio else None,
                                         image=bool(image), **related, **args)
        except NotFound as exc:
            raise GraphQLError("%s not found" % exc) from exc
        if image:
            store.set_image(kind, new_id, _image_bytes(image), bump=False)
        with store.lock:
            return dict(store.table(kind)[new_id])
    return resolve


def configure_plugin(_root: Any, info: Any, plugin_id: str, input: Dict[str, Any]):
    if not isinstance(input, dict):
        raise GraphQLError("input must be a map")
    result = _store(info).configure_plugin(plugin_id, input)
    info.context.app.settings_changed()
    return result


def generate_api_key(_root: Any, info: Any, input: Dict[str, Any]) -> str:
    try:
        return info.context.app.generate_api_key(bool(input.get("clear")))
    except ValueError as exc:
        raise GraphQLError(str(exc)) from exc


def _plugin_arg(value: Optional[Dict[str, Any]]) -> Any:
    """PluginValueInput -> plain value, as Stash's toPluginArgs converts it."""
    if not value:
        return None
    for key in ("str", "i", "b", "f"):
        if value.get(key) is not None:
            return value[key]
    if value.get("o") is not None:
        return {a["key"]: _plugin_arg(a.get("value")) for a in value["o"]}
    if value.get("a") is not None:
        return [_plugin_arg(v) for v in value["a"]]
    return None


def run_plugin_task(_root: Any, info: Any, plugin_id: str, task_name: Optional[str] = None,
                    description: Optional[str] = None, args: Any = None,
                    args_map: Optional[Dict[str, Any]] = None) -> str:
    merged = dict(args_map or {})
    for arg in args or []:
        merged.setdefault(arg["key"], _plugin_arg(arg.get("value")))
    try:
        return info.context.app.run_plugin_task(plugin_id, task_name, merged,
                                                info.context.visited)
    except (KeyError, ValueError) as exc:
        raise GraphQLError(str(exc)) from exc


def run_plugin_operation(_root: Any, info: Any, plugin_id: str,
                         args: Optional[Dict[str, Any]] = None) -> Any:
    try:
        result = info.context.app.run_plugin_operation(plugin_id, args or {},
                                                       info.context.visited)
    except (KeyError, ValueError) as exc:
        raise GraphQLError(str(exc)) from exc
    if result.error is not None:
        raise GraphQLError(result.error)
    return result.output


RESOLVERS = {
    "sceneCreate": scene_create, "sceneUpdate": scene_update,
    "bulkSceneUpdate": bulk_scene_update, "scenesUpdate": scenes_update,
    "sceneDestroy": scene_destroy, "scenesDestroy": scenes_destroy,
    "sceneGenerateScreenshot": scene_generate_screenshot,
    "studioCreate": _creator("studio"), "performerCreate": _creator("performer"),
    "tagCreate": _creator("tag"), "groupCreate": _creator("group"),
    "configurePlugin": configure_plugin, "generateAPIKey": generate_api_key,
    "runPluginTask": run_plugin_task, "runPluginOperation": run_plugin_operation,
}
