"""The hook's JSON (plugin/protocol.py loads/dumps) gives exactly what the json package gives."""

import json

import pytest

from plugin.protocol import dumps, loads

TEXTS = ['{"a": 1}', '  {"a": [1, 2, {"b": null}], "c": "\\u00e9x\\n"}\n', "[1] x", "", '{"a":1,}',
         '"s"', "1e400", '{"a": 1} \n\t', "\ufeff{}", "{server_connection: nope", "[" * 100000,
         '{"id": "12", "inputFields": ["title"], "f": -0.5e3, "t": true, "n": null}']


def _outcome(parse, text):
    try:
        return "ok", parse(text)
    except RecursionError:
        return "deep", None
    except ValueError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("text", TEXTS)
def test_loads_is_json_loads(text):
    assert _outcome(loads, text) == _outcome(json.loads, text)


@pytest.mark.parametrize("value", [
    {"output": {"queued": True, "scene_id": 5, "drainer_started": False, "spooled": 'é "x"\n\u2028'}},
    {"error": "could not queue scene 3: disk full"}, {"output": {"a": 1.5, "b": [1]}}, {"output": None},
    {"data_dir": "C:\\Stash\\plugins", "server_connection": {"Port": 9999, "SessionCookie": {"Name": "s"}}},
])
def test_dumps_is_json_dumps(value):
    assert dumps(value) == json.dumps(value, ensure_ascii=False, default=str)
