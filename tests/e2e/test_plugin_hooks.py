"""Hooks as Stash fires them: a save reaches Plex through the detached drainer, no button pressed.

Saves go through the Stash emulator's Python API, which fires Scene.Update.Post (or
Scene.Create.Post for a scan) through the registered plugin and waits for the hook
process, exactly as Stash's UI save does. Plex state is read back from the emulator.
"""

from __future__ import annotations

import threading
import time

import requests

from testbed.world import STASH_PREFIX, plex_path_of
from tests.e2e.conftest import lock_intervals, wait_until

HOOK_SECONDS = 5.0  # generous for a loaded CI machine; bench/ measures the real target


def test_ui_save_reaches_plex_with_no_task_pressed(plugin_env):
    env = plugin_env
    scene_ids = env.seed(3)
    target = scene_ids[1]
    before = {sid: env.plex_title(sid) for sid in scene_ids}

    env.stash.update_scene(target, title="Saved in the Stash UI", details="New details")

    run = env.stash.hook_runs[-1]
    assert run.hook_type == "Scene.Update.Post" and run.scene_id == target
    result = run.result
    assert 0.0 < result.duration < HOOK_SECONDS
    assert result.returncode == 0 and result.error is None
    assert result.stdout_is_json and result.output["queued"] is True
    assert result.output["scene_id"] == target
    assert result.stray_stderr == []
    wait_until(lambda: env.plex_title(target) == "Saved in the Stash UI", 30, "the drainer to update Plex")
    item = env.plex_item(target)
    assert item["summary"] == "New details"
    assert {"title", "summary"} <= set(item["locked"])
    # Only the saved scene was touched.
    for other in (scene_ids[0], scene_ids[2]):
        assert env.plex_title(other) == before[other]
    wait_until(lambda: "drainer exiting" in env.drainer_log(), 30, "the drainer to go idle and exit")
    wait_until(lambda: not env.drainer_pids() and not env.lock_busy(), 10, "the drainer process to end")


def test_playback_only_save_queues_nothing(plugin_env):
    env = plugin_env
    scene_id = env.seed(1)[0]
    env.plex.reset_log()

    env.stash.update_scene(scene_id, play_count=4)
    env.stash.update_scene(scene_id, resume_time=812.5)
    env.stash.update_scene(scene_id, play_count=5, resume_time=0.0, play_duration=60.0)

    runs = env.stash.hook_runs
    assert len(runs) == 3
    for run in runs:
        assert run.result.error is None and run.result.stray_stderr == []
        assert run.result.output["queued"] is False
        assert "playback" in run.result.output["reason"]
        assert "drainer_started" not in run.result.output
    # A drainer the hooks had spawned would be listed now: each hook returned after spawning.
    assert env.drainer_pids() == set()
    assert env.waiting_scene_ids() == []
    assert env.drainer_log() == ""
    assert not env.lock_busy()
    assert env.plex.count() == 0
    status = env.status()
    assert status["pending"] == 0 and status["drainer_alive"] is False


def test_scan_created_scene_waits_for_plex_without_a_retry_storm(plugin_env):
    env = plugin_env
    env.seed(2)
    env.configure(not_found_base_seconds=10)  # the first retry comes 5-10 s after the attempt
    new_path = f"{STASH_PREFIX}/incoming/Fresh Scene.mp4"
    env.plex.stage_file(env.section, plex_path_of(new_path))

    scene_id = env.stash.add_scene(title="Fresh Scene", files=[new_path], scan_hooks=True)

    create = env.stash.hook_runs[-1]
    assert create.hook_type == "Scene.Create.Post" and create.input is None
    assert create.result.output["queued"] is True
    deferred = wait_until(
        lambda: env.rows("SELECT attempts, error_kind, not_before FROM retry_schedule WHERE scene_id = ?",
                         [scene_id]),
        30, "the job to be deferred as not found")
    assert deferred[0][:2] == (1, "not_found")
    due = deferred[0][2]
    status = env.status()
    assert status["deferred"] == 1 and status["pending"] == 0
    assert status["deferred_by_kind"] == {"not_found": 1}
    assert status["drainer_alive"] is True  # asleep until the retry is due

    # A scan's burst of further hooks for the same scene: no early attempt, no Plex request.
    plex_requests = env.plex.count()
    for n in range(4):
        env.stash.update_scene(scene_id, title=f"Fresh Scene take {n}")
    assert all(run.result.output["queued"] for run in env.stash.hook_runs[-4:])
    wait_until(lambda: not env.waiting_scene_ids(), 10, "the drainer to absorb the new saves")
    assert time.time() < due, "too slow to test the window before the retry"
    assert env.plex.count() == plex_requests
    assert env.rows("SELECT attempts FROM retry_schedule WHERE scene_id = ?", [scene_id]) == [(1,)]
    assert env.plex_item(scene_id) is None

    env.plex.scan(env.section)
    assert env.plex_title(scene_id) is not None  # imported, still with the agent's title
    wait_until(lambda: time.time() > due, 30, "the retry to fall due")
    output = env.ok_task("Process Queue")
    assert output["counts"]["deferred"] == 0 and output["counts"]["pending"] == 0, output
    assert env.plex_title(scene_id) == "Fresh Scene take 3"
    status = env.status()
    assert status["deferred"] == 0 and status["dead_letters"] == 0


