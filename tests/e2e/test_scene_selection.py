"""Which scenes go to Plex, and what happens to a scene deleted in Stash.

The real plugin runs as Stash runs it (hooks fired by saves over GraphQL, tasks through
the runner) against both emulators; every check reads Plex's own state back from the
Plex emulator, and its request log for "no request about this item".

- only_organized, required_tags and excluded_scene_tags each sync exactly the scenes
  they let through; a scene they leave out costs no Plex request, is neither retried
  nor dead-lettered, keeps what Plex has, and Queue Status counts it.
- Scene.Destroy.Post: the items a destroyed scene reached get the fields Stash2Plex
  wrote unlocked (values left, nothing deleted) and the scene's sync state is dropped.
"""

from __future__ import annotations

from typing import Any, Dict, List

import requests

from testbed.world import STASH_PREFIX, plex_path_of
from tests.e2e.conftest import wait_until
from tests.support import holds_for

DRAIN_SECONDS = 60.0
OWNED_LOCKS = {"title", "summary", "originallyAvailableAt", "year", "studio", "genre", "thumb"}


def add_scene(env, name: str, in_plex: bool = True, files: int = 1, **fields: Any) -> int:
    """A scene whose file(s) Plex already scanned, each into an item of its own."""
    paths = [f"{STASH_PREFIX}/selection/{name}-{n}.mp4" for n in range(files)]
    sid = env.stash.add_scene(files=paths, **fields)
    if in_plex:
        for path in paths:
            env.plex.add_movie(env.section, plex_path_of(path))
    return sid


def item_keys(env, sid: int) -> List[int]:
    return [env.plex.find_by_file(plex_path_of(f["path"])) for f in env.stash.scene(sid)["files"]]


def graphql(env, query: str, variables: Dict[str, Any]) -> Dict[str, Any]:
    """A mutation as Stash's UI sends it; Stash answers once every hook process exited."""
    resp = requests.post(env.stash.graphql_url, json={"query": query, "variables": variables}, timeout=60)
    body = resp.json()
    assert resp.status_code == 200 and "errors" not in body, resp.text
    return body["data"]


def save(env, **scene_input: Any) -> None:
    graphql(env, "mutation($i: SceneUpdateInput!) { sceneUpdate(input: $i) { id } }", {"i": scene_input})


def touched(env, rating_key: int) -> List[Dict[str, Any]]:
    """Plex requests about one item: its metadata path, an edit naming it, a rating."""
    rk = str(rating_key)
    hits = []
    for req in env.plex.requests:
        query = req.get("query") or {}
        last = req["path"].rstrip("/").split("/")
        in_path = req["path"].startswith("/library/metadata/") and rk in last[3].split(",")
        if in_path or rk in str(query.get("id", "")).split(",") or str(query.get("key", "")) == rk:
            hits.append(req)
    return hits


def filter_figures(env) -> Dict[str, Any]:
    return env.status()["scene_filter"]


def skipped(env, n: int) -> bool:
    return filter_figures(env)["skipped"] == n


def drained(env) -> bool:
    counts = env.status()
    return counts["pending"] == 0 and counts["in_flight"] == 0


# -- which scenes go to Plex --------------------------------------------------------


def test_only_organized_syncs_exactly_the_organized_scenes(plugin_env):
    env = plugin_env
    env.configure(only_organized=True)
    done = add_scene(env, "done", title="Organized scene", organized=True)
    loose = add_scene(env, "loose", title="Not organized yet", organized=False)
    [loose_rk] = item_keys(env, loose)
    before = env.plex.item(loose_rk)
    env.plex.reset_log()

    env.queue_directly([done, loose])
    out = env.ok_task("Process Queue")

    assert env.plex_title(done) == "Organized scene"
    assert "title" in env.plex_item(done)["locked"]
    assert env.plex.item(loose_rk) == before  # left exactly as it is
    assert touched(env, loose_rk) == []  # and never asked about
    assert out["synced"] == 1 and out["filtered"] == 1, out
    status = env.status()
    assert status["dead_letters"] == 0 and status["deferred"] == 0 and status["pending"] == 0
    assert status["scene_filter"] == {"skipped": 1, "by_reason": {"not_organized": 1}}
    assert "skipped by the scene filter 1" in status["summary"]


