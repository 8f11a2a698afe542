"""The queue heals itself in the situations users actually meet (promise 7b).

Each test replays, as a user would, one way the queue used to get stuck: saves go
through the Stash emulator (which fires the real hook), settings are saved on its
settings page, and no task button is pressed unless the test says so. The only proof
accepted is Plex's state, read back from the emulator.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time

import pytest

from tests.e2e.conftest import unused_port, wait_until

# Small backoffs keep the replays short; each is a real setting (the breaker ones are
# internal fields that load_settings accepts like any other).
FAST = {
    "retry_base_seconds": 0.2,
    "retry_cap_seconds": 1,
    "breaker_recovery_start": 0.5,
    "breaker_recovery_cap": 2,
    "poll_interval": 0.1,
}


def _breaker(env) -> str:
    rows = env.rows("SELECT state FROM breaker WHERE id = 1")
    return rows[0][0] if rows else "closed"


def _keep_drainer_busy(env) -> int:
    """A scene whose file Plex has not scanned: its long not-found retry keeps a drainer alive."""
    sid = env.stash.add_scene(title="Not scanned yet", files=["/data/stash/incoming/later.mp4"])
    env.stash.update_scene(sid, title="Not scanned yet (saved)")
    wait_until(lambda: env.rows("SELECT 1 FROM retry_schedule WHERE scene_id = ?", [sid]), 30,
               "the unscanned scene to wait in the retry schedule")
    wait_until(env.lock_busy, 10, "a drainer holding the lock")
    return sid


def test_fixing_a_wrong_plex_url_heals_without_a_button(plugin_env):
    env = plugin_env
    scene_ids = env.seed(3)
    env.configure(plex_url=f"http://127.0.0.1:{unused_port()}", **FAST)
    wanted = {sid: f"Saved while the URL was wrong {sid}" for sid in scene_ids}
    for sid, title in wanted.items():
        env.stash.update_scene(sid, title=title)
    wait_until(lambda: _breaker(env) == "open" or env.rows("SELECT 1 FROM outages"), 60,
               "the breaker to open on the unreachable URL")

    env.configure(plex_url=env.plex.url)

    wait_until(lambda: env.titles_in_plex(wanted), 20, "the queued edits to reach Plex after the fix")
    status = env.status()
    assert status["pending"] == 0 and status["dead_letters"] == 0
    assert status["breaker"] == "closed"


def test_a_lone_failing_scene_does_not_hold_the_queue(plugin_env):
    env = plugin_env
    scene_ids = env.seed(4)
    bad = scene_ids[0]
    env.configure(max_retries=2, **FAST)
    env.stash.faults.fail(n=10_000, status=500, route=f"/scene/{bad}/screenshot")
    wanted = {sid: f"Edited {sid}" for sid in scene_ids}
    for sid, title in wanted.items():
        env.stash.update_scene(sid, title=title)

    others = {sid: t for sid, t in wanted.items() if sid != bad}
    wait_until(lambda: env.titles_in_plex(others), 30, "the other scenes to sync")
    letters = wait_until(
        lambda: env.rows("SELECT error_kind, message, attempts FROM dead_letters WHERE scene_id = ?", [bad]),
        60, "the failing scene to reach the dead letters")
    kind, message, attempts = letters[0]
    assert kind == "stash", letters
    assert "Stash" in message and "500" in message
    assert attempts == 3  # the first attempt and max_retries retries, each backed off
    assert env.rows("SELECT count(*) FROM outages")[0][0] == 0
    assert _breaker(env) == "closed"
    status = env.status()
    assert status["breaker_detail"]["last_error"] in (None, "") or "Stash" not in status["breaker_detail"]["last_error"]


def test_unchanged_scenes_during_an_outage_do_not_hide_it(plugin_env):
    env = plugin_env
    scene_ids = env.seed(6)
    env.configure(max_retries=3, **FAST)
    env.queue_directly(scene_ids)
    assert env.ok_task("Process Queue")["synced"] == 6
    target = scene_ids[0]

    env.plex.go_down()
    try:
        env.stash.update_scene(target, title="Edited during the outage")
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:  # unchanged scenes keep arriving (a Sync Recent, say)
            env.queue_directly(scene_ids[1:])
            time.sleep(0.1)
        assert env.rows("SELECT count(*) FROM dead_letters")[0][0] == 0
        assert env.rows("SELECT count(*) FROM outages")[0][0] >= 1
    finally:
        env.plex.come_up()

    wait_until(lambda: env.plex_title(target) == "Edited during the outage", 30,
               "the held edit to land after recovery")
    assert env.rows("SELECT count(*) FROM dead_letters")[0][0] == 0


def test_settings_saved_under_a_running_drainer_are_honoured(plugin_env):
    env = plugin_env
    scene_ids = env.seed(2)
    env.configure(not_found_base_seconds=600)
    _keep_drainer_busy(env)
    target = scene_ids[0]
    before = env.plex_title(target)
    log_size = len(env.drainer_log())

    env.configure(skip_title=True)
    wait_until(lambda: "settings changed" in env.drainer_log()[log_size:], 10,
               "the running drainer to pick up the new settings")
    env.stash.update_scene(target, title="Must not reach Plex", details="Details do")

    wait_until(lambda: (env.plex_item(target) or {}).get("summary") == "Details do", 20, "the edit to land")
    assert env.plex_title(target) == before


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="kill -9 needs POSIX signals")
def test_a_save_right_after_the_drainer_is_killed_still_syncs(plugin_env):
    env = plugin_env
    scene_ids = env.seed(2)
    env.configure(not_found_base_seconds=600)
    _keep_drainer_busy(env)
    (pid,) = env.drainer_pids()

    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not env.lock_busy(), 10, "the OS to release the dead drainer's lock")
    env.stash.update_scene(scene_ids[1], title="Saved right after the kill")

    wait_until(lambda: env.plex_title(scene_ids[1]) == "Saved right after the kill", 15,
               "the save to sync without a button")


def test_a_retry_due_far_ahead_is_still_run_when_due(plugin_env):
    env = plugin_env
    env.seed(1)
    env.configure(not_found_base_seconds=2000, not_found_cap_seconds=4000, poll_interval=0.2)
    sid = _keep_drainer_busy(env)
    (not_before,) = env.rows("SELECT not_before FROM retry_schedule WHERE scene_id = ?", [sid])[0]
    assert not_before > time.time() + 900

    # Watched for longer than the drainer's idle grace: it must still be there for the retry.
    holds_throughout(env.lock_busy, 6.0, "a drainer to stay for the far retry")
    env.plex.add_movie(env.section, "/media/plex/incoming/later.mp4")
    conn = sqlite3.connect(os.path.join(env.data_dir, "stash2plex.sqlite3"), timeout=10)
    try:  # time passes: the retry falls due
        conn.execute("UPDATE retry_schedule SET not_before = ? WHERE scene_id = ?", (time.time(), sid))
        conn.commit()
    finally:
        conn.close()
    wait_until(lambda: env.plex_title(sid) == "Not scanned yet (saved)", 20, "the retry to run when due")


def test_a_settings_pause_starts_no_drainer_per_save(plugin_env):
    env = plugin_env
    scene_ids = env.seed(5)
    env.use_wrong_token()
    env.stash.update_scene(scene_ids[0], title="First save with a bad token")
    wait_until(lambda: "paused" in env.drainer_log(), 30, "the drainer to pause on the bad token")

    started = []
    wanted = {}
    for n in range(20):
        sid = scene_ids[n % len(scene_ids)]
        wanted[sid] = f"Save {n} during the pause"
        env.stash.update_scene(sid, title=wanted[sid])
        started.append(env.stash.hook_runs[-1].result.output.get("drainer_started"))
    assert not any(started), started

    env.configure(plex_token=env.token)
    wait_until(lambda: env.titles_in_plex(wanted), 20, "the paused edits to land once the token is fixed")


def test_process_queue_returns_while_a_drainer_waits_for_plex(plugin_env):
    env = plugin_env
    scene_ids = env.seed(2)
    env.configure(**FAST)
    env.plex.go_down()
    try:
        env.stash.update_scene(scene_ids[0], title="Waiting for Plex")
        wait_until(lambda: _breaker(env) == "open", 60, "the breaker to open")
        env.plex.come_up()
        started = time.monotonic()
        output = env.ok_task("Process Queue", timeout=60)
        assert time.monotonic() - started < 45
        assert output["counts"]["dead_letters"] == 0
    finally:
        env.plex.come_up()
    wait_until(lambda: env.plex_title(scene_ids[0]) == "Waiting for Plex", 30, "the edit to land")


def holds_throughout(predicate, seconds: float, what: str) -> None:
    """Watch `predicate` for `seconds`; fail the moment it stops holding."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), f"stopped holding: {what}"
        time.sleep(0.1)


