"""Parsing Stash's stdin document: what Stash sends is accepted, anything else is named."""

import json

import pytest

from plugin.protocol import ProtocolError, parse_input, reply

CONN = {"Scheme": "http", "Host": "0.0.0.0", "Port": 9999, "Dir": "/cfg", "PluginDir": "/cfg/plugins/Stash2Plex"}


def doc(args):
    return json.dumps({"server_connection": CONN, "args": args})


def test_task_args_arrive_as_strings():
    request = parse_input(doc({"mode": "sync_recent", "hours": "24"}))
    assert request.mode == "sync_recent" and request.hook is None


def test_update_hook_keeps_input_fields():
    ctx = {"id": 45, "type": "Scene.Update.Post", "input": {"id": "45", "title": "x"}, "inputFields": ["id", "title"]}
    request = parse_input(doc({"hookContext": ctx}))
    assert request.hook.scene_id == 45
    assert request.hook.input_fields == ["id", "title"]


def test_multi_scene_hook_inputs_still_name_the_scene_and_its_fields():
    # scenesUpdate hands every hook the whole input list; bulkSceneUpdate the bulk
    # input; single saves carry the deprecated movies as null. Only id and
    # inputFields decide what is queued.
    listed = {"id": 46, "type": "Scene.Update.Post", "inputFields": ["id", "title"],
              "input": [{"id": "45", "title": "a", "movies": None}, {"id": "46", "title": "b", "movies": None}]}
    bulk = {"id": 47, "type": "Scene.Update.Post", "inputFields": ["ids", "tag_ids"],
            "input": {"ids": ["47", "48"], "tag_ids": {"ids": ["3"], "mode": "ADD"}}}
    for ctx in (listed, bulk):
        hook = parse_input(doc({"hookContext": ctx})).hook
        assert hook.scene_id == ctx["id"] and hook.input_fields == ctx["inputFields"]
    assert parse_input(doc({"hookContext": listed})).hook.input is None  # not a single scene's input


def test_create_hook_has_no_input():
    request = parse_input(doc({"hookContext": {"id": "7", "type": "Scene.Create.Post", "input": None}}))
    assert request.hook.scene_id == 7 and request.hook.input_fields is None and request.hook.input is None


@pytest.mark.parametrize(
    "raw, phrase",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("{not json", "not JSON"),
        ("[]", "object"),
        ('{"args": {}}', "server_connection"),
        (json.dumps({"server_connection": CONN, "args": []}), "args must be"),
        (doc({"hookContext": {"id": "abc", "type": "Scene.Update.Post"}}), "numeric scene id"),
        (doc({"hookContext": {"id": None}}), "numeric scene id"),
        (doc({"hookContext": {"id": True}}), "scene id"),
        (doc({"hookContext": {"id": -3}}), "positive"),
        (doc({"hookContext": {"id": 3, "inputFields": "title"}}), "inputFields"),
    ],
)
def test_bad_input_is_named(raw, phrase):
    with pytest.raises(ProtocolError) as info:
        parse_input(raw)
    assert phrase in str(info.value)


def test_reply_is_one_json_object():
    assert json.loads(reply({"a": 1})) == {"output": {"a": 1}}
    assert json.loads(reply(error="bad")) == {"error": "bad"}
