"""Where the Stash emulator follows real Stash's shapes, not the product's needs.

Hook inputs as Stash marshals its Go structs (every field, deprecated `movies: null`
included; the whole list for scenesUpdate; only the set fields for a bulk edit), the
deprecated inputs it still accepts, and the hierarchical groups filter. Facts from
stashapp/stash: pkg/models/scene.go, internal/api/resolver_mutation_scene.go,
graphql/schema/types/filters.graphql, pkg/sqlite/criterion_handlers.go.
"""
from __future__ import annotations

from typing import Any, Dict, List

import pytest
from stashapi.stashapp import StashInterface

from testbed.runner import SCENE_UPDATE_INPUT_FIELDS
from testbed.stash import StashEmulator
from testbed.stash.resolvers import schema
from tests.testbed.conftest_stash import FIND, stashapi_conn


# -- hook inputs as real Stash marshals them ------------------------------------------

SCENES_UPDATE = """mutation($input: [SceneUpdateInput!]!) { scenesUpdate(input: $input) { id } }"""
BULK_UPDATE = """mutation($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"""


def test_update_hook_input_carries_deprecated_movies_as_null(stash_emu, sample_plugin):
    # pkg/models.SceneUpdateInput still has `Movies []SceneMovieInput json:"movies"` (no
    # omitempty), so every Scene.Update.Post input holds "movies": null when not sent.
    stash_emu.register_plugin(str(sample_plugin))
    scene_id = stash_emu.add_scene(title="old")
    StashInterface(stashapi_conn(stash_emu)).update_scene({"id": scene_id, "title": "new"})
    ctx = stash_emu.hook_runs[-1].result.output["args"]["hookContext"]
    assert "movies" in ctx["input"] and ctx["input"]["movies"] is None
    assert ctx["input"]["groups"] is None and ctx["inputFields"] == ["id", "title"]
    stash_emu.update_scene(scene_id, details="UI save")  # the Python UI-save path too
    assert stash_emu.hook_runs[-1].result.output["args"]["hookContext"]["input"]["movies"] is None


def test_update_with_deprecated_movies_sets_groups(stash_emu):
    # Real Stash: groups win when sent; otherwise movies fill the scene's groups.
    group = stash_emu.add_group("Old style")
    scene_id = stash_emu.add_scene(title="m")
    stash = StashInterface(stashapi_conn(stash_emu))
    stash.call_GQL("mutation($i: SceneUpdateInput!) { sceneUpdate(input: $i) { id } }",
                   {"i": {"id": scene_id, "movies": [{"movie_id": group, "scene_index": 3}]}})
    assert stash_emu.scene(scene_id)["groups"] == [(group, 3)]
    deprecated = {f["name"]: f["isDeprecated"] for f in stash.call_GQL(
        '{ __type(name: "SceneUpdateInput") { inputFields(includeDeprecated: true) '
        '{ name isDeprecated } } }')["__type"]["inputFields"]}
    assert deprecated["movies"] is True and deprecated["groups"] is False


def test_scenes_update_passes_the_whole_list_to_every_hook(stash_emu, sample_plugin):
    # internal/api ScenesUpdate calls ExecutePostHooks(ctx, scene.ID, ..., input, fields)
    # with `input` the whole []*SceneUpdateInput; only inputFields is per scene.
    stash_emu.register_plugin(str(sample_plugin))
    a, b = stash_emu.add_scene(title="a"), stash_emu.add_scene(title="b")
    stash = StashInterface(stashapi_conn(stash_emu))
    stash.call_GQL(SCENES_UPDATE, {"input": [{"id": a, "title": "A"},
                                             {"id": b, "details": "B", "tag_ids": []}]})
    assert [r.scene_id for r in stash_emu.hook_runs] == [a, b]
    ctxs = [r.result.output["args"]["hookContext"] for r in stash_emu.hook_runs]
    assert ctxs[0]["inputFields"] == ["id", "title"]
    assert ctxs[1]["inputFields"] == ["id", "details", "tag_ids"]
    for ctx in ctxs:
        assert isinstance(ctx["input"], list) and len(ctx["input"]) == 2
        assert [list(item) for item in ctx["input"]] == [list(SCENE_UPDATE_INPUT_FIELDS)] * 2
        assert [item["id"] for item in ctx["input"]] == [str(a), str(b)]
        assert ctx["input"][0]["title"] == "A" and ctx["input"][1]["tag_ids"] == []
        assert ctx["input"][0]["movies"] is None
    assert stash_emu.scene(a)["title"] == "A" and stash_emu.scene(b)["details"] == "B"


