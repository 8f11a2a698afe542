"""Matching that follows Plex, run as Stash runs the plugin.

Items deleted and re-added under a new ratingKey, scenes with several files, items
with several parts, one file claimed twice, a Plex server replaced under the same
settings, a renamed library and retried edits: each is driven through hooks and task
buttons, and Plex's state is read back from the emulator.
"""

from __future__ import annotations

from typing import Dict, List

from testbed.plex import PlexEmulator
from tests.e2e.conftest import PLEX_PREFIX, STASH_PREFIX, wait_until

SYNC_TIMEOUT = 30.0


def _open_dead_letters(env) -> List[tuple]:
    return env.rows("SELECT scene_id, error_kind, message FROM dead_letters WHERE resolved_at IS NULL")


def _index_keys(env, plex_path: str) -> List[str]:
    return sorted(r[0] for r in env.rows("SELECT rating_key FROM plex_index WHERE file_path = ?", [plex_path]))


def _synced_once(env, ids: List[int]) -> None:
    env.ok_task("Sync All Scenes")
    assert env.in_step(ids)


def _titles(plex, keys) -> Dict[int, str]:
    return {k: plex.item(k)["title"] for k in keys}


def test_an_item_deleted_and_re_added_in_plex_gets_the_next_edit(plugin_env):
    env = plugin_env
    ids = env.seed(3)
    _synced_once(env, ids)
    victim = ids[0]
    path = env.plex_path(victim)
    old_key = env.plex.find_by_file(path)
    env.plex.delete_item(old_key)  # a folder moved and back, the trash emptied
    newcomer = env.stash.add_scene(title="Newcomer", files=[f"{STASH_PREFIX}/new/newcomer.mp4"])
    env.plex.stage_file(env.section, f"{PLEX_PREFIX}/new/newcomer.mp4")
    env.plex.scan(env.section)  # the rescan adds the old file back under a new ratingKey
    new_key = env.plex.find_by_file(path)
    assert new_key not in (None, old_key)

    # The newcomer misses in the index, so an incremental refresh adds the new key for
    # the victim's file beside the old one, which no listing by updatedAt can drop.
    env.stash.update_scene(newcomer, title="Newcomer in Plex")
    wait_until(lambda: env.plex_title(newcomer) == "Newcomer in Plex", SYNC_TIMEOUT, "the newcomer synced")
    env.stash.update_scene(victim, title="After the rescan")
    wait_until(lambda: env.plex.item(new_key)["title"] == "After the rescan" or _open_dead_letters(env),
               SYNC_TIMEOUT, "the edit on the re-added item or a dead letter")
    assert _open_dead_letters(env) == []
    assert env.plex.item(new_key)["title"] == "After the rescan"
    assert _index_keys(env, path) == [str(new_key)]
    assert env.rows("SELECT count(*) FROM sync_items WHERE rating_key = ?", [str(old_key)]) == [(0,)]


def test_a_scene_with_two_files_reaches_both_items(plugin_env):
    env = plugin_env
    scene = env.stash.add_scene(title="Two copies", files=[f"{STASH_PREFIX}/dup/copy.mp4"])
    env.stash.add_scene_file(scene, f"{STASH_PREFIX}/dup/copy.480p.mp4")
    first = env.plex.add_movie(env.section, f"{PLEX_PREFIX}/dup/copy.mp4")
    second = env.plex.add_movie(env.section, f"{PLEX_PREFIX}/dup/copy.480p.mp4")
    env.stash.update_scene(scene, title="Both copies")
    wait_until(lambda: set(_titles(env.plex, [first, second]).values()) == {"Both copies"} or _open_dead_letters(env),
               SYNC_TIMEOUT, "both items titled or a dead letter")
    assert _open_dead_letters(env) == []
    assert _titles(env.plex, [first, second]) == {first: "Both copies", second: "Both copies"}
    assert {"title", "thumb"} <= env.plex.item(second)["locked"]
    env.plex.reset_log()
    out = env.ok_task("Sync All Scenes")
    assert out["synced"] == 0 and env.plex.count("PUT") == 0 and env.plex.count("POST") == 0, out