def test_required_tags_sync_only_scenes_with_one_of_them(plugin_env):
    env = plugin_env
    publish, ready, other = (env.stash.add_tag(n) for n in ("Publish", "Plex Ready", "Other"))
    env.configure(required_tags=" publish , PLEX READY")  # trimmed, any case
    first = add_scene(env, "first", title="Has Publish", tag_ids=[other, publish])
    second = add_scene(env, "second", title="Has Plex Ready", tag_ids=[ready])
    wrong = add_scene(env, "wrong", title="Only Other", tag_ids=[other])
    bare = add_scene(env, "bare", title="No tags at all")
    left = {sid: env.plex.item(item_keys(env, sid)[0]) for sid in (wrong, bare)}
    env.plex.reset_log()

    env.queue_directly([first, second, wrong, bare])
    env.ok_task("Process Queue")

    assert env.plex_title(first) == "Has Publish" and env.plex_title(second) == "Has Plex Ready"
    for sid, before in left.items():
        rk = item_keys(env, sid)[0]
        assert env.plex.item(rk) == before and touched(env, rk) == []
    assert filter_figures(env) == {"skipped": 2, "by_reason": {"no_required_tag": 2}}


def test_excluded_scene_tags_leave_those_scenes_alone_unlike_excluded_tags(plugin_env):
    env = plugin_env
    private, hidden, shown = (env.stash.add_tag(n) for n in ("Private", "Hidden", "Shown"))
    # excluded_tags only keeps a tag out of Plex's genres; excluded_scene_tags keeps the scene out.
    env.configure(excluded_scene_tags="private", excluded_tags="Hidden")
    secret = add_scene(env, "secret", title="Private scene", tag_ids=[shown, private])
    public = add_scene(env, "public", title="Public scene", tag_ids=[shown, hidden])
    [secret_rk] = item_keys(env, secret)
    before = env.plex.item(secret_rk)
    env.plex.reset_log()

    env.queue_directly([secret, public])
    env.ok_task("Process Queue")

    assert env.plex.item(secret_rk) == before and touched(env, secret_rk) == []
    synced = env.plex_item(public)
    assert synced["title"] == "Public scene" and synced["genres"] == ["Shown"]
    assert filter_figures(env) == {"skipped": 1, "by_reason": {"excluded_tag": 1}}


def test_marking_a_scene_organized_reaches_plex_with_only_organized_on(plugin_env):
    env = plugin_env
    env.configure(only_organized=True)
    sid = add_scene(env, "button", title="Waiting for review", organized=False)
    [rk] = item_keys(env, sid)
    agent_title = env.plex.item(rk)["title"]

    save(env, id=sid, title="Reviewed title")  # an edit-form save of an unorganized scene
    wait_until(lambda: skipped(env, 1), DRAIN_SECONDS, "the drainer to leave the scene alone")
    assert env.plex.item(rk)["title"] == agent_title

    save(env, id=sid, organized=True)  # the organized button: inputFields ["id", "organized"]

    run = env.stash.hook_runs[-1]
    assert run.hook_type == "Scene.Update.Post" and sorted(run.result.stdin["args"]["hookContext"]
                                                          ["inputFields"]) == ["id", "organized"]
    assert run.result.output["queued"] is True, run.result.output
    wait_until(lambda: env.plex_title(sid) == "Reviewed title", DRAIN_SECONDS, "the organized scene to reach Plex")
    wait_until(lambda: skipped(env, 0), DRAIN_SECONDS, "the filter count to drop the scene")


