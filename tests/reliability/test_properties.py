"""Property-based attacks on everything that takes outside input (promise 10).

- Scene metadata as Stash's GraphQL schema allows it (any text: lone surrogates,
  control characters, megabyte details; hundreds of tags; odd, Windows and UNC
  paths) through mapping/scene_fields.build_metadata: a PlexMetadata that Plex can
  take, or InvalidMetadata with a reason. Never any other exception.
- path_map rules and file paths through validation/pathmap: a mapped path or a ValueError
  naming the bad rule.
- Plugin stdin, run through the real entry point (plugin.main, in this process, with
  its stdin, stdout and stderr swapped): exactly one JSON object on stdout, only
  Stash-formatted lines on stderr, never a traceback, and a hook that says it queued
  its scene has really put it in the queue file. A few inputs also go through a real
  `Stash2Plex.py` process.

Every Stash and Plex address used here is a loopback port nobody listens on.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import sqlite3
import sys
from typing import Any, Dict, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validation.pathmap import PathMap as PathMapper, parse_path_map, path_key
from plugin import main as plugin_main
from plugin.datadir import DATA_DIR_ENV
from sync_queue import drops, inbox
from testbed.runner import PluginRunner
from testbed.world import ROOT, drainer_processes, kill
from tests.reliability.conftest import unused_port
from errors.kinds import InvalidMetadata
from mapping.scene_fields import build_metadata, fingerprint
from validation.scene_metadata import NAME_CAP, SUMMARY_CAP, PlexMetadata
from validation.settings import Settings
from worker.lock import DrainLock

FAST = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
MEDIUM = settings(FAST, max_examples=60)
FEW = settings(FAST, max_examples=60)

# -- text and paths -------------------------------------------------------------------

CHARS = st.one_of(
    st.characters(exclude_categories=()),  # any code point but the surrogates
    st.integers(0xD800, 0xDFFF).map(chr),  # lone surrogates, as badly decoded JSON leaves them
    st.sampled_from(list("\x00\x01\x08\x0b\x1b\x1f\x7f\x85\x9f\r\n\t \u00a0\u200b\u200d\u2028\u2029"
                         "\ufeff\ufffe\uffff\U0001f600e\u0301")),
)
SMALL_TEXT = st.text(CHARS, max_size=40)
HUGE_TEXT = st.builds(lambda unit, n: (unit or "ab ") * n, st.text(CHARS, max_size=6), st.integers(1_000, 20_000))
TEXT = st.one_of(SMALL_TEXT, SMALL_TEXT, HUGE_TEXT)
NAME = st.one_of(SMALL_TEXT, st.sampled_from(["", " ", "Tag", "tag", "TAG", "ß", "SS", "ǅ"]))

SEGMENT = st.text(st.one_of(CHARS, st.sampled_from(list("  ._-[]()#%&'~$!"))), min_size=1, max_size=12).filter(
    lambda s: "/" not in s and "\\" not in s)
POSIX_PATH = st.lists(SEGMENT, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(parts))
DRIVE_PATH = st.builds(lambda d, parts, sep: f"{d}:{sep}" + sep.join(parts),
                       st.sampled_from("CDzZ"), st.lists(SEGMENT, max_size=5), st.sampled_from(["\\", "/"]))
UNC_PATH = st.builds(lambda parts: "\\\\" + "\\".join(parts), st.lists(SEGMENT, min_size=1, max_size=5))
ODD_PATH = st.sampled_from(["", "/", "//", "\\", "C:", "C:\\", "\\\\", "\\\\nas", "relative/file.mp4",
                            "/data//double//slash.mp4", "/data/trailing/", "/data/./dot/../x.mp4",
                            "/data/NFD/Cafe\u0301.mp4", "C:/mixed\\seps/file.MP4"])
PATH = st.one_of(POSIX_PATH, DRIVE_PATH, UNC_PATH, ODD_PATH, SMALL_TEXT)


def _maybe(strategy):
    return st.one_of(st.none(), strategy)


def _named(name=NAME):
    return st.builds(lambda i, n: {"id": str(i), "name": n}, st.integers(1, 10 ** 6), name)


SCENES = st.fixed_dictionaries(
    {
        "id": st.integers(1, 2 ** 31 - 1).map(str),
        "title": _maybe(TEXT),
        "code": _maybe(SMALL_TEXT),
        "details": _maybe(TEXT),
        "director": _maybe(SMALL_TEXT),
        "urls": st.lists(SMALL_TEXT, max_size=3),
        "date": _maybe(st.one_of(st.dates().map(str), SMALL_TEXT, st.sampled_from(["2024-02-30", "0000-00-00"]))),
        "rating100": _maybe(st.integers(-(2 ** 31), 2 ** 31 - 1) | st.integers(0, 100)),
        "organized": st.booleans(),
        "files": st.lists(st.fixed_dictionaries({"path": PATH, "basename": _maybe(SMALL_TEXT),
                                                 "size": st.integers(0, 2 ** 40)}), max_size=3),
        "paths": st.fixed_dictionaries({"screenshot": _maybe(st.one_of(
            st.just("http://127.0.0.1:9/scene/1/screenshot?t=1"), SMALL_TEXT,
            st.builds(lambda t: "http://h/" + t, TEXT)))}),
        "studio": _maybe(st.fixed_dictionaries({"id": st.just("1"), "name": _maybe(NAME), "image_path": st.none(),
                                                "parent_studio": _maybe(_named())})),
        "performers": st.lists(_named(), max_size=30),
        "tags": st.one_of(st.lists(_named(), max_size=30), st.lists(_named(st.one_of(st.integers(0, 999).map("Tag {}".format), st.sampled_from(["tag 1", "Ünï", "x" * 300]))), min_size=150, max_size=500)),
        "groups": st.lists(st.fixed_dictionaries({"group": _named(), "scene_index": _maybe(st.integers(0, 99))}),
                           max_size=5),
        "stash_ids": st.just([]),
    }
)

SETTINGS = st.builds(
    lambda flags, cap, excluded: Settings(
        plex_url="http://127.0.0.1:9", plex_token="t", max_list_items=cap, excluded_tags=excluded,
        **dict(zip(("skip_title", "skip_summary", "skip_date", "skip_studio", "skip_performers", "skip_tags",
                    "skip_collections", "skip_studio_collection", "skip_rating", "skip_poster",
                    "sync_background"), flags))),
    st.lists(st.booleans(), min_size=11, max_size=11), st.integers(1, 1000),
    # Stash's JSON cannot carry a lone surrogate to the settings (Go writes U+FFFD instead).
    st.one_of(st.just(""), st.lists(NAME.filter(lambda n: n.encode("utf-8", "ignore").decode() == n),
                                    max_size=5).map(",".join)),
)


def _sendable(text: str) -> bool:
    """What Plex can take in a query parameter and hand back in XML."""
    text.encode("utf-8")  # raises on a lone surrogate
    bad = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F
           or c in "\ufeff\ufffe\uffff"]
    return not bad


@pytest.mark.slow
@MEDIUM
@given(scene=SCENES, config=SETTINGS)
def test_scene_metadata_is_sendable_or_rejected_with_a_reason(scene, config):
    try:
        meta = build_metadata(scene, config)
    except InvalidMetadata as exc:
        assert str(exc).strip(), "an InvalidMetadata without a reason"
        return
    assert isinstance(meta, PlexMetadata)
    assert meta.title and len(meta.title) <= NAME_CAP and "\n" not in meta.title
    assert len(meta.summary) <= SUMMARY_CAP and len(meta.studio) <= NAME_CAP
    for text in [meta.title, meta.summary, meta.studio, *meta.actors, *meta.genres, *meta.collections]:
        assert _sendable(text), repr(text[:80])
    for names in (meta.actors, meta.genres, meta.collections):
        assert len(names) <= config.max_list_items
        assert len({n.casefold() for n in names}) == len(names)
        assert all(n and len(n) <= NAME_CAP for n in names)
    excluded = config.excluded_tag_names
    assert not any(g.strip().casefold() in excluded for g in meta.genres if g.strip())
    assert len(fingerprint(meta, config)) == 64


# -- path mapping ------------------------------------------------------------------


@FAST
@given(text=st.one_of(SMALL_TEXT, st.lists(st.tuples(PATH, PATH), max_size=4).map(
    lambda rules: ";".join(f"{a} => {b}" for a, b in rules))), path=PATH)
def test_path_map_maps_or_names_the_bad_rule(text, path):
    try:
        rules = parse_path_map(text)
    except ValueError as exc:
        assert "path_map" in str(exc)
        return
    mapper = PathMapper(text)
    assert len(mapper.rules) == len(rules)
    mapped = mapper.to_plex(path)
    assert isinstance(mapped, str)
    assert isinstance(path_key(mapped), str)
    assert isinstance(mapper.to_stash(mapped), str)


@FAST
@given(src=st.one_of(POSIX_PATH, DRIVE_PATH, UNC_PATH), dst=st.one_of(POSIX_PATH, DRIVE_PATH, UNC_PATH),
       rest=st.lists(SEGMENT.filter(lambda s: s.strip() == s and s not in (".", "..")), min_size=1, max_size=4))
def test_a_path_under_a_rule_lands_under_its_target(src, dst, rest):
    if ";" in src + dst or "=>" in src + dst or "\n" in src + dst or src.strip() != src or dst.strip() != dst:
        return  # not expressible as a rule: covered by the test above
    sep = "\\" if src.startswith(("\\\\",)) or (src[1:2] == ":" and "\\" in src) else "/"
    path = src.rstrip("/\\") + sep + sep.join(rest)
    mapped = PathMapper(f"{src} => {dst}").to_plex(path)
    assert path_key(mapped).startswith(path_key(dst).rstrip("/")), (path, mapped)


# -- plugin stdin -------------------------------------------------------------------

PLAYBACK_ONLY = ["play_count", "resume_time", "play_duration", "o_counter"]
HOOK_TYPES = ["Scene.Update.Post", "Scene.Create.Post"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | SMALL_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SMALL_TEXT, inner, max_size=4),
    max_leaves=12,
)
IDS = st.one_of(st.integers(), st.integers(1, 2 ** 31 - 1), st.integers(1, 2 ** 31 - 1).map(str), SMALL_TEXT,
                st.floats(), st.booleans(), st.none(),
                st.sampled_from(["٣", "²", "0", "-1", " 7 ", "1e3", "0x10", "99999999999999999999999999"]))


class PluginIO:
    """Runs plugin.main in this process with its own stdin/stdout/stderr, as Stash would feed it."""

    def __init__(self, data_dir: str, stash_port: int):
        self.data_dir = data_dir
        self.cookie = secrets.token_urlsafe(24)
        self.conn = {"Scheme": "http", "Host": "127.0.0.1", "Port": stash_port, "Dir": data_dir,
                     "PluginDir": ROOT, "SessionCookie": {"Name": "session", "Value": self.cookie}}

    def empty_inbox(self) -> None:
        """Each run starts with no drop and an empty inbox, so `queued` sees only its own scene."""
        for path, _job in drops.pending(self.data_dir):
            os.remove(path)
        conn = inbox.connect(self.data_dir)
        try:
            for statement in inbox.HOOK_DDL:
                conn.execute(statement)
            conn.execute("DELETE FROM inbox")
        finally:
            conn.close()

    def queued(self, scene_id: int) -> bool:
        if any(job[0] == scene_id for _path, job in drops.pending(self.data_dir)):
            return True
        conn = sqlite3.connect(inbox.db_path(self.data_dir), timeout=10)
        try:
            return conn.execute("SELECT 1 FROM inbox WHERE scene_id = ?", (scene_id,)).fetchone() is not None
        finally:
            conn.close()

    def run(self, stdin: bytes) -> Dict[str, Any]:
        self.empty_inbox()
        root = logging.getLogger()
        saved = (root.handlers[:], root.level, sys.stdin, sys.stdout, sys.stderr)
        out, err = io.StringIO(), io.StringIO()
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        sys.stdout, sys.stderr = out, err
        try:
            code = plugin_main.main([], script=os.path.join(ROOT, "Stash2Plex.py"))
        finally:
            root.handlers[:], sys.stdin, sys.stdout, sys.stderr = saved[0], saved[2], saved[3], saved[4]
            root.setLevel(saved[1])
        assert self.cookie not in out.getvalue() + err.getvalue(), "the session cookie was shown"
        return check_protocol(out.getvalue(), err.getvalue(), code)


def check_protocol(stdout: str, stderr: str, code: Optional[int]) -> Dict[str, Any]:
    """One JSON object on stdout, Stash-formatted lines on stderr, no traceback."""
    assert code == 0, (code, stdout, stderr)
    assert "Traceback" not in stderr, stderr
    for line in stderr.splitlines():
        assert len(line) >= 3 and line[0] == "\x01" and line[1] in "tdiwep" and line[2] == "\x02", repr(line)
    assert stdout.endswith("\n") and stdout.count("\n") == 1, repr(stdout)
    doc = json.loads(stdout)
    assert isinstance(doc, dict) and len(doc) == 1 and set(doc) <= {"output", "error"}, doc
    if "error" in doc:
        assert isinstance(doc["error"], str) and doc["error"].strip()
    return doc


@pytest.fixture
def plugin_io(tmp_path, monkeypatch):
    data_dir = str(tmp_path / "data")
    monkeypatch.setenv(DATA_DIR_ENV, data_dir)  # whatever Dir the input names, data stays here
    # Hooks decide that a drainer lives by its lock: holding it, as a live drainer does,
    # keeps the hundreds of generated hooks from each starting one.
    lock = DrainLock(data_dir)
    assert lock.try_acquire()
    try:
        yield PluginIO(data_dir, unused_port())
    finally:
        lock.release()
    for pid in drainer_processes(data_dir):  # none expected; never leave one behind
        kill(pid)


def _hook_doc(ctx: Dict[str, Any]) -> Dict[str, Any]:
    return {"server_connection": {"Scheme": "http", "Host": "127.0.0.1", "Port": 9, "Dir": "/nowhere"},
            "args": {"hookContext": ctx}}


@pytest.mark.slow
@FAST
@given(data=st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"id": IDS}, optional={"type": st.one_of(st.sampled_from(HOOK_TYPES), SMALL_TEXT, JSON),
                                        "input": JSON, "inputFields": st.one_of(JSON, st.lists(SMALL_TEXT))}
                          ).map(lambda ctx: json.dumps(_hook_doc(ctx)).encode()),
    st.builds(lambda d: json.dumps(d).encode(), st.fixed_dictionaries(
        {}, optional={"server_connection": JSON, "args": st.one_of(JSON, st.fixed_dictionaries({"hookContext": JSON}))})),
))
def test_any_stdin_gets_one_json_answer_and_no_traceback(plugin_io, data):
    doc = plugin_io.run(data)
    output = doc.get("output")
    if isinstance(output, dict) and output.get("queued"):
        assert plugin_io.queued(output["scene_id"]), "the hook said queued, but the queue file has no row"


@pytest.mark.slow
@FAST
@given(scene_id=st.integers(1, 2 ** 31 - 1), as_text=st.booleans(), hook_type=st.sampled_from(HOOK_TYPES),
       fields=_maybe(st.lists(st.sampled_from(["title", "details", "tag_ids", *PLAYBACK_ONLY]), max_size=5)),
       title=TEXT)
def test_a_metadata_hook_always_queues_its_scene(plugin_io, scene_id, as_text, hook_type, fields, title):
    ctx: Dict[str, Any] = {"id": str(scene_id) if as_text else scene_id, "type": hook_type,
                           "input": {"id": str(scene_id), "title": title}}
    if fields is not None:
        ctx["inputFields"] = ["id"] + fields
    data = json.dumps(_hook_doc(ctx)).encode("utf-8", "surrogatepass")
    doc = plugin_io.run(data)
    metadata = fields is None or any(f not in PLAYBACK_ONLY for f in fields)
    assert "error" not in doc, doc
    assert doc["output"]["queued"] is metadata, doc
    assert plugin_io.queued(scene_id) is metadata


@pytest.mark.slow
@FEW
@given(mode=st.one_of(st.sampled_from(["status", "review_dead_letters", "retry_dead_letters", "purge_dead_letters",
                                       "process_queue", "sync_recent", "health", ""]), SMALL_TEXT, JSON),
       args=st.dictionaries(st.sampled_from(["hours", "ids", "kind", "limit"]), JSON, max_size=3))
def test_any_task_input_gets_one_json_answer(plugin_io, mode, args):
    # Stash and Plex are a port nobody listens on: tasks that need them must say so, in one line.
    args = dict(args, mode=mode)
    doc = plugin_io.run(json.dumps({"server_connection": plugin_io.conn, "args": args}).encode())
    assert ("output" in doc) or doc["error"]


SUBPROCESS_INPUTS = [
    b"",
    b"\xff\xfe not utf-8 \x00",
    b'{"server_connection": {}, "args": {"hookContext": {"id": "\xc2\xb2"}}}',
    b'{"server_connection": {}, "args": {"hookContext": {"id": 99999999999999999999999999}}}',
    b'{"server_connection": {}, "args": {"hookContext": {"id": 5, "type": "Scene.Update.Post"}}}',
    b'{"server_connection": {}, "args": {"mode": "no_such_task"}}',
    json.dumps({"server_connection": {}, "args": {"hookContext": {"id": 6, "input": {"details": "x" * 300_000}}}}
               ).encode(),
]


@pytest.mark.parametrize("stdin", SUBPROCESS_INPUTS, ids=range(len(SUBPROCESS_INPUTS)))
def test_the_real_entry_point_answers_bad_input_in_one_line(plugin_io, stdin):
    env = dict(os.environ)
    env[DATA_DIR_ENV] = plugin_io.data_dir
    runner = PluginRunner(ROOT, plugin_io.conn, env=env)
    plugin_io.empty_inbox()
    result = runner.run_raw(stdin, timeout=30)
    assert result.stdout_is_json and not result.stray_stderr, (result.raw_stdout, result.stray_stderr)
    assert not result.stdout_held_open and not result.timed_out
    check_protocol(result.raw_stdout, "", result.returncode)
    if isinstance(result.output, dict) and result.output.get("queued"):
        assert plugin_io.queued(result.output["scene_id"])
