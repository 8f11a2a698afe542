"""Plex → Stash: plays, resume points and ratings come back, exactly once (issue 16).

Plays, a viewOffset and a user rating are made in the Plex emulator the way a Plex
client makes them (a play in the account's history at a set time, the item's in-progress
point, `/:/rate`); Import Plex Activity runs as Stash runs a task; the Stash emulator's
play history, resume time and rating are read back.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone

import pytest
import requests
from plexapi.server import PlexServer

from sync_queue import inbox
from tests.e2e.conftest import summary_logged, wait_until
from worker.activity_import import IN_DOUBT_SETTLE_SECONDS

DAY = 86400


def _epoch(moment) -> float:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc).timestamp()


def intents_left(env) -> int:
    """Plays recorded as being sent to Stash and not yet marked done, read from the queue file."""
    conn = sqlite3.connect(inbox.db_path(env.data_dir))
    try:
        return conn.execute("SELECT count(*) FROM imported_plays WHERE state = 'intent'").fetchone()[0]
    finally:
        conn.close()


def history(env, scene_id):
    return sorted(_epoch(t) for t in env.stash.scene(scene_id)["play_history"])


def plays_in_stash(env, scene_id):
    """The plays the scene gained in Stash since the library was synced, as epoch seconds."""
    gained = history(env, scene_id)
    for moment in env.plays_before[scene_id]:
        gained.remove(moment)
    return gained


def play_count_gained(env, scene_id) -> int:
    return env.stash.scene(scene_id)["play_count"] - len(env.plays_before[scene_id])


def rating_key(env, scene_id) -> int:
    return env.plex.find_by_file(env.plex_path(scene_id))


def rate_in_plex(env, scene_id, rating: float) -> None:
    """A person rates the item in Plex (plexapi's rate(), as a Plex client does)."""
    with requests.Session() as session:
        server = PlexServer(env.plex.url, env.token, session=session, timeout=10)
        server.fetchItem(rating_key(env, scene_id)).rate(rating)


def synced_library(env, n: int):
    scene_ids = env.seed(n)
    for sid in scene_ids:
        env.stash.update_scene(sid, hooks=False, rating100=60)
    assert env.ok_task("Sync All Scenes")["synced"] == n
    env.plays_before = {sid: history(env, sid) for sid in scene_ids}  # Stash's own plays stay
    return scene_ids


def close(a, b, tolerance=1.0) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tolerance for x, y in zip(sorted(a), sorted(b)))


def test_plays_resume_point_and_rating_come_back_once(plugin_env):
    env = plugin_env
    once, twice, in_progress, rated, untouched = synced_library(env, 5)
    now = int(time.time())
    t1, t2, t3 = now - 3 * DAY, now - 2 * DAY + 17, now - 3600
    env.plex.add_play(rating_key(env, once), viewed_at=t1)
    env.plex.add_play(rating_key(env, twice), viewed_at=t2)
    env.plex.add_play(rating_key(env, twice), viewed_at=t3)
    env.plex.set_view_offset(rating_key(env, in_progress), 754_000)  # 12:34 into the file
    rate_in_plex(env, rated, 8.0)

    first = env.ok_task("Import Plex Activity")

    assert summary_logged(env.results[-1])
    assert first["plays"] == 3 and first["resume_points"] == 1 and first["ratings"] == 1, first
    assert close(plays_in_stash(env, once), [t1])
    assert close(plays_in_stash(env, twice), [t2, t3])
    assert play_count_gained(env, once) == 1 and play_count_gained(env, twice) == 2
    assert abs(_epoch(env.stash.scene(twice)["last_played_at"]) - t3) <= 1
    assert env.stash.scene(in_progress)["resume_time"] == pytest.approx(754.0)
    assert env.stash.scene(rated)["rating100"] == 80
    assert play_count_gained(env, untouched) == 0
    assert env.stash.scene(untouched)["rating100"] == 60

    again = env.ok_task("Import Plex Activity")
    assert again["plays"] == 0 and again["resume_points"] == 0 and again["ratings"] == 0, again
    status = env.status()
    assert status["plex_activity"]["plays_imported"] == 3 and status["plex_activity"]["plays_in_doubt"] == 0
    assert status["plex_activity"]["last_report"]["summary"] in status["summary"]

    env.plex.reset_log()
    env.ok_task("Sync All Scenes")
    assert env.plex.count("PUT", "/:/rate") == 0  # the imported rating is not sent back
    assert env.plex.item(rating_key(env, rated))["userRating"] == 8.0
    env.ok_task("Import Plex Activity")
    assert close(plays_in_stash(env, once), [t1]) and close(plays_in_stash(env, twice), [t2, t3])
    assert env.stash.scene(rated)["rating100"] == 80