def test_an_item_with_several_parts_is_matched_by_any_part(plugin_env):
    env = plugin_env
    scene = env.stash.add_scene(title="Part two", files=[f"{STASH_PREFIX}/stack/cd2.mp4"])
    rk = env.plex.add_movie(env.section, f"{PLEX_PREFIX}/stack/cd1.mp4", parts=[f"{PLEX_PREFIX}/stack/cd2.mp4"])
    other = env.stash.add_scene(title="Version", files=[f"{STASH_PREFIX}/versions/480p.mp4"])
    versions = env.plex.add_movie(env.section, f"{PLEX_PREFIX}/versions/1080p.mp4",
                                  parts=[f"{PLEX_PREFIX}/versions/480p.mp4"], media=[1, 1])
    env.queue_directly([scene, other])
    env.ok_task("Process Queue")
    assert env.plex.item(rk)["title"] == "Part two"
    assert env.plex.item(versions)["title"] == "Version"
    assert _open_dead_letters(env) == []


def test_one_file_claimed_by_two_items_is_ambiguous_and_retry_looks_again(plugin_env):
    env = plugin_env
    scene = env.stash.add_scene(title="Claimed twice", files=[f"{STASH_PREFIX}/c/twice.mp4"])
    one = env.plex.add_movie(env.section, f"{PLEX_PREFIX}/c/twice.mp4", title="First Claim")
    two = env.plex.add_movie(env.section, f"{PLEX_PREFIX}/c/twice.mp4", title="Second Claim", claim_again=True)
    env.queue_directly([scene])
    env.ok_task("Process Queue")
    letters = _open_dead_letters(env)
    assert [(s, k) for s, k, _ in letters] == [(scene, "permanent")]
    message = letters[0][2]
    assert "First Claim" in message and "Second Claim" in message and "allow_ambiguous_match" in message
    assert str(one) in message and str(two) in message
    assert _titles(env.plex, [one, two]) == {one: "First Claim", two: "Second Claim"}

    env.plex.delete_item(two, keep_files=False)  # the user removes the duplicate in Plex
    env.ok_task("Retry Dead Letters")
    wait_until(lambda: env.plex.item(one)["title"] == "Claimed twice" or _open_dead_letters(env),
               SYNC_TIMEOUT, "the retried scene synced or dead-lettered again")
    assert _open_dead_letters(env) == []
    assert env.plex.item(one)["title"] == "Claimed twice"


def test_a_404_on_the_edit_looks_again_and_never_dead_letters(plugin_env):
    env = plugin_env
    env.configure(not_found_base_seconds=1, not_found_cap_seconds=2)
    ids = env.seed(2)
    _synced_once(env, ids)
    victim = ids[1]
    env.plex.faults.fail(n=1, status=404, route="PUT /library/sections")
    env.stash.update_scene(victim, title="Through a 404")
    wait_until(lambda: env.plex_title(victim) == "Through a 404" or _open_dead_letters(env),
               SYNC_TIMEOUT, "the edit after a 404 or a dead letter")
    assert _open_dead_letters(env) == []
    assert env.plex_title(victim) == "Through a 404"


def test_health_check_reports_stale_index_entries_and_files_claimed_twice(plugin_env):
    env = plugin_env
    ids = env.seed(3)
    _synced_once(env, ids)
    gone = env.plex.find_by_file(env.plex_path(ids[0]))
    env.plex.delete_item(gone, keep_files=False)
    env.plex.add_movie(env.section, env.plex_path(ids[1]), title="A Duplicate", claim_again=True)
    out = env.ok_task("Health Check")
    checks = {c["name"]: c for c in out["checks"]}
    assert "matching" in checks, out
    detail = checks["matching"]["detail"]
    assert not checks["matching"]["ok"]
    assert "1 index entr" in detail and "no longer" in detail
    assert "claimed by more than one" in detail and "A Duplicate" in detail
    assert "allow_ambiguous_match" in detail
    again = env.ok_task("Health Check")
    assert "index entr" not in {c["name"]: c for c in again["checks"]}["matching"]["detail"]