def _conn_with(env, **changes):
    conn = dict(env.runner.server_connection)
    conn.update(changes)
    return conn


MALFORMED_CONNECTIONS = {
    "Dir as a number": {"Dir": 12},
    "PluginDir as a list": {"PluginDir": ["a", "b"]},
    "SessionCookie as a string": {"SessionCookie": "session=abc"},
    "Port as a list": {"Port": [9999]},
}


@pytest.mark.parametrize("case", sorted(MALFORMED_CONNECTIONS))
@pytest.mark.parametrize("run", ["hook", "task"])
def test_malformed_server_connection_is_one_line(plugin_env, case, run):
    env = plugin_env
    conn = _conn_with(env, **MALFORMED_CONNECTIONS[case])
    if run == "hook":
        args = {"hookContext": {"id": 1, "type": "Scene.Update.Post", "input": {"id": "1", "title": "x"},
                                "inputFields": ["id", "title"]}}
    else:
        args = {"mode": "status"}
    result = env.runner.run_raw(json.dumps({"server_connection": conn, "args": args}), timeout=60)
    assert result.stdout_is_json, result.raw_stdout
    assert result.error and "server_connection" in result.error, result.raw_stdout
    assert result.stray_stderr == [] and not any("Traceback" in t for _, t in result.logs)


def test_deeply_nested_stdin_is_one_line(plugin_env):
    env = plugin_env
    doc = '{"server_connection": {}, "args": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    result = env.runner.run_raw(doc, timeout=60)
    assert result.stdout_is_json, result.raw_stdout[:300]
    assert result.error and "nested" in result.error
    assert result.stray_stderr == []