def test_bulk_update_hook_input_is_the_bulk_input_as_go_marshals_it(stash_emu, sample_plugin):
    # BulkSceneUpdateInput is a gqlgen-generated model: nullable fields carry
    # json:",omitempty", so the hook sees only what was set, not every field.
    stash_emu.register_plugin(str(sample_plugin))
    ids = [stash_emu.add_scene(title="b%d" % i) for i in range(2)]
    tag = stash_emu.add_tag("Bulk")
    stash = StashInterface(stashapi_conn(stash_emu))
    stash.call_GQL(BULK_UPDATE, {"input": {"ids": ids, "organized": False, "details": "",
                                           "tag_ids": {"ids": [tag], "mode": "ADD"},
                                           "studio_id": None}})
    ctxs = [r.result.output["args"]["hookContext"] for r in stash_emu.hook_runs]
    assert [c["id"] for c in ctxs] == ids
    for ctx in ctxs:
        assert ctx["input"] == {"ids": [str(i) for i in ids], "details": "", "organized": False,
                                "tag_ids": {"ids": [str(tag)], "mode": "ADD"}}
        # Go ranges over the input map: inputFields order is random in real Stash.
        assert sorted(ctx["inputFields"]) == ["details", "ids", "organized", "studio_id", "tag_ids"]


def test_bulk_update_accepts_deprecated_url_and_movie_ids(stash_emu):
    group = stash_emu.add_group("G")
    ids = [stash_emu.add_scene(title="u%d" % i) for i in range(2)]
    stash = StashInterface(stashapi_conn(stash_emu))
    stash.call_GQL(BULK_UPDATE, {"input": {"ids": ids, "url": "https://example.org/x",
                                           "movie_ids": {"ids": [group], "mode": "SET"}}})
    for scene_id in ids:
        scene = stash_emu.scene(scene_id)
        assert scene["urls"] == ["https://example.org/x"] and scene["groups"] == [(group, None)]


# -- SceneFilterType as real Stash declares it ----------------------------------------

# Types of the SceneFilterType fields the emulator declares, as in stashapp/stash
# graphql/schema/types/filters.graphql (v0.27 to HEAD).
REAL_SCENE_FILTER_TYPES = {
    "AND": "SceneFilterType", "OR": "SceneFilterType", "NOT": "SceneFilterType",
    "id": "IntCriterionInput", "title": "StringCriterionInput", "code": "StringCriterionInput",
    "details": "StringCriterionInput", "director": "StringCriterionInput",
    "path": "StringCriterionInput", "rating100": "IntCriterionInput", "organized": "Boolean",
    "o_counter": "IntCriterionInput", "play_count": "IntCriterionInput",
    "studios": "HierarchicalMultiCriterionInput", "groups": "HierarchicalMultiCriterionInput",
    "movies": "MultiCriterionInput",
    "tags": "HierarchicalMultiCriterionInput", "performers": "MultiCriterionInput",
    "date": "DateCriterionInput", "created_at": "TimestampCriterionInput",
    "updated_at": "TimestampCriterionInput",
}


def test_scene_filter_field_types_match_real_stash():
    fields = schema().type_map["SceneFilterType"].fields
    declared = {name: str(f.type) for name, f in fields.items()}
    assert set(declared) <= set(REAL_SCENE_FILTER_TYPES)
    assert declared == {n: REAL_SCENE_FILTER_TYPES[n] for n in declared}
    hier = schema().type_map["HierarchicalMultiCriterionInput"].fields
    assert {n: str(f.type) for n, f in hier.items()} == {
        "value": "[ID!]", "modifier": "CriterionModifier!", "depth": "Int", "excludes": "[ID!]"}


