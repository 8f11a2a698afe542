"""The plugin runner starts a plugin the way Stash does and reports what Stash sees."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from testbed.runner import (SCENE_UPDATE_INPUT_FIELDS, PluginRunner, go_json, load_manifest,
                            parse_output)
from tests.testbed.conftest_stash import write_sample_plugin

CONN = {"Scheme": "http", "Host": "127.0.0.1", "Port": 9, "SessionCookie": None}


def _runner(plugin_dir: Path, data_dir: Path) -> PluginRunner:
    conn = dict(CONN, Dir=str(data_dir), PluginDir=str(plugin_dir))
    return PluginRunner(str(plugin_dir), conn, python=sys.executable)


def test_manifest_reads_tasks_hooks_and_default_args_as_source_text(sample_plugin):
    m = load_manifest(str(sample_plugin))
    assert m.plugin_id == "Sample"
    assert [t.name for t in m.tasks] == ["Process Queue", "Other"]
    # yaml.v2 decodes into map[string]string: the text as written, not YAML's types.
    assert m.task("Process Queue").default_args == {"mode": "process", "days": "30", "flag": "yes"}
    assert m.hooks_for("Scene.Update.Post")[0].name == "Scene hook"
    assert m.hooks_for("Tag.Update.Post") == []


def test_manifest_with_unknown_key_is_rejected_like_stash(tmp_path):
    plugin_dir = write_sample_plugin(tmp_path)
    yml = plugin_dir / "Sample.yml"
    yml.write_text(yml.read_text(encoding="utf-8") + "homepage: nope\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown keys"):
        load_manifest(str(plugin_dir))


def test_task_run_reports_logs_progress_output_and_strings_args(sample_plugin, plugin_data_dir):
    runner = _runner(sample_plugin, plugin_data_dir)
    run = runner.run_task("Process Queue", args={"days": 5}, timeout=30)
    assert run.returncode == 0 and run.error is None and run.stdout_is_json
    assert run.logs[:5] == [("trace", "message at t"), ("debug", "message at d"),
                            ("info", "message at i"), ("warning", "message at w"),
                            ("error", "message at e")]
    assert run.progress == [0.0, 0.5, 1.0]
    # Stash logs unprefixed stderr lines at the errLog level (error by default).
    assert run.stray_stderr == ["a stray line without prefix"]
    assert ("error", "a stray line without prefix") in run.logs
    out = run.output
    assert out["args"] == {"mode": "process", "days": 5, "flag": "yes"}
    assert out["argv"] == ["--from-exec", "--task"]
    assert Path(out["cwd"]).resolve() != sample_plugin.resolve()
    assert out["pythonpath"].split(os.pathsep)[-1] == str(sample_plugin.parent)
    assert run.argv[0] == sys.executable
    assert run.argv[1] == str(sample_plugin / "sample.py")


def test_stdin_is_one_go_style_json_document(sample_plugin, plugin_data_dir):
    runner = _runner(sample_plugin, plugin_data_dir)
    run = runner.run_task("Other", args={"b": "<&>", "a": 1}, timeout=30)
    assert list(run.stdin) == ["server_connection", "args"]
    assert list(run.stdin["args"]) == ["a", "b"]  # Go sorts map keys
    assert run.stdin["server_connection"]["PluginDir"] == str(sample_plugin)
    assert b"\\u003c\\u0026\\u003e" in go_json(run.stdin)
    assert run.output["args"] == {"a": 1, "b": "<&>"}


def test_update_hook_gets_full_input_and_input_fields(sample_plugin, plugin_data_dir):
    runner = _runner(sample_plugin, plugin_data_dir)
    run = runner.run_hook("Scene.Update.Post", 45, input={"title": "New", "tag_ids": ["3"]},
                          timeout=30)
    ctx = run.output["args"]["hookContext"]
    assert ctx["id"] == 45 and ctx["type"] == "Scene.Update.Post"
    assert list(ctx["input"]) == list(SCENE_UPDATE_INPUT_FIELDS)
    assert ctx["input"]["id"] == "45" and ctx["input"]["title"] == "New"
    assert ctx["input"]["stash_ids"] is None and "stash_ids" in ctx["input"]
    assert ctx["inputFields"] == ["id", "title", "tag_ids"]
    assert ("info", "hook Scene.Update.Post for scene 45") in run.logs


def test_create_hook_sends_null_input_and_no_input_fields(sample_plugin, plugin_data_dir):
    runner = _runner(sample_plugin, plugin_data_dir)
    run = runner.run_hook("Scene.Create.Post", 7, input=None, timeout=30)
    ctx = run.output["args"]["hookContext"]
    assert ctx == {"id": 7, "type": "Scene.Create.Post", "input": None}


def test_hook_for_unhandled_type_is_an_error(sample_plugin, plugin_data_dir):
    with pytest.raises(ValueError):
        _runner(sample_plugin, plugin_data_dir).run_hook("Tag.Update.Post", 1)


@pytest.mark.parametrize("stdout, expected", [
    (b'{"output": {"a": 1}}', ({"a": 1}, None, True)),
    (b'  {"error": "bad"}\n', (None, "bad", True)),
    (b'{"Output": 2}', (2, None, True)),
    (b"null", (None, None, True)),
    (b"hello\n", ("hello\n", None, False)),
    (b'{"output": 1}\n{"output": 2}', ('{"output": 1}\n{"output": 2}', None, False)),
    (b"[1, 2]", ("[1, 2]", None, False)),
    (b'{"error": 5}', ('{"error": 5}', None, False)),
    (b"", ("", None, False)),
])
def test_stdout_is_decoded_as_stash_decodes_it(stdout, expected):
    assert parse_output(stdout) == expected


def test_non_json_stdout_is_reported_raw(sample_plugin, plugin_data_dir):
    run = _runner(sample_plugin, plugin_data_dir).run_task("Process Queue", {"mode": "raw"})
    assert not run.stdout_is_json
    assert run.output == "this is not json\n" and run.error is None


def test_error_output_and_exit_status(sample_plugin, plugin_data_dir):
    runner = _runner(sample_plugin, plugin_data_dir)
    run = runner.run_task("Process Queue", {"mode": "error"})
    assert run.error == "it broke" and run.returncode == 0
    run = runner.run_task("Process Queue", {"mode": "exit3"})
    assert run.returncode == 3 and run.error == "exit status 3"


def test_malformed_stdin_via_run_raw(sample_plugin, plugin_data_dir):
    run = _runner(sample_plugin, plugin_data_dir).run_raw("this is {not json", timeout=30)
    assert run.returncode != 0
    assert any("Traceback" in line for line in run.stray_stderr)


def test_timeout_kills_the_plugin(sample_plugin, plugin_data_dir):
    runner = _runner(sample_plugin, plugin_data_dir)
    started = time.monotonic()
    run = runner.run_task("Process Queue", {"mode": "sleep", "seconds": "30"}, timeout=1.5)
    assert run.timed_out and run.killed and run.returncode != 0
    assert time.monotonic() - started < 15


def test_stop_kills_a_running_task(sample_plugin, plugin_data_dir):
    runner = _runner(sample_plugin, plugin_data_dir)
    handle = runner.start_task("Process Queue", {"mode": "sleep", "seconds": "30"})
    marker = plugin_data_dir / "sleep-started"
    deadline = time.monotonic() + 15
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists() and handle.running()
    handle.kill()
    run = handle.wait(15)
    assert run.killed and not run.timed_out and run.returncode != 0 and run.output != "woke"


def test_overlong_log_line_makes_stash_stop_reading_stderr(sample_plugin, plugin_data_dir):
    run = _runner(sample_plugin, plugin_data_dir).run_task("Process Queue", {"mode": "longline"})
    assert run.stderr_overflow
    assert ("info", "after the long line") not in run.logs


def test_child_inheriting_stdout_keeps_the_run_open(sample_plugin, plugin_data_dir):
    """Stash reads stdout to EOF: a child holding it open delays the hook's return."""
    runner = _runner(sample_plugin, plugin_data_dir)
    held = runner.run_task("Process Queue", {"mode": "inherit", "seconds": "2"}, timeout=30)
    detached = runner.run_task("Process Queue", {"mode": "detach", "seconds": "2"}, timeout=30)
    assert held.output == detached.output == "spawned"
    assert held.duration >= 1.8
    assert detached.duration < 1.5