def test_another_plex_server_with_the_same_files_gets_each_scene_on_its_own_item(plugin_env):
    env = plugin_env
    ids = env.seed(4)
    _synced_once(env, ids)
    second = PlexEmulator(token=env.token).start()
    try:
        section = second.add_section("Scenes", locations=[PLEX_PREFIX])
        # The same files in another order: every old ratingKey exists, on another file.
        for sid in reversed(ids):
            second.add_movie(section, env.plex_path(sid))
        env.configure(plex_url=second.url)
        env.stash.update_scene(ids[0], title="On the new server")

        def own_titles() -> bool:
            return all(second.item(second.find_by_file(env.plex_path(sid)))["title"] == env.expected_title(sid)
                       for sid in ids)

        wait_until(own_titles, SYNC_TIMEOUT, "every scene on its own file's item on the new server")
        status = env.status()
        assert "another Plex server" in status["summary"] and second.machine_id in str(status["plex_server"])
        log = env.drainer_log()
        assert log.count("another Plex server") == 1
    finally:
        second.stop()


def test_a_server_reset_under_the_same_identity_is_checked_before_writing(plugin_env):
    """Check before writing: an indexed key that now holds another file is never edited."""
    env = plugin_env
    ids = env.seed(3)
    _synced_once(env, ids)
    reset = PlexEmulator(token=env.token, machine_id=env.plex.machine_id).start()
    try:
        section = reset.add_section("Scenes", locations=[PLEX_PREFIX])
        for sid in reversed(ids):
            reset.add_movie(section, env.plex_path(sid))
        env.configure(plex_url=reset.url)
        victim = ids[0]
        env.stash.update_scene(victim, title="Checked first")
        own = reset.find_by_file(env.plex_path(victim))
        wait_until(lambda: reset.item(own)["title"] == "Checked first", SYNC_TIMEOUT, "the edit on its own item")
        others = [reset.find_by_file(env.plex_path(sid)) for sid in ids[1:]]
        assert "Checked first" not in _titles(reset, others).values()
        assert _open_dead_letters(env) == []
    finally:
        reset.stop()


def test_a_500_on_the_edit_uploads_the_poster_exactly_once(plugin_env):
    env = plugin_env
    env.configure(retry_base_seconds=0.2, retry_cap_seconds=1)
    scene = env.stash.add_scene(title="Poster once", files=[f"{STASH_PREFIX}/p/once.mp4"])
    rk = env.plex.add_movie(env.section, f"{PLEX_PREFIX}/p/once.mp4")
    env.plex.faults.fail(n=4, status=500, route="PUT /library/sections")
    env.stash.update_scene(scene, title="Poster once, edited")
    wait_until(lambda: env.plex.item(rk)["title"] == "Poster once, edited", 60.0, "the edit after the 500s")
    uploads = [r for r in env.plex.requests if r["method"] == "POST" and r["path"].endswith("/posters")]
    assert len(uploads) == 1
    assert len(env.plex.item(rk)["posters"]) == 1


def test_a_library_renamed_in_plex_gets_no_more_edits_under_its_old_name(plugin_env):
    env = plugin_env
    env.configure(plex_library="Scenes")
    ids = env.seed(2)
    _synced_once(env, ids)
    env.plex.rename_section(env.section, "Clips")
    env.stash.update_scene(ids[0], title="Renamed library")  # the hook's drainer syncs it
    wait_until(lambda: env.plex_title(ids[0]) == "Renamed library" or env.status()["last_config_error"],
               SYNC_TIMEOUT, "the edit or a settings problem")
    assert env.plex_title(ids[0]) != "Renamed library"
    problem = env.status()["last_config_error"]["message"]
    assert "Scenes" in problem and "Clips" in problem
    health = env.ok_task("Health Check")
    assert not health["ok"] and "Scenes" in health["summary"]
