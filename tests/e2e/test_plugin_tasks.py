"""Every task button, run through the runner as Stash runs it, with outputs read back.

Each task must answer one JSON object a UI can read and log a one-line summary at info.
"""

from __future__ import annotations

import time

import requests
from plexapi.server import PlexServer

from testbed.runner import load_manifest
from tests.e2e.conftest import ROOT, STASH_PREFIX, summary_logged, wait_until
from worker.batch import BATCH_SIZE

BREAKER_STATES = {"closed", "open", "half_open"}


def test_process_queue_progress_moves_forward_to_one(plugin_env):
    env = plugin_env
    count = 2 * BATCH_SIZE + 10  # progress moves once per batch: three batches
    scene_ids = env.seed(count)
    env.queue_directly(scene_ids)
    assert env.status()["pending"] == count

    result = env.task("Process Queue")

    assert result.error is None, result.error
    output = result.output
    assert output["synced"] == count and output["counts"]["pending"] == 0
    progress = result.progress
    assert len(progress) >= 4, progress
    assert all(a < b for a, b in zip(progress, progress[1:])), progress
    assert progress[0] == 0.0 and progress[-1] == 1.0
    assert summary_logged(result), result.logs
    assert env.in_step(scene_ids)


def test_sync_all_reconcile_and_sync_recent(plugin_env):
    env = plugin_env
    scene_ids = env.seed(8)

    first = env.task("Sync All Scenes")
    assert first.error is None, first.error
    assert first.output["queued"] == 8 and first.output["synced"] == 8
    assert first.progress[-1] == 1.0
    assert summary_logged(first)
    assert env.in_step(scene_ids)

    edited = scene_ids[5]  # someone retitles an item in Plex
    with requests.Session() as session:
        server = PlexServer(env.plex.url, env.token, session=session, timeout=10)
        server.fetchItem(env.plex.find_by_file(env.plex_path(edited))).editTitle("Edited in Plex")
    reconcile = env.task("Reconcile Plex")
    assert reconcile.error is None and summary_logged(reconcile)
    assert reconcile.output["checked"] == 8 and reconcile.output["drifted"] == 1
    assert all(a <= b for a, b in zip(reconcile.progress, reconcile.progress[1:])), reconcile.progress
    assert reconcile.progress[-1] == 1.0
    assert env.plex_title(edited) == env.expected_title(edited)

    env.plex.reset_log()
    again = env.ok_task("Sync All Scenes")
    assert again["queued"] == 8 and again["synced"] == 0
    assert env.plex.count(method="PUT") == 0 and env.plex.count(method="POST") == 0

    changed = scene_ids[3]
    env.stash.update_scene(changed, hooks=False, title="Changed without a hook")
    recent = env.task("Sync Recent Scenes")
    assert recent.error is None, recent.error
    assert 1 <= recent.output["queued"] <= 8 and recent.output["synced"] == 1
    assert summary_logged(recent)
    assert env.plex_title(changed) == "Changed without a hook"


def test_queue_status_reports_counts_and_breaker(plugin_env):
    env = plugin_env
    env.seed(2)
    env.queue_directly([1, 2])

    result = env.task("Queue Status")

    assert result.error is None
    output = result.output
    for key in ("pending", "deferred", "dead_letters"):
        assert type(output[key]) is int, (key, output[key])
    assert output["pending"] == 2 and output["deferred"] == 0 and output["dead_letters"] == 0
    assert output["breaker"] in BREAKER_STATES
    assert output["drainer_alive"] is False
    assert summary_logged(result)

    # It reads only the SQLite file, so it answers with Stash and Plex both down.
    env.stash.go_down()
    env.plex.go_down()
    try:
        offline = env.ok_task("Queue Status")
    finally:
        env.stash.come_up()
        env.plex.come_up()
    assert offline["pending"] == 2 and offline["breaker"] in BREAKER_STATES


def test_dead_letter_tasks_review_retry_purge(plugin_env):
    env = plugin_env
    env.seed(1)
    fileless = env.stash.add_scene(title="A scene without a file")  # nothing to find in Plex, ever
    env.queue_directly([fileless])
    assert env.ok_task("Process Queue")["dead_lettered"] == 1

    review = env.task("Review Dead Letters")
    assert review.error is None and summary_logged(review)
    assert review.output["count"] == 1 and review.output["by_kind"] == {"permanent": 1}
    (letter,) = review.output["recent"]
    assert letter["scene_id"] == fileless and letter["error_kind"] == "permanent"
    assert str(fileless) in letter["message"] and "no file" in letter["message"]
    assert isinstance(letter["failed_at"], str) and letter["resolved_at"] is None

    retry = env.task("Retry Dead Letters")
    assert retry.error is None and summary_logged(retry)
    assert retry.output["retried"] == 1
    wait_until(lambda: env.rows("SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL")[0][0] == 1
             and not env.rows("SELECT scene_id FROM inbox"), 30, "the retried scene to fail again")
    assert env.rows("SELECT count(*) FROM dead_letters")[0][0] == 2  # history kept

    purge = env.task("Purge Old Dead Letters")
    assert purge.error is None and summary_logged(purge)
    assert purge.output["purged"] == 0 and purge.output["retention_days"] == 30
    assert env.ok_task("Review Dead Letters")["count"] == 1