def test_a_play_after_the_last_import_comes_back_and_the_old_ones_do_not(plugin_env):
    env = plugin_env
    (scene,) = synced_library(env, 1)
    now = int(time.time())
    env.plex.add_play(rating_key(env, scene), viewed_at=now - DAY)
    env.ok_task("Import Plex Activity")
    env.plex.add_play(rating_key(env, scene), viewed_at=now - 60)

    out = env.ok_task("Import Plex Activity")

    assert out["plays"] == 1
    assert close(plays_in_stash(env, scene), [now - DAY, now - 60])


def test_an_item_no_scene_holds_is_reported_as_skipped(plugin_env):
    env = plugin_env
    synced_library(env, 1)
    stray = env.plex.add_movie(env.section, "/media/plex/elsewhere/Home Video.mp4", title="Home Video")
    env.plex.add_play(stray, viewed_at=int(time.time()) - 100)

    out = env.ok_task("Import Plex Activity")

    assert out["plays"] == 0 and out["skipped"] == 1
    assert "Home Video" in out["skipped_titles"]


def test_a_kill_in_the_middle_of_an_import_adds_no_play_twice(plugin_env):
    env = plugin_env
    scene_ids = synced_library(env, 6)
    now = int(time.time())
    expected = {}
    for n, sid in enumerate(scene_ids):
        times = [now - DAY * (n + 1) + k * 600 for k in range(1 + n % 2)]
        for t in times:
            env.plex.add_play(rating_key(env, sid), viewed_at=t)
        expected[sid] = times
    # Each play written to Stash takes a while: the kill lands after the first one.
    env.stash.faults.latency(0.8, route="/graphql/sceneAddPlay")
    handle = env.runner.start_task("Import Plex Activity")
    wait_until(lambda: any(play_count_gained(env, s) for s in scene_ids), 60, "the first play in Stash",
               interval=0.01)
    handle.kill()
    killed = handle.wait(20)
    assert killed.killed
    landed = sum(play_count_gained(env, s) for s in scene_ids)
    assert 0 < landed < sum(len(t) for t in expected.values())
    killed_at = time.monotonic()
    # Plays the killed run had announced but not marked done: its in-flight request. None
    # when the kill fell between one scene's "done" and the next scene's intent.
    left_in_doubt = intents_left(env)
    env.stash.faults.clear()

    right_after = env.ok_task("Import Plex Activity")  # the killed run's last play may still be landing
    for sid, times in expected.items():
        assert len(plays_in_stash(env, sid)) <= len(times), (sid, plays_in_stash(env, sid), times)
    assert right_after["in_doubt"] == left_in_doubt
    # Judged once the killed run's request must have ended (the Stash client's timeout).
    wait_until(lambda: env.ok_task("Import Plex Activity")["in_doubt"] == 0, IN_DOUBT_SETTLE_SECONDS + 30,
               "the plays in doubt to be judged", interval=3.0)
    if left_in_doubt:
        assert time.monotonic() - killed_at >= IN_DOUBT_SETTLE_SECONDS - 5
    env.ok_task("Import Plex Activity")

    for sid, times in expected.items():
        assert close(plays_in_stash(env, sid), times), (sid, plays_in_stash(env, sid), times)