def _group_tree(emu: StashEmulator) -> Dict[str, int]:
    """A contains B contains C; D stands alone. One scene per shape of membership."""
    a = emu.add_group("A")
    b = emu.add_group("B", containing_ids=[a])
    c = emu.add_group("C", containing_ids=[b])
    d = emu.add_group("D")
    return {"A": a, "B": b, "C": c, "D": d,
            "in_a": emu.add_scene(title="in a", groups=[(a, None)]),
            "in_b": emu.add_scene(title="in b", groups=[(b, 1)]),
            "in_c": emu.add_scene(title="in c", groups=[(c, None)]),
            "in_d": emu.add_scene(title="in d", groups=[(d, None)]),
            "in_cd": emu.add_scene(title="in c and d", groups=[(c, None), (d, None)]),
            "none": emu.add_scene(title="no group")}


def test_groups_filter_is_hierarchical(stash_emu):
    t = _group_tree(stash_emu)
    stash = StashInterface(stashapi_conn(stash_emu))

    def found(**crit: Any) -> List[int]:
        for key in ("value", "excludes"):
            if key in crit:
                crit[key] = [t[n] for n in crit[key]]
        got = stash.call_GQL(FIND, {"filter": {"per_page": -1},
                                    "scene_filter": {"groups": crit}})["findScenes"]["scenes"]
        names = {v: k for k, v in t.items() if k.startswith(("in_", "none"))}
        return sorted(names[int(s["id"])] for s in got)

    assert found(value=["A"], modifier="INCLUDES") == ["in_a"]
    assert found(value=["A"], modifier="INCLUDES", depth=1) == ["in_a", "in_b"]
    assert found(value=["A"], modifier="INCLUDES", depth=-1) == [
        "in_a", "in_b", "in_c", "in_cd"]
    assert found(value=["A"], modifier="INCLUDES", depth=-1, excludes=["C"]) == [
        "in_a", "in_b"]
    assert found(value=["B", "D"], modifier="INCLUDES_ALL", depth=-1) == ["in_cd"]
    assert found(value=["B"], modifier="EXCLUDES", depth=-1) == ["in_a", "in_d", "none"]
    assert found(value=["D"], modifier="EQUALS") == ["in_d"]
    assert found(modifier="IS_NULL") == ["none"]
    assert len(found(modifier="NOT_NULL")) == 5
    for bad in ({"value": [t["A"]], "modifier": "EQUALS", "depth": 1},
                {"value": [t["A"]], "modifier": "NOT_EQUALS"}):
        with pytest.raises(Exception):
            stash.call_GQL(FIND, {"scene_filter": {"groups": bad}})
    tree = stash.call_GQL("query($id: ID!) { findGroup(id: $id) { sub_groups { group { name } } "
                          "containing_groups { group { name } } } }", {"id": t["B"]})["findGroup"]
    assert tree == {"sub_groups": [{"group": {"name": "C"}}],
                    "containing_groups": [{"group": {"name": "A"}}]}


def test_group_create_links_containing_and_sub_groups(stash_emu):
    top, leaf = stash_emu.add_group("Top"), stash_emu.add_group("Leaf")
    stash = StashInterface(stashapi_conn(stash_emu))
    made = stash.call_GQL(
        "mutation($i: GroupCreateInput!) { groupCreate(input: $i) { id "
        "containing_groups { group { name } } sub_groups { group { name } } } }",
        {"i": {"name": "Middle", "containing_groups": [{"group_id": top}],
               "sub_groups": [{"group_id": leaf, "description": "part 1"}]}})["groupCreate"]
    assert made["containing_groups"] == [{"group": {"name": "Top"}}]
    assert made["sub_groups"] == [{"group": {"name": "Leaf"}}]
    scene_id = stash_emu.add_scene(title="leaf scene", groups=[(leaf, None)])
    count = stash.call_GQL("query($id: ID!) { findGroup(id: $id) { direct: scene_count "
                           "all: scene_count(depth: -1) } }", {"id": top})["findGroup"]
    assert count == {"direct": 0, "all": 1} and stash_emu.scene(scene_id)["groups"]