def test_thirty_concurrent_hooks_all_sync_with_one_drainer_at_a_time(plugin_env):
    env = plugin_env
    scene_ids = env.seed(30)
    wanted = {sid: f"Concurrent save {sid}" for sid in scene_ids}
    errors = []

    def save(sid: int) -> None:
        try:
            env.stash.update_scene(sid, title=wanted[sid])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))

    threads = [threading.Thread(target=save, args=(sid,)) for sid in scene_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and not any(t.is_alive() for t in threads)
    runs = env.stash.hook_runs
    assert len(runs) == 30
    for run in runs:
        assert run.result.error is None and run.result.stray_stderr == [], run.result.logs
        assert run.result.output["queued"] is True

    wait_until(lambda: env.titles_in_plex(wanted), 90, "all thirty scenes to reach Plex")
    wait_until(lambda: not env.lock_busy() and not env.drainer_pids(), 30, "the drainers to exit")
    events = lock_intervals(env.drainer_log())
    assert events, "the drainer log records no lock holder"
    holder = None
    for pid, what, line in events:
        if what == "started":
            assert holder is None, f"drainer {pid} took the lock while {holder} held it (log line {line})"
            holder = pid
        else:
            assert holder == pid, f"drainer {pid} released a lock held by {holder} (log line {line})"
            holder = None
    assert holder is None


def test_multi_scene_edits_reach_plex_whatever_the_input_shape(plugin_env):
    """Stash's two multi-scene edits give hooks inputs a single save never does.

    `scenesUpdate` passes the whole input list as each hook's input; `bulkSceneUpdate`
    passes the one bulk input (ids, BulkUpdateIds...) to the hook of every scene. Both
    still carry per-scene inputFields. Each scene must be queued and reach Plex.
    """
    env = plugin_env
    a, b, c, d = env.seed(4)
    listed = {"query": "mutation($i: [SceneUpdateInput!]!) { scenesUpdate(input: $i) { id } }",
              "variables": {"i": [{"id": a, "title": "Listed A"}, {"id": b, "title": "Listed B"}]}}
    bulk = {"query": "mutation($i: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $i) { id } }",
            "variables": {"i": {"ids": [c, d], "title": "Bulk title"}}}
    for body in (listed, bulk):
        resp = requests.post(env.stash.graphql_url, json=body, timeout=60)
        assert resp.status_code == 200 and "errors" not in resp.json(), resp.text

    runs = env.stash.hook_runs
    assert [r.scene_id for r in runs] == [a, b, c, d]
    assert all(isinstance(r.input, list) and len(r.input) == 2 for r in runs[:2])
    assert all(item["movies"] is None for item in runs[0].input)  # deprecated, always there
    assert all(r.input["ids"] == [str(c), str(d)] for r in runs[2:])
    for run in runs:
        assert run.result.error is None and run.result.stray_stderr == [], run.result.logs
        assert run.result.output["queued"] is True and run.result.output["scene_id"] == run.scene_id
    wanted = {a: "Listed A", b: "Listed B", c: "Bulk title", d: "Bulk title"}
    wait_until(lambda: env.titles_in_plex(wanted), 60, "the multi-scene edits to reach Plex")
    wait_until(lambda: not env.lock_busy() and not env.drainer_pids(), 30, "the drainers to exit")
