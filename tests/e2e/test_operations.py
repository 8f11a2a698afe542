"""The operations contract: runPluginOperation(plugin_id: "Stash2Plex", args: {mode: …}).

Called over HTTP through the Stash emulator's GraphQL, as the plugin's UI and users'
own scripts call it. Stash's schema declares `runPluginOperation(plugin_id: ID!, args:
Map): Any` and answers the plugin's `output` as the field's value, or its `error` as a
GraphQL error (stashapp/stash graphql/schema/schema.graphql, internal/api
resolver_mutation_plugin.go).
"""

from __future__ import annotations

import re
from typing import Any, Dict

import requests

from tests.e2e.conftest import PLUGIN_ID, SECTION, assert_clean_run, wait_until

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
OPERATION = "mutation Op($args: Map) { runPluginOperation(plugin_id: %s, args: $args) }"


def call(env, args: Dict[str, Any]) -> Dict[str, Any]:
    """The raw GraphQL answer ({"data": …} or {"errors": …})."""
    query = OPERATION % ('"%s"' % PLUGIN_ID)
    resp = requests.post(env.stash.graphql_url, json={"query": query, "variables": {"args": args}}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def op(env, **args: Any) -> Dict[str, Any]:
    answer = call(env, args)
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]["runPluginOperation"]


def op_error(env, **args: Any) -> str:
    answer = call(env, args)
    (error,) = answer["errors"]
    return error["message"]


def test_scene_status_for_every_state(plugin_env):
    env = plugin_env
    synced, queued, never = env.seed(3)
    missing = env.seed(1, rng_seed=11, in_plex=False)[0]  # Plex has not scanned its file: it waits
    env.queue_directly([queued])  # no drainer runs yet: it stays queued
    assert op(env, mode="scene_status", scene_id=str(queued))["state"] == "queued"
    env.ok_task("Process Queue")
    fileless = env.stash.add_scene(title="No file")  # nothing to find in Plex, ever: a dead letter
    env.queue_directly([synced, missing, fileless])
    env.ok_task("Process Queue")

    status = op(env, mode="scene_status", scene_id=str(synced))
    assert status["scene_id"] == str(synced) and status["state"] == "synced"
    key = env.plex.find_by_file(env.plex_path(synced))
    assert status["plex"] == {"rating_key": str(key), "title": env.expected_title(synced), "section": SECTION}
    assert ISO.match(status["synced_at"]) and status["next_attempt_at"] is None and status["reason"] is None

    waiting = op(env, mode="scene_status", scene_id=str(missing))
    assert waiting["state"] == "retrying" and waiting["plex"] is None
    assert ISO.match(waiting["next_attempt_at"]) and "not in Plex" in waiting["reason"]

    dead = op(env, mode="scene_status", scene_id=str(fileless))
    assert dead["state"] == "dead_letter" and "no file" in dead["reason"]

    assert op(env, mode="scene_status", scene_id=str(never)) == {
        "scene_id": str(never), "state": "not_synced", "plex": None, "synced_at": None,
        "next_attempt_at": None, "reason": None}


def test_sync_scene_queues_and_a_drainer_syncs_it(plugin_env):
    env = plugin_env
    (scene,) = env.seed(1)
    env.stash.update_scene(scene, hooks=False, title="From the Plex panel")

    assert op(env, mode="sync_scene", scene_id=scene)["queued"] is True

    wait_until(lambda: env.plex_title(scene) == "From the Plex panel", 30, "the drainer to sync the scene")
    wait_until(lambda: op(env, mode="scene_status", scene_id=str(scene))["state"] == "synced", 30,
               "the scene to read as synced")


def test_status_dead_letters_and_retry(plugin_env):
    env = plugin_env
    env.seed(1)
    first, second = (env.stash.add_scene(title=f"No file {n}") for n in (1, 2))
    env.queue_directly([first, second])
    assert env.ok_task("Process Queue")["dead_lettered"] == 2
    env.queue_directly([1])

    status = op(env, mode="status")
    assert (status["queued"], status["retrying"], status["dead_letters"]) == (1, 0, 2)
    assert status["breaker"] == "closed" and status["drainer"] == "idle"

    letters = op(env, mode="dead_letters", limit=1)["dead_letters"]
    assert len(letters) == 1
    (letter,) = letters
    assert set(letter) >= {"scene_id", "reason", "kind", "failed_at", "attempts"}
    assert letter["kind"] == "permanent" and ISO.match(letter["failed_at"])
    assert len(op(env, mode="dead_letters")["dead_letters"]) == 2

    assert op(env, mode="retry_dead_letters", scene_ids=[str(second)])["queued"] == 1
    assert env.rows("SELECT scene_id FROM dead_letters WHERE resolved_at IS NULL") == [(first,)]


