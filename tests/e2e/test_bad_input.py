"""Bad input gets one clear error and loses nothing (promise 10).

Malformed stdin is fed to the real entry point through the runner; broken settings are
saved in the Stash emulator while jobs are queued, and fixed again afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import time

import pytest

from sync_queue import inbox
from worker.database import open_db
from testbed.runner import PluginRunner
from tests.e2e.conftest import ROOT, unused_port, summary_logged, wait_until
from worker.lock import DrainLock


def _doc(conn, args) -> str:
    return json.dumps({"server_connection": conn, "args": args})


def _corpus(conn):
    hook = {"type": "Scene.Update.Post", "input": {"id": "1", "title": "x"}, "inputFields": ["id", "title"]}
    return {
        "not json": ("{server_connection: nope", "not JSON"),
        "empty": ("", "empty"),
        "whitespace": ("  \n ", "empty"),
        "json array": ("[1, 2]", "object"),
        "json null": ("null", "object"),
        "missing server_connection": (json.dumps({"args": {"mode": "status"}}), "server_connection"),
        "args not an object": (_doc(conn, ["mode", "status"]), "args"),
        "hookContext not an object": (_doc(conn, {"hookContext": "Scene.Update.Post"}), "hookContext"),
        "non-numeric hook id": (_doc(conn, {"hookContext": dict(hook, id="abc")}), "numeric"),
        "missing hook id": (_doc(conn, {"hookContext": hook}), "hookContext.id"),
        "negative hook id": (_doc(conn, {"hookContext": dict(hook, id=-4)}), "positive"),
        "bad inputFields": (_doc(conn, {"hookContext": dict(hook, id=1, inputFields="title")}), "inputFields"),
        "not UTF-8": (b"\xff\xfe{\x00\x80", "not JSON"),
        "huge": (_doc(conn, {"mode": "status", "pad": "x" * (9 * 1024 * 1024)}), "bytes"),
    }


CASES = sorted(_corpus({}).keys())


@pytest.fixture
def bare_runner(tmp_path):
    """The plugin with nothing listening behind it: malformed input must never get that far."""
    conn = {"Scheme": "http", "Host": "127.0.0.1", "Port": unused_port(),
            "SessionCookie": {"Name": "session", "Value": secrets.token_hex(16)},
            "Dir": str(tmp_path / "stash-config"), "PluginDir": ROOT}
    return PluginRunner(ROOT, conn)


@pytest.mark.parametrize("case", CASES)
def test_malformed_stdin_gets_one_clear_error(bare_runner, case):
    stdin, words = _corpus(bare_runner.server_connection)[case]

    result = bare_runner.run_raw(stdin, timeout=30)

    assert not result.timed_out
    assert result.returncode == 0
    assert result.stdout_is_json, result.raw_stdout
    doc = json.loads(result.raw_stdout)
    assert list(doc) == ["error"] and isinstance(doc["error"], str)
    assert words.lower() in doc["error"].lower(), doc["error"]
    assert result.stray_stderr == []
    assert len(result.logs) == 1 and result.logs[0][0] == "error", result.logs
    assert doc["error"] in result.logs[0][1]
    assert "Traceback" not in result.logs[0][1]
    assert result.duration < 10  # rejected before any import of the heavy clients
    cookie = bare_runner.server_connection["SessionCookie"]["Value"]
    assert cookie not in result.raw_stdout + repr(result.logs)
    assert not os.path.exists(bare_runner.server_connection["Dir"])  # nothing queued, nothing written


@pytest.mark.parametrize("run", ["task", "hook"])
def test_unusable_data_folder_gets_one_clear_error(bare_runner, tmp_path, run):
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("Stash's Dir is a file here")
    conn = dict(bare_runner.server_connection, Dir=str(not_a_dir))
    if run == "task":
        handle = bare_runner.start_task("Queue Status", server_connection=conn)
    else:
        handle = bare_runner.start_hook("Scene.Update.Post", 1, {"title": "x"}, server_connection=conn)
    result = handle.wait(30)

    assert result.returncode == 0 and result.stdout_is_json and result.output is None
    assert "data folder" in result.error or "could not queue" in result.error
    assert str(not_a_dir) in result.error
    assert result.stray_stderr == [] and len(result.messages("error")) == 1
    assert conn["SessionCookie"]["Value"] not in result.raw_stdout + repr(result.logs)


def _queue_with_drainer_locked_out(env, scene_ids, titles):
    """Save scenes in Stash (each save fires the hook) while the test stands in for a busy drainer.

    The test holds the drain lock and beats the heartbeat, so the drainers the hooks start
    exit at once and the jobs wait in the queue.
    """
    open_db(env.data_dir).close()  # the schema, with the heartbeat table
    lock = DrainLock(env.data_dir)
    assert lock.try_acquire()
    beat = inbox.connect(env.data_dir)
    try:
        for sid in scene_ids:
            inbox.beat(beat, os.getpid(), time.time())
            env.stash.update_scene(sid, title=titles[sid])
        wait_until(lambda: not env.drainer_pids(), 20, "the spare drainers to exit")
    finally:
        inbox.clear_beat(beat)
        beat.close()
        lock.release()
    for run in env.stash.hook_runs[-len(scene_ids):]:
        assert run.result.output["queued"] is True and run.result.stray_stderr == []


BROKEN_SETTINGS = {
    "missing plex_url": (lambda env: {"plex_url": None}, ["plex_url", "Settings"]),
    "wrong token": (lambda env: {"plex_token": "wrong-" + env.token[::-1]}, ["token", "plex_token", "Settings"]),
    "unreachable Plex": (lambda env: {"plex_url": f"http://127.0.0.1:{unused_port()}"}, ["did not answer", "plex_url"]),
    "unknown library": (lambda env: {"plex_library": "Scenes, Nope"}, ["'Nope'", "Scenes", "plex_library"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN_SETTINGS))
def test_broken_setting_keeps_jobs_and_names_the_fix(plugin_env, case):
    env = plugin_env
    scene_ids = env.seed(3)
    titles = {sid: f"Queued while broken {sid}" for sid in scene_ids[:2]}
    break_it, words = BROKEN_SETTINGS[case]
    changes = break_it(env)
    env.extra_secrets.extend(v for k, v in changes.items() if k == "plex_token")
    env.configure(**changes)
    _queue_with_drainer_locked_out(env, list(titles), titles)
    assert len(env.waiting_scene_ids()) == 2

    failed = env.task("Process Queue")

    assert failed.error is not None and failed.output is None
    for word in words:
        assert word in failed.error, (word, failed.error)
    assert failed.messages("error") and failed.error in failed.messages("error")[-1]
    assert env.status()["pending"] == 2
    assert env.rows("SELECT count(*) FROM dead_letters")[0][0] == 0

    env.configure(plex_url=env.plex.url, plex_token=env.token, plex_library=None)
    fixed = env.task("Process Queue")
    assert fixed.error is None, fixed.error
    assert fixed.output["synced"] == 2 and summary_logged(fixed)
    assert env.titles_in_plex(titles)
    assert fixed.output["counts"]["pending"] == 0


def test_broken_setting_stops_the_background_drainer_and_keeps_jobs(plugin_env):
    env = plugin_env
    scene_ids = env.seed(2)
    env.use_wrong_token()

    env.stash.update_scene(scene_ids[0], title="Saved with a bad token")

    wait_until(lambda: "paused" in env.drainer_log(), 30, "the drainer to stop on the bad token")
    status = env.status()
    assert status["pending"] == 1 and status["deferred"] == 0 and status["dead_letters"] == 0
    assert "token" in status["last_config_error"]["message"]
    assert "token" in status["summary"]
    env.configure(plex_token=env.token)
    # The paused drainer notices the fix by itself; Process Queue only shows it finishing.
    wait_until(lambda: env.plex_title(scene_ids[0]) == "Saved with a bad token", 20,
               "the paused drainer to resume after the fix")
    assert env.ok_task("Process Queue")["counts"]["pending"] == 0


def test_hook_for_a_missing_scene_is_done_without_a_dead_letter(plugin_env):
    """A scene Stash no longer has (deleted meanwhile) and never synced: nothing to do."""
    env = plugin_env
    env.seed(1)
    env.plex.reset_log()

    result = env.hook(98765, {"title": "ghost"})

    assert result.error is None and result.output["queued"] is True
    assert result.duration < 5
    wait_until(lambda: env.status()["pending"] == 0, 30, "the job for the missing scene to be done")
    status = env.status()
    assert status["dead_letters"] == 0 and status["deferred"] == 0
    assert [r for r in env.plex.requests if r["method"] != "GET"] == []
    assert env.ok_task("Review Dead Letters")["count"] == 0
