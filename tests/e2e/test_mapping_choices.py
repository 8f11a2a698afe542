"""Mapping choices, end to end: title templates, directors, the studio code in the summary.

The real plugin runs as Stash runs it (tasks through the runner, saves through the
Stash emulator firing the hook); Plex's state and its request log are read back from
the Plex emulator. Scenes are built one by one so each row says what it covers.
"""

from __future__ import annotations

from typing import Dict, List

from testbed.world import STASH_PREFIX, plex_path_of
from tests.e2e.conftest import summary_logged, wait_until

TEMPLATE = "{studio} - {title} ({date}) [{code}]"


def _scene(env, name: str, **fields) -> int:
    """A scene in Stash whose file Plex has scanned already; no hook fires."""
    path = f"{STASH_PREFIX}/mapping/{name}.mp4"
    scene_id = env.stash.add_scene(files=[path], **fields)
    env.plex.add_movie(env.section, plex_path_of(path))
    return scene_id


def _item(env, scene_id: int) -> Dict:
    item = env.plex_item(scene_id)
    assert item is not None, f"scene {scene_id} has no Plex item"
    return item


def _rating_key(env, scene_id: int) -> str:
    return str(env.plex.find_by_file(env.plex_path(scene_id)))


def _touching(env, scene_ids) -> List[str]:
    """Plex requests that name one of these scenes' items: in a /library/metadata/… path
    (a single item or a multi-get list) or as the `id` / `key` of an edit or a rating."""
    keys = {_rating_key(env, sid) for sid in scene_ids}
    hits = []
    for entry in env.plex.requests:
        path, query = entry["path"], entry["query"]
        named = {str(query.get("id", "")), str(query.get("key", "")).rsplit("/", 1)[-1]}
        if path.startswith("/library/metadata/"):
            named.update(path.split("/")[3].split(","))
        if named & keys:
            hits.append(f"{entry['method']} {path}")
    return hits


def _sync_all(env) -> Dict:
    result = env.task("Sync All Scenes")
    assert result.error is None, result.error
    assert summary_logged(result)
    return result.output


def _library(env) -> Dict[str, int]:
    studio = env.stash.add_studio("Sunset Films")
    ann, bo = env.stash.add_performer("Ann Lee"), env.stash.add_performer("Bo Diaz")
    return {
        "full": _scene(env, "full", title="Beach Day", studio_id=studio, date="2021-03-04", code="SF-101",
                       performer_ids=[ann, bo], director="Jane Roe"),
        "no studio": _scene(env, "no studio", title="Night Walk", date="2020-01-02"),
        "studio only": _scene(env, "studio only", title="Studio Only", studio_id=studio),
        "code only": _scene(env, "code only", title="Coded", code="X-1"),
        "bare": _scene(env, "bare clip"),  # no title: the file name stands in
    }


def test_title_template_renders_with_and_without_studio_date_code(plugin_env):
    env = plugin_env
    scenes = _library(env)
    env.configure(title_template=TEMPLATE)

    assert _sync_all(env)["synced"] == 5

    expected = {
        "full": "Sunset Films - Beach Day (2021-03-04) [SF-101]",
        "no studio": "Night Walk (2020-01-02)",
        "studio only": "Sunset Films - Studio Only",
        "code only": "Coded [X-1]",
        "bare": "bare clip",
    }
    for name, title in expected.items():
        item = _item(env, scenes[name])
        assert item["title"] == title, name
        assert "title" in item["locked"], name

    # The other placeholders; a separator survives only between two parts with text.
    env.configure(title_template="[{year}] {title} - {performers}, dir. {director}")
    _sync_all(env)
    assert _item(env, scenes["full"])["title"] == "[2021] Beach Day - Ann Lee, Bo Diaz, dir. Jane Roe"
    assert _item(env, scenes["no studio"])["title"] == "[2020] Night Walk"
    assert _item(env, scenes["code only"])["title"] == "Coded"

    # A render with no text falls back to the plain title.
    env.configure(title_template="{studio}")
    _sync_all(env)
    assert _item(env, scenes["studio only"])["title"] == "Sunset Films"
    assert _item(env, scenes["no studio"])["title"] == "Night Walk"
    assert _item(env, scenes["bare"])["title"] == "bare clip"


def test_directors_reach_plex_locked_and_clear_when_emptied(plugin_env):
    env = plugin_env
    directed = _scene(env, "directed", title="Directed", director="Jane Roe")
    undirected = _scene(env, "undirected", title="Undirected")
    env.plex.set_agent_metadata(env.section, directors=["Agent Director"])
    for sid in (directed, undirected):
        env.plex.agent_refresh(_rating_key(env, sid))
    assert _item(env, undirected)["directors"] == ["Agent Director"]

    _sync_all(env)
    for sid, want in ((directed, ["Jane Roe"]), (undirected, [])):
        item = _item(env, sid)
        assert item["directors"] == want, sid
        assert "director" in item["locked"], sid
    env.plex.agent_refresh(_rating_key(env, directed))  # locked: the agent cannot take it back
    assert _item(env, directed)["directors"] == ["Jane Roe"]

    env.stash.update_scene(directed, director="John Doe")  # a save in the UI: the hook, the drainer
    wait_until(lambda: _item(env, directed)["directors"] == ["John Doe"], 30, "the new director in Plex")
    env.stash.update_scene(directed, director="")
    wait_until(lambda: _item(env, directed)["directors"] == [], 30, "the director to be cleared in Plex")
    assert "director" in _item(env, directed)["locked"]