def test_health_check_good_then_wrong_path_map(plugin_env):
    env = plugin_env
    env.seed(5)

    good = env.task("Health Check")
    assert good.error is None and summary_logged(good)
    assert good.output["ok"] is True, good.output
    assert {c["name"] for c in good.output["checks"]} == {"stash", "settings", "plex", "libraries", "path_map", "matching"}

    env.configure(path_map=f"{STASH_PREFIX} => /srv/elsewhere")
    bad = env.task("Health Check")
    assert bad.error is None and summary_logged(bad)
    assert bad.output["ok"] is False
    check = {c["name"]: c for c in bad.output["checks"]}["path_map"]
    assert check["ok"] is False
    assert "/srv/elsewhere/" in check["detail"] and "path_map" in check["detail"]
    assert any("/srv/elsewhere/" in text for text in bad.messages("error"))


def test_rebuild_plex_index(plugin_env):
    env = plugin_env
    env.seed(5)
    env.plex.add_movie(env.section, "/media/plex/extra/Not In Stash.mp4")

    result = env.task("Rebuild Plex Index")

    assert result.error is None and summary_logged(result)
    assert result.output["index"]["size"] == 6
    assert result.progress[-1] == 1.0


def test_process_queue_does_not_wait_for_a_drainer_sleeping_until_a_retry(plugin_env):
    env = plugin_env
    env.seed(1)
    scene_id = env.stash.add_scene(title="Not scanned", files=[f"{STASH_PREFIX}/new/Not scanned.mp4"],
                                   scan_hooks=True)
    wait_until(lambda: env.rows("SELECT 1 FROM retry_schedule WHERE scene_id = ?", [scene_id]), 30,
             "the job to be deferred")

    started = time.monotonic()
    result = env.task("Process Queue")

    assert time.monotonic() - started < 20  # the retry is 15-30 s away: we did not wait for it
    assert result.error is None, result.error
    assert result.output["counts"]["deferred"] == 1
    assert "waiting to retry 1" in result.output["summary"]
    assert result.progress[-1] == 1.0 and summary_logged(result)


def test_unknown_mode_lists_the_modes(plugin_env):
    env = plugin_env
    result = env.runner.run_operation({"mode": "frobnicate"}, timeout=60)
    env.results.append(result)

    assert result.stdout_is_json and result.stray_stderr == []
    assert "frobnicate" in result.error
    modes = {task.default_args["mode"] for task in load_manifest(ROOT).tasks}
    assert len(modes) >= 9
    for mode in modes:
        assert mode in result.error
    assert result.messages("error") and all("Traceback" not in t for _, t in result.logs)


def test_secrets_stay_out_of_outputs_logs_and_files(plugin_env):
    """Debug logging on, so every step logs; every other test's teardown scans too."""
    env = plugin_env
    env.configure(debug_logging=True)
    scene_ids = env.seed(3)
    env.stash.update_scene(scene_ids[0], title="Secret test save")
    wait_until(lambda: env.plex_title(scene_ids[0]) == "Secret test save", 30, "the hook's sync")
    for task in ("Queue Status", "Health Check", "Process Queue", "Review Dead Letters"):
        env.ok_task(task)
    # A running drainer keeps the settings it started with: let it finish first.
    wait_until(lambda: not env.lock_busy() and not env.drainer_pids(), 30, "the first drainer to exit")
    wrong = "wrong-" + env.token[::-1]
    env.extra_secrets.append(wrong)
    env.configure(plex_token=wrong)
    failed = env.task("Process Queue")
    assert "token" in failed.error
    env.stash.update_scene(scene_ids[1], title="Saved with a wrong token")
    wait_until(lambda: "paused" in env.drainer_log(), 30, "the drainer to stop on the bad token")

    env.stop_drainers()
    env.assert_no_secrets()
    assert len(env.secrets()) >= 4  # both tokens, the runner's cookie and each hook's cookie


def test_process_queue_returns_when_plex_goes_down_mid_run(plugin_env):
    env = plugin_env
    env.configure(breaker_recovery_start=1, breaker_recovery_cap=2, retry_base_seconds=1, retry_cap_seconds=2)
    scene_ids = env.seed(2 * BATCH_SIZE)  # two batches: Plex goes down after the first
    env.queue_directly(scene_ids)
    handle = env.runner.start_task("Process Queue")
    wait_until(lambda: any(p > 0 for p in handle.progress) or not handle.running(), 60, "the first batch",
             interval=0.01)
    env.plex.go_down()

    result = handle.wait(60)
    env.results.append(result)

    assert not result.timed_out and result.stdout_is_json and result.stray_stderr == []
    assert "stopped answering" in result.error and "kept" in result.error, result.error
    synced = sum(1 for sid in scene_ids if env.plex_title(sid) == env.expected_title(sid))
    left = env.rows("SELECT count(*) FROM retry_schedule")[0][0] + env.status()["pending"]
    assert 0 < synced < len(scene_ids) and synced + left >= len(scene_ids)
    env.plex.come_up()
    wait_until(lambda: env.in_step(scene_ids), 60, "the background drainer to finish once Plex is back")