def test_a_scene_unmarked_organized_keeps_its_plex_values(plugin_env):
    env = plugin_env
    env.configure(only_organized=True)
    sid = add_scene(env, "unmark", title="Synced while organized", details="Kept summary", organized=True)
    [rk] = item_keys(env, sid)
    env.queue_directly([sid])
    env.ok_task("Process Queue")
    synced = env.plex.item(rk)
    assert synced["title"] == "Synced while organized" and "title" in synced["locked"]
    env.plex.reset_log()

    save(env, id=sid, organized=False)
    save(env, id=sid, title="Changed after unmarking")

    wait_until(lambda: skipped(env, 1), DRAIN_SECONDS, "the drainer to leave the scene alone")
    wait_until(lambda: drained(env), DRAIN_SECONDS, "the queue to empty")
    assert env.plex.item(rk) == synced  # values and locks as they were
    assert touched(env, rk) == []
    assert env.rows("SELECT scene_id FROM sync_state WHERE scene_id = ?", [sid]) == [(sid,)]
    assert env.status()["dead_letters"] == 0


def test_changing_the_filter_brings_the_scenes_it_left_out_to_plex(plugin_env):
    env = plugin_env
    env.configure(only_organized=True)
    loose = add_scene(env, "later", title="Synced once the filter is off", organized=False)
    env.queue_directly([loose])
    env.ok_task("Process Queue")
    assert skipped(env, 1) and env.plex_title(loose) != "Synced once the filter is off"

    env.configure(only_organized=None)  # unchecked again: nothing queued by hand
    out = env.ok_task("Process Queue")

    assert env.plex_title(loose) == "Synced once the filter is off"
    assert out["synced"] == 1 and skipped(env, 0)


# -- deleted scenes -----------------------------------------------------------------


def test_a_destroyed_scene_is_unlocked_and_forgotten(plugin_env):
    env = plugin_env
    studio = env.stash.add_studio("Studio S")
    tag = env.stash.add_tag("Tagged")
    synced = add_scene(env, "synced", files=2, title="Synced then deleted", details="Summary stays",
                       date="2022-02-02", studio_id=studio, tag_ids=[tag])
    never = add_scene(env, "never", title="Never synced")
    keys = item_keys(env, synced)
    env.queue_directly([synced])
    env.ok_task("Process Queue")
    written = {rk: env.plex.item(rk) for rk in keys}
    for item in written.values():
        assert OWNED_LOCKS <= item["locked"], item["locked"]
    env.plex.reset_log()

    graphql(env, "mutation($i: ScenesDestroyInput!) { scenesDestroy(input: $i) }",
            {"i": {"ids": [str(synced), str(never)]}})

    runs = env.stash.hook_runs[-2:]
    assert [r.hook_type for r in runs] == ["Scene.Destroy.Post"] * 2
    assert [r.scene_id for r in runs] == [synced, never]
    assert all(r.result.output["queued"] is True for r in runs), [r.result.output for r in runs]
    wait_until(lambda: not env.rows("SELECT scene_id FROM sync_items WHERE scene_id = ?", [synced]),
               DRAIN_SECONDS, "the destroyed scene's sync state to be dropped")
    wait_until(lambda: drained(env), DRAIN_SECONDS, "the queue to empty")
    assert env.rows("SELECT scene_id FROM sync_state WHERE scene_id IN (?, ?)", [synced, never]) == []
    for rk, before in written.items():
        after = env.plex.item(rk)
        assert not OWNED_LOCKS & after["locked"], after["locked"]  # Plex's agent may take over
        for field in ("title", "summary", "originallyAvailableAt", "studio", "genres", "posters"):
            assert after[field] == before[field], field  # nothing deleted, nothing changed
    puts = [r for r in env.plex.requests if r["method"] != "GET"]
    assert sorted(int(r["query"]["id"]) for r in puts) == sorted(keys)  # one request per item
    assert all(not any(k.endswith(".value") or "[" in k for k in r["query"]) for r in puts)
    status = env.status()
    assert status["dead_letters"] == 0 and status["deferred"] == 0
    holds_for(lambda: env.rows("SELECT count(*) FROM dead_letters") == [(0,)], 1.0,
              "no dead letter for the deleted scenes")

    env.plex.set_agent_metadata(env.section, title="Agent Title", summary="Agent summary")
    env.plex.agent_refresh(keys[0])
    assert env.plex.item(keys[0])["title"] == "Agent Title"  # the agent took the field over