def test_skip_director_leaves_the_plex_director_alone(plugin_env):
    env = plugin_env
    env.configure(skip_director=True)
    sid = _scene(env, "skipped", title="Skipped", director="Jane Roe")
    rk = _rating_key(env, sid)
    env.plex.set_agent_metadata(env.section, directors=["Agent Director"])
    env.plex.agent_refresh(rk)

    _sync_all(env)

    item = _item(env, sid)
    assert item["title"] == "Skipped"
    assert item["directors"] == ["Agent Director"] and "director" not in item["locked"]


def test_code_in_summary_prefixes_the_code(plugin_env):
    env = plugin_env
    both = _scene(env, "both", title="Both", code="ABC-123", details="Two friends at the beach.")
    code_only = _scene(env, "code only", title="Code only", code="ABC-124")
    details_only = _scene(env, "details only", title="Details only", details="No code here.")
    _sync_all(env)
    assert _item(env, both)["summary"] == "Two friends at the beach."
    assert _item(env, code_only)["summary"] is None

    env.configure(code_in_summary=True)
    env.plex.reset_log()
    assert _sync_all(env)["synced"] == 2  # the scene without a code has nothing new to send

    assert _item(env, both)["summary"] == "ABC-123 · Two friends at the beach."
    assert _item(env, code_only)["summary"] == "ABC-124"
    assert _item(env, details_only)["summary"] == "No code here."
    assert "summary" in _item(env, both)["locked"]
    assert _touching(env, [details_only]) == [] and _touching(env, [both])


def test_changing_the_template_touches_only_scenes_whose_title_changes(plugin_env):
    env = plugin_env
    studio = env.stash.add_studio("Sunset Films")
    with_studio = [_scene(env, f"studio {i}", title=f"With studio {i}", studio_id=studio) for i in range(2)]
    plain = _scene(env, "plain", title="Plain")
    coded = _scene(env, "coded", title="Coded", code="C-9")
    everyone = with_studio + [plain, coded]
    assert _sync_all(env)["synced"] == 4

    env.configure(title_template="{studio} - {title}")
    env.plex.reset_log()
    assert _sync_all(env)["synced"] == 2
    assert [_item(env, sid)["title"] for sid in with_studio] == ["Sunset Films - With studio 0",
                                                                 "Sunset Films - With studio 1"]
    assert _item(env, plain)["title"] == "Plain" and _item(env, coded)["title"] == "Coded"
    assert _touching(env, [plain, coded]) == []
    assert all(_touching(env, [sid]) for sid in with_studio)  # the helper sees what it should
    assert env.plex.count(method="PUT") == 2

    env.configure(title_template="{studio} - {title} ({code})")
    env.plex.reset_log()
    assert _sync_all(env)["synced"] == 1
    assert _item(env, coded)["title"] == "Coded (C-9)"
    assert _touching(env, with_studio + [plain]) == []
    assert env.plex.count(method="PUT") == 1

    # A template whose every render is unchanged: no item is read or written.
    env.configure(title_template="{studio} - {title} ({code}) [{director}]")
    env.plex.reset_log()
    assert _sync_all(env)["synced"] == 0
    assert _touching(env, everyone) == []
    assert env.plex.count(method="PUT") == 0 and env.plex.count(method="POST") == 0


def test_an_unknown_placeholder_pauses_draining_and_keeps_the_job(plugin_env):
    env = plugin_env
    sid = _scene(env, "victim", title="Victim")
    env.configure(title_template="{studio} - {titel}")

    env.stash.update_scene(sid, title="Saved with a bad template")  # the hook starts a drainer

    wait_until(lambda: "{titel}" in env.drainer_log(), 30, "the drainer to name the bad placeholder")
    status = env.status()
    assert status["pending"] == 1 and status["dead_letters"] == 0
    message = status["last_config_error"]["message"]
    assert "title_template" in message and "{titel}" in message
    assert "\n" not in message
    assert _item(env, sid)["title"] == "victim"  # nothing written meanwhile

    failed = env.task("Process Queue")
    assert failed.output is None and "title_template" in failed.error and "{titel}" in failed.error
    assert env.status()["pending"] == 1

    env.configure(title_template="{title} - {studio}")
    wait_until(lambda: _item(env, sid)["title"] == "Saved with a bad template", 30,
               "the paused drainer to resume after the fix")