def test_two_accounts_each_bring_their_plays_when_named(plugin_env):
    env = plugin_env
    (scene,) = synced_library(env, 1)
    guest = env.plex.add_account("guest")
    now = int(time.time())
    env.plex.add_play(rating_key(env, scene), viewed_at=now - 500)
    env.plex.add_play(rating_key(env, scene), viewed_at=now - 400, account_id=guest)

    assert env.ok_task("Import Plex Activity")["plays"] == 1  # the token owner's only
    env.configure(plex_accounts="guest")
    assert env.ok_task("Import Plex Activity")["plays"] == 1

    assert close(plays_in_stash(env, scene), [now - 500, now - 400])


def test_the_drainer_imports_when_activity_import_is_on(plugin_env):
    env = plugin_env
    scene_ids = synced_library(env, 2)
    env.configure(import_plex_activity=True)
    env.plex.add_play(rating_key(env, scene_ids[0]), viewed_at=int(time.time()) - 300)

    env.stash.update_scene(scene_ids[1], title="Saved after a play in Plex")  # a hook starts a drainer

    wait_until(lambda: play_count_gained(env, scene_ids[0]) == 1, 30, "the drainer to import the play")
    wait_until(lambda: env.plex_title(scene_ids[1]) == "Saved after a play in Plex", 30, "the save to reach Plex")


def test_two_overlapping_imports_add_each_play_once(plugin_env):
    env = plugin_env
    scene_ids = synced_library(env, 3)
    now = int(time.time())
    for n, sid in enumerate(scene_ids):
        env.plex.add_play(rating_key(env, sid), viewed_at=now - 1000 * (n + 1))
    env.stash.faults.latency(0.5, route="/graphql/sceneAddPlay")

    handles = [env.runner.start_task("Import Plex Activity") for _ in range(2)]
    results = [h.wait(90) for h in handles]
    env.results.extend(results)

    assert all(r.error is None for r in results), [r.error for r in results]
    assert sum(r.output["plays"] for r in results) == 3
    for n, sid in enumerate(scene_ids):
        assert close(plays_in_stash(env, sid), [now - 1000 * (n + 1)])


def test_when_both_changed_stash_wins_unless_plex_edits_are_kept(plugin_env):
    env = plugin_env
    default, kept = synced_library(env, 2)
    for sid in (default, kept):
        rate_in_plex(env, sid, 9.0)
        env.stash.update_scene(sid, hooks=False, rating100=30)  # edited in Stash too, not synced yet

    env.ok_task("Import Plex Activity")
    assert env.stash.scene(default)["rating100"] == 30
    env.ok_task("Sync All Scenes")
    assert env.plex.item(rating_key(env, default))["userRating"] == 3.0

    assert env.plex.item(rating_key(env, kept))["userRating"] == 3.0
    env.configure(keep_plex_edits=True)
    rate_in_plex(env, kept, 7.0)
    env.stash.update_scene(kept, hooks=False, rating100=20)
    assert env.ok_task("Import Plex Activity")["ratings"] == 1
    assert env.stash.scene(kept)["rating100"] == 70


def test_with_plex_edits_kept_a_later_stash_rating_still_reaches_plex(plugin_env):
    """The imported rating counts as written: a later Stash change is not mistaken for a Plex edit."""
    env = plugin_env
    env.configure(keep_plex_edits=True)
    (scene,) = synced_library(env, 1)
    rate_in_plex(env, scene, 8.0)
    env.ok_task("Import Plex Activity")
    assert env.stash.scene(scene)["rating100"] == 80

    env.stash.update_scene(scene, hooks=False, rating100=50)
    env.ok_task("Sync All Scenes")

    assert env.plex.item(rating_key(env, scene))["userRating"] == 5.0
    assert env.ok_task("Import Plex Activity")["ratings"] == 0
    assert env.stash.scene(scene)["rating100"] == 50
