"""Fuzzed stdin: anything Stash could never send is one ProtocolError, never a traceback.

Documents are built from arbitrary JSON values in every place the plugin reads, and
the whole path a run takes before any network call (parse, data dir, the launch
document a drainer would get) must either reject them with a ProtocolError or work.
"""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.datadir import resolve_data_dir
from plugin.hook import changed_metadata
from plugin.protocol import ProtocolError, parse_input

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
CONNECTION = st.fixed_dictionaries({}, optional={
    "Scheme": JSON, "Host": JSON, "Port": JSON, "Dir": JSON, "PluginDir": JSON,
    "SessionCookie": JSON | st.fixed_dictionaries({}, optional={"Name": JSON, "Value": JSON}),
})
HOOK = st.fixed_dictionaries({}, optional={"id": JSON, "type": JSON, "input": JSON, "inputFields": JSON})
ARGS = st.fixed_dictionaries({}, optional={"mode": JSON, "hookContext": HOOK | JSON})
DOC = st.fixed_dictionaries({}, optional={"server_connection": CONNECTION | JSON, "args": ARGS | JSON})


def _run_front(raw: str) -> None:
    try:
        request = parse_input(raw)
    except ProtocolError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    data_dir = resolve_data_dir(request.server_connection)
    assert isinstance(data_dir, str) and data_dir
    cookie = request.server_connection.get("SessionCookie") or {}
    assert isinstance(cookie, dict)
    (cookie.get("Value") or "").encode("utf-8", "replace")
    assert isinstance(request.mode, str)
    if request.hook is not None:
        assert isinstance(request.hook.scene_id, int) and request.hook.scene_id > 0
        assert changed_metadata(request.hook) in (True, False)


@settings(max_examples=400, deadline=None)
@given(DOC)
def test_any_document_is_parsed_or_rejected_in_one_line(doc):
    _run_front(json.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_parsed_or_rejected_in_one_line(text):
    _run_front(text)


def test_deep_nesting_is_rejected_not_a_recursion_error():
    deep = '{"server_connection": {}, "args": ' + "[" * 50_000 + "]" * 50_000 + "}"
    try:
        parse_input(deep)
    except ProtocolError as exc:
        assert "nested" in str(exc)
    else:
        raise AssertionError("accepted a document nested 50,000 deep")
