"""The hook path: what it filters, what it imports, and that it logs only in Stash's format."""

import io
import json
import os
import subprocess
import sys

import pytest

from plugin import stashlog
from plugin.datadir import resolve_data_dir
from plugin.hook import changed_metadata, handle
from plugin.protocol import HookContext

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ctx(fields):
    return HookContext(scene_id=1, hook_type="Scene.Update.Post", input_fields=fields, input={} if fields else None)


@pytest.mark.parametrize(
    "fields, queued",
    [
        (["id", "play_count"], False),
        (["id", "resume_time", "play_duration"], False),
        (["id", "o_counter"], False),
        (["id"], False),
        (["id", "title"], True),
        (["id", "tag_ids", "play_count"], True),
        (["id", "cover_image"], True),
        (None, True),  # create or scan: no inputFields
        (["id", "organized"], True),  # the organized button: only_organized needs it in the drainer
    ],
)
def test_only_playback_updates_are_ignored(fields, queued):
    assert changed_metadata(ctx(fields)) is queued


@pytest.mark.parametrize("fields", [None, ["id"], ["ids", "delete_file"]])
def test_a_destroyed_scene_is_queued_whatever_its_input_fields(tmp_path, fields):
    """Stash sends Scene.Destroy.Post without inputFields; the scene id alone is the job."""
    hook = HookContext(scene_id=12, hook_type="Scene.Destroy.Post", input_fields=fields,
                       input={"id": "12", "delete_file": None, "delete_generated": None,
                              "checksum": "", "oshash": "ab", "path": "/data/a.mp4"})
    from worker.lock import DrainLock

    lock = DrainLock(str(tmp_path))
    assert lock.try_acquire()  # a drainer runs: the hook only queues
    try:
        result = handle(hook, str(tmp_path), launch={})
    finally:
        lock.release()
    assert result == {"queued": True, "scene_id": 12, "drainer_started": False}
    from sync_queue import drops

    assert [job[0::2] for _path, job in drops.pending(str(tmp_path))] == [(12, "Scene.Destroy.Post")]


def test_hook_path_imports_no_heavy_module(tmp_path):
    """Promise 3: no plexapi, pydantic, stashapi, tenacity (nor persist-queue, filelock, SQLite) on the hook path."""
    probe = (
        "import sys, json, io;"
        f"sys.path.insert(0, {ROOT!r});"
        "sys.argv=['Stash2Plex.py'];"
        "doc=json.dumps({'server_connection': {'Dir': %r}, 'args': {'hookContext': {'id': 3, 'type': 'Scene.Update.Post', 'inputFields': ['id','title']}}});"
        "sys.stdin=io.TextIOWrapper(io.BytesIO(doc.encode()));"
        "from plugin.main import main; main([], script='x');"
        "heavy=[m for m in ('plexapi','pydantic','stashapi','tenacity','persistqueue','filelock','requests','logging',"
        "'_sqlite3','sqlite3','typing','dataclasses') if m in sys.modules];"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))"
    ) % (str(tmp_path),)
    from worker.lock import DrainLock

    lock = DrainLock(os.path.join(str(tmp_path), "plugin_data", "Stash2Plex"))
    assert lock.try_acquire()  # a drainer is running: the hook must not start another
    try:
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    finally:
        lock.release()
    assert "HEAVY=" in result.stderr, result.stderr
    assert result.stderr.split("HEAVY=")[1].strip() == ""
    output = json.loads(result.stdout)["output"]
    assert output["queued"] is True and output["drainer_started"] is False


def test_log_lines_are_prefixed_redacted_and_capped():
    stashlog.add_secret("sekrit-token-123")
    out = io.StringIO()
    stashlog.emit("error", "token sekrit-token-123 url ?X-Plex-Token=abc&x=1\nsecond line " + "y" * 20000, stream=out)
    line = out.getvalue()
    assert line.startswith("\x01e\x02") and line.endswith("\n") and line.count("\n") == 1
    assert "sekrit-token-123" not in line and "abc&" not in line
    assert len(line) < 9000


def test_progress_is_clamped():
    out = io.StringIO()
    stashlog.progress(1.7, stream=out)
    stashlog.progress(-1, stream=out)
    assert out.getvalue() == "\x01p\x021.0000\n\x01p\x020.0000\n"


def test_data_dir_lives_beside_stash_config_not_in_plugin_folder(tmp_path):
    conn = {"Dir": str(tmp_path / "stash"), "PluginDir": str(tmp_path / "stash" / "plugins" / "Stash2Plex")}
    data_dir = resolve_data_dir(conn)
    assert data_dir == os.path.join(str(tmp_path / "stash"), "plugin_data", "Stash2Plex")
    assert not data_dir.startswith(conn["PluginDir"])


def test_a_hook_process_run_as_stash_runs_it_loads_only_what_a_drop_needs(tmp_path):
    """Issue 20: a hook costs Python's start, one file create and a lock probe; no SQLite, json or typing.

    The real entry point, JSON on stdin, `-X importtime` listing every module it loaded.
    """
    data_dir = os.path.join(str(tmp_path), "plugin_data", "Stash2Plex")
    from worker.lock import DrainLock

    lock = DrainLock(data_dir)
    assert lock.try_acquire()  # a drainer is running: the hook only drops its job
    doc = json.dumps({"server_connection": {"Dir": str(tmp_path)},
                      "args": {"hookContext": {"id": 41, "type": "Scene.Update.Post", "inputFields": ["id", "title"]}}})
    try:
        run = subprocess.run([sys.executable, "-X", "importtime", os.path.join(ROOT, "Stash2Plex.py")],
                             input=doc, capture_output=True, text=True, timeout=30)
    finally:
        lock.release()
    loaded = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "plugin.hook" in loaded, run.stderr[-2000:]  # the listing is real
    assert loaded.isdisjoint({"_sqlite3", "sqlite3", "json", "typing", "subprocess", "logging"}), sorted(loaded)
    assert json.loads(run.stdout)["output"] == {"queued": True, "scene_id": 41, "drainer_started": False}
    from sync_queue import drops

    assert [job[0] for _path, job in drops.pending(data_dir)] == [41]