def test_bad_mode_or_argument_is_one_line_error(plugin_env):
    env = plugin_env
    for args in ({"mode": "no_such_mode"}, {"mode": "scene_status"}, {"mode": "scene_status", "scene_id": "x1"},
                 {"mode": "dead_letters", "limit": "many"}, {"mode": "retry_dead_letters", "scene_ids": "abc"}):
        message = op_error(env, **args)
        assert message and "\n" not in message and "Traceback" not in message, (args, message)
    assert len(env.stash.operation_runs) == 5
    for run in env.stash.operation_runs:  # Stash saw one JSON object and log lines only
        assert_clean_run(run)


def test_preview_scene_shows_the_change_and_writes_nothing(plugin_env):
    env = plugin_env
    scene, other, before = env.synced_pair_then_edit("Renamed in Stash")

    preview = op(env, mode="preview_scene", scene_id=str(scene))
    unchanged = op(env, mode="preview_scene", scene_id=str(other))

    assert preview["scene_id"] == str(scene)
    assert {"field": "title", "plex": before, "stash": "Renamed in Stash"} in preview["changes"]
    assert [c["field"] for c in preview["changes"]] == ["title"]
    assert unchanged["changes"] == []
    for method in ("PUT", "POST", "DELETE"):
        assert env.plex.count(method=method) == 0, method
    assert env.plex_title(scene) == before


def test_preview_changes_task_reports_exactly_the_changed_scenes(plugin_env):
    env = plugin_env
    scene_ids = env.seed(6)
    env.queue_directly(scene_ids)
    env.ok_task("Process Queue")
    env.stash.update_scene(scene_ids[1], hooks=False, title="Preview one")
    env.stash.update_scene(scene_ids[4], hooks=False, title="Preview two")
    titles = {sid: env.plex_title(sid) for sid in scene_ids}
    env.plex.reset_log()

    result = env.task("Preview Changes")

    assert result.error is None, result.error
    output = result.output
    assert output["checked"] == 6 and output["changed"] == 2
    assert sorted(s["scene_id"] for s in output["scenes"]) == [str(scene_ids[1]), str(scene_ids[4])]
    assert output["histogram"] == {"title": 2}
    assert {"field": "title", "plex": titles[scene_ids[1]], "stash": "Preview one"} in output["scenes"][0]["changes"]
    for method in ("PUT", "POST", "DELETE"):
        assert env.plex.count(method=method) == 0, method
    assert {sid: env.plex_title(sid) for sid in scene_ids} == titles
    assert result.progress[-1] == 1.0 and all(a <= b for a, b in zip(result.progress, result.progress[1:]))

    recent = env.ok_task("Preview Changes", {"hours": "1"})  # only the scenes changed in the last hour
    assert 2 <= recent["checked"] < 6 and recent["changed"] == 2, recent["summary"]
    assert env.plex.count(method="PUT") == 0


def test_preview_changes_costs_no_more_reads_than_sync_all(plugin_env):
    env = plugin_env
    scene_ids = env.seed(120)
    env.ok_task("Sync All Scenes")
    env.stash.update_scene(scene_ids[70], hooks=False, title="Only this one")

    def cost(task):
        env.stash.clear_requests()
        env.plex.reset_log()
        output = env.ok_task(task)
        return output, env.stash.count("findScenes"), env.plex.count(method="GET")

    preview, preview_stash, preview_plex = cost("Preview Changes")
    _sync, sync_stash, sync_plex = cost("Sync All Scenes")

    assert preview["checked"] == 120 and [s["scene_id"] for s in preview["scenes"]] == [str(scene_ids[70])]
    assert preview_stash <= sync_stash, (preview_stash, sync_stash)
    assert preview_plex <= sync_plex, (preview_plex, sync_plex)
