"""Conformance of the Stash emulator, driven through the real stashapi client."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from stashapi.stashapp import StashInterface

from testbed.runner import SCENE_UPDATE_INPUT_FIELDS
from testbed.stash import StashEmulator
from testbed.stash.resolvers import schema
from tests.testbed.conftest_stash import FIND, stashapi_conn

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
FRAGMENT = ("id title code details date rating100 created_at updated_at "
            "studio { name parent_studio { name } } performers { name } tags { name } "
            "groups { group { name } scene_index } files { path basename } paths { screenshot }")
REPO_ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """A settable clock, so updated_at bumps are exact instead of racing the second."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clocked():
    clock = Clock()
    emu = StashEmulator(clock=clock).start()
    try:
        yield emu, clock
    finally:
        emu.stop()


def _scene_with_everything(emu: StashEmulator) -> int:
    parent = emu.add_studio("Parent Co")
    studio = emu.add_studio("Child Label", parent_id=parent)
    perf = emu.add_performer("Zoë Åkesson")
    tag = emu.add_tag("Outdoor")
    group = emu.add_group("The Series")
    return emu.add_scene(title="Scène one", files=["/data/stash/a/one.mp4"], studio_id=studio,
                         performer_ids=[perf], tag_ids=[tag], groups=[(group, 2)],
                         details="line 1\nligne 2 ✓", rating100=80, date="2023-04-05")


def test_stashapi_constructs_with_three_requests(stash_emu):
    stash = StashInterface(stashapi_conn(stash_emu))
    assert str(stash.version).startswith("v0.27")
    fields = [r["fields"] for r in stash_emu.requests]
    assert fields == [["version"], ["configuration"], ["__schema"]]
    assert all(r["auth"] == "cookie" and r["status"] == 200 for r in stash_emu.requests)
    assert "Scene" in stash.fragments and "VideoFile" in stash.fragments


def test_schema_input_fields_match_the_runner():
    fields = list(schema().type_map["SceneUpdateInput"].fields)
    assert fields == list(SCENE_UPDATE_INPUT_FIELDS)


def test_find_scene_with_explicit_fragment(stash_emu):
    scene_id = _scene_with_everything(stash_emu)
    stash = StashInterface(stashapi_conn(stash_emu))
    scene = stash.find_scene(scene_id, fragment=FRAGMENT)
    assert scene["title"] == "Scène one" and scene["code"] == ""
    assert scene["details"] == "line 1\nligne 2 ✓"
    assert scene["studio"] == {"name": "Child Label", "parent_studio": {"name": "Parent Co"}}
    assert scene["performers"] == [{"name": "Zoë Åkesson"}]
    assert scene["tags"] == [{"name": "Outdoor"}]
    assert scene["groups"] == [{"group": {"name": "The Series"}, "scene_index": 2}]
    assert scene["files"] == [{"path": "/data/stash/a/one.mp4", "basename": "one.mp4"}]
    assert RFC3339.match(scene["created_at"]) and RFC3339.match(scene["updated_at"])
    shot = scene["paths"]["screenshot"]
    assert shot.startswith("http://127.0.0.1:%d/scene/%s/screenshot?t=" % (stash_emu.port,
                                                                           scene_id))
    assert stash.find_scene(999999, fragment="id") is None


def test_default_fragments_resolve_and_unset_values(stash_emu):
    scene_id = stash_emu.add_scene(files=["/x/y.mp4"])
    scene = StashInterface(stashapi_conn(stash_emu)).find_scene(scene_id)
    assert scene["title"] == "" and scene["details"] == "" and scene["director"] == ""
    assert scene["date"] is None and scene["rating100"] is None and scene["studio"] is None
    assert scene["files"][0]["parent_folder"]["id"]


def test_paths_use_the_host_the_request_used(stash_emu):
    scene_id = stash_emu.add_scene(title="t")
    resp = requests.post(stash_emu.graphql_url, timeout=10,
                         headers={"Host": "0.0.0.0:%d" % stash_emu.port},
                         json={"query": "{ findScene(id: %d) { paths { screenshot } } }" % scene_id})
    shot = resp.json()["data"]["findScene"]["paths"]["screenshot"]
    assert shot.startswith("http://0.0.0.0:%d/scene/" % stash_emu.port)


def test_find_scenes_pages_through_an_updated_at_filter(clocked):
    emu, clock = clocked
    ids = [emu.add_scene(title="s%d" % i, files=["/d/%d.mp4" % i]) for i in range(30)]
    clock.advance(60)
    since = "2024-05-01T12:00:30Z"
    changed = ids[3:20]
    for n, sid in enumerate(changed):
        clock.advance(1 if n % 3 else 0)  # some saves share a second
        emu.update_scene(sid, title="changed %d" % n)
    stash = StashInterface(stashapi_conn(emu))
    seen, page = [], 1
    while True:
        variables = {"filter": {"page": page, "per_page": 5, "sort": "updated_at",
                                "direction": "ASC"},
                     "scene_filter": {"updated_at": {"value": since, "modifier": "GREATER_THAN"}}}
        result = stash.call_GQL(FIND, variables)["findScenes"]
        assert result["count"] == len(changed)
        seen += [int(s["id"]) for s in result["scenes"]]
        if len(result["scenes"]) < 5:
            break
        page += 1
    assert sorted(seen) == sorted(changed) and len(seen) == len(set(seen))
    stamps = [emu.scene(i)["updated_at"] for i in seen]
    assert stamps == sorted(stamps)
    assert emu.count("findScenes") == page


def test_find_scenes_criteria_and_all_pages(clocked):
    emu, clock = clocked
    for i in range(12):
        emu.add_scene(title="s%d" % i)
        clock.advance(10)
    stash = StashInterface(stashapi_conn(emu))
    everything = stash.call_GQL(FIND, {"filter": {"per_page": -1}})["findScenes"]
    assert everything["count"] == 12 and len(everything["scenes"]) == 12
    between = {"created_at": {"value": "2024-05-01T12:00:20Z", "value2": "2024-05-01T12:00:50Z",
                              "modifier": "BETWEEN"}}
    got = stash.call_GQL(FIND, {"filter": {"per_page": -1}, "scene_filter": between})
    assert got["findScenes"]["count"] == 4
    before = {"created_at": {"value": "2024-05-01T12:00:20Z", "modifier": "LESS_THAN"}}
    assert stash.call_GQL(FIND, {"scene_filter": before})["findScenes"]["count"] == 2
    assert len(stash.call_GQL(FIND, {})["findScenes"]["scenes"]) == 12  # default 25 per page
    desc = stash.call_GQL(FIND, {"filter": {"per_page": 3, "sort": "created_at",
                                            "direction": "DESC"}})["findScenes"]["scenes"]
    assert [s["id"] for s in desc] == ["12", "11", "10"]
    with pytest.raises(Exception):
        stash.call_GQL(FIND, {"filter": {"sort": "no_such_sort"}})


def test_scene_ids_ignore_filter_keep_order_and_fail_on_missing(stash_emu):
    ids = [stash_emu.add_scene(title="s%d" % i) for i in range(5)]
    stash = StashInterface(stashapi_conn(stash_emu))
    old = {"updated_at": {"value": "2000-01-01T00:00:00Z", "modifier": "LESS_THAN"}}
    got = stash.call_GQL(FIND, {"scene_ids": [ids[3], ids[1]], "scene_filter": old,
                                "filter": {"per_page": 1}})["findScenes"]
    assert got["count"] == 2 and [s["id"] for s in got["scenes"]] == [str(ids[3]), str(ids[1])]
    stash_emu.delete_scene(ids[1])
    with pytest.raises(Exception):
        stash.call_GQL(FIND, {"scene_ids": [ids[3], ids[1]]})
    assert stash.find_scene(ids[1]) is None


def test_plugin_settings_round_trip(stash_emu):
    stash = StashInterface(stashapi_conn(stash_emu))
    query = "query($ids: [ID!]) { configuration { plugins(include: $ids) } }"
    assert stash.call_GQL(query, {"ids": ["Stash2Plex"]})["configuration"]["plugins"] == {}
    mutation = "mutation($id: ID!, $in: Map!) { configurePlugin(plugin_id: $id, input: $in) }"
    stash.call_GQL(mutation, {"id": "Stash2Plex", "in": {"plex_url": "http://p", "n": 5}})
    stash.call_GQL(mutation, {"id": "Other", "in": {"x": True}})
    got = stash.call_GQL(query, {"ids": ["Stash2Plex"]})["configuration"]["plugins"]
    assert got == {"Stash2Plex": {"plex_url": "http://p", "n": 5}}
    stash.call_GQL(mutation, {"id": "Stash2Plex", "in": {"n": 6}})  # replaces the whole map
    assert stash_emu.plugin_settings("Stash2Plex") == {"n": 6}
    assert stash.find_plugin_config("Stash2Plex") == {"n": 6}
    stash_emu.set_plugin_settings("Stash2Plex", {"dry_run": True})
    assert stash.find_plugin_config("Stash2Plex") == {"dry_run": True}


def test_scene_update_bumps_updated_at(clocked):
    emu, clock = clocked
    scene_id = emu.add_scene(title="before")
    clock.advance(90)
    stash = StashInterface(stashapi_conn(emu))
    stash.update_scene({"id": scene_id, "title": "after", "rating100": 40})
    scene = stash.find_scene(scene_id, fragment="title rating100 updated_at created_at")
    assert scene["title"] == "after" and scene["rating100"] == 40
    assert scene["updated_at"] == "2024-05-01T12:01:30Z"
    assert scene["created_at"] == "2024-05-01T12:00:00Z"
    clock.advance(5)
    emu.update_scene(scene_id, details="UI save")
    assert emu.scene(scene_id)["updated_at"] == clock.now


def test_scene_destroy_leaves_a_missing_scene(stash_emu):
    scene_id = stash_emu.add_scene(title="doomed")
    stash = StashInterface(stashapi_conn(stash_emu))
    assert stash.destroy_scene(scene_id) is True
    assert stash.find_scene(scene_id) is None


def test_screenshots_are_jpegs_that_change_when_regenerated(stash_emu):
    a = stash_emu.add_scene(title="a")
    b = stash_emu.add_scene(title="b")
    stash = StashInterface(stashapi_conn(stash_emu))
    url_a = stash.find_scene(a, fragment="paths { screenshot }")["paths"]["screenshot"]
    url_b = stash.find_scene(b, fragment="paths { screenshot }")["paths"]["screenshot"]
    cookies = {"session": stash_emu.session_cookie}
    bytes_a = requests.get(url_a, cookies=cookies, timeout=10).content
    bytes_b = requests.get(url_b, cookies=cookies, timeout=10).content
    assert bytes_a[:3] == b"\xff\xd8\xff" and bytes_a.endswith(b"\xff\xd9")
    assert bytes_a != bytes_b
    stash_emu.set_screenshot(a)  # regenerate
    fresh = requests.get(url_a, cookies=cookies, timeout=10).content
    assert fresh != bytes_a and fresh[:2] == b"\xff\xd8"
    stash_emu.set_screenshot(a, b"\xff\xd8custom\xff\xd9")
    assert requests.get(url_a, timeout=10).content == b"\xff\xd8custom\xff\xd9"
    studio = stash_emu.add_studio("S")
    assert requests.get("%s/studio/%d/image" % (stash_emu.url, studio), timeout=10).ok


def test_auth_requires_cookie_or_api_key(stash_auth_emu):
    emu = stash_auth_emu
    scene_id = emu.add_scene(title="private")
    query = {"query": "{ version { version } }"}
    assert requests.post(emu.graphql_url, json=query, timeout=10).status_code == 401
    image = "%s/scene/%d/screenshot" % (emu.url, scene_id)
    assert requests.get(image, timeout=10).status_code == 401
    assert requests.get(image, cookies={"session": "forged"}, timeout=10).status_code == 401
    assert requests.get(image, cookies={"session": emu.session_cookie}, timeout=10).ok
    assert requests.get(image, headers={"ApiKey": emu.api_key}, timeout=10).ok
    assert requests.post(emu.graphql_url, json=query, headers={"ApiKey": emu.api_key},
                         timeout=10).ok
    with pytest.raises(Exception):
        StashInterface({"Port": emu.port, "Logger": stashapi_conn(emu)["Logger"]})
    by_cookie = StashInterface(stashapi_conn(emu), force_api_key=True)
    emu.expire_sessions()  # the plugin's cookie runs out after an hour
    assert by_cookie.find_scene(scene_id, fragment="title")["title"] == "private"
    assert emu.requests[-1]["auth"] == "apikey"
    by_key = StashInterface({"Port": emu.port, "ApiKey": emu.api_key,
                             "Logger": stashapi_conn(emu)["Logger"]})
    assert by_key.find_scene(scene_id, fragment="id")["id"] == str(scene_id)


def test_injected_503s_then_recovery(stash_emu):
    stash = StashInterface(stashapi_conn(stash_emu))
    stash_emu.faults.fail(2, status=503, route="/graphql/findScenes")
    for _ in range(2):
        with pytest.raises(Exception, match="503"):
            stash.find_scenes(fragment="id")
    assert stash.find_scene(1, fragment="id") is None  # other fields were never affected
    assert stash.find_scenes(fragment="id") == []
    statuses = [r["status"] for r in stash_emu.requests if "findScenes" in r["fields"]]
    assert statuses == [503, 503, 200]


def test_fail_window_latency_and_hang(stash_emu):
    stash_emu.faults.fail_window(0.5, status=500, route="/graphql")
    url, body = stash_emu.graphql_url, {"query": "{ version { version } }"}
    assert requests.post(url, json=body, timeout=10).status_code == 500
    deadline = time.monotonic() + 10
    while requests.post(url, json=body, timeout=10).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stash_emu.faults.latency(0.3, route="/graphql")
    started = time.monotonic()
    assert requests.post(url, json=body, timeout=10).ok
    assert time.monotonic() - started >= 0.3
    stash_emu.faults.clear()
    stash_emu.faults.hang(1, hold=5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(url, json=body, timeout=0.5)
    assert requests.post(url, json=body, timeout=10).ok


def test_go_down_and_come_up_on_the_same_port(stash_emu):
    stash = StashInterface(stashapi_conn(stash_emu))
    port = stash_emu.port
    stash_emu.go_down()
    with pytest.raises(requests.exceptions.ConnectionError):
        stash.find_scene(1, fragment="id")
    stash_emu.come_up()
    assert stash_emu.port == port
    assert stash.find_scene(1, fragment="id") is None


def test_validation_errors_answer_422(stash_emu):
    resp = requests.post(stash_emu.graphql_url, json={"query": "{ findScene(id: 1) { nope } }"},
                         timeout=10)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_seed_is_fast_and_realistic(stash_emu):
    started = time.monotonic()
    ids = stash_emu.seed(2000, rng_seed=7)
    assert time.monotonic() - started < 2.0
    assert len(ids) == 2000
    scenes = [stash_emu.scene(i) for i in ids]
    paths = [s["files"][0]["path"] for s in scenes]
    assert len(set(paths)) == 2000 and all(p.startswith("/data/stash/") for p in paths)
    basenames = [s["files"][0]["basename"] for s in scenes]
    assert len(set(basenames)) < len(basenames)  # same names in different folders
    assert any(s["studio_id"] and stash_emu.store.studios[s["studio_id"]]["parent_id"]
               for s in scenes)
    assert any("\n" in s["details"] for s in scenes)
    assert any(not s["title"] for s in scenes)
    assert len({s["updated_at"] for s in scenes}) > 500
    assert any(len(s["tag_ids"]) >= 100 for s in scenes) or len(ids) < 1000


def test_scene_update_waits_for_the_hook_and_records_it(stash_emu, sample_plugin):
    plugin_id = stash_emu.register_plugin(str(sample_plugin))
    assert plugin_id == "Sample"
    scene_id = stash_emu.add_scene(title="hooked")
    stash = StashInterface(stashapi_conn(stash_emu))
    started = time.monotonic()
    stash.update_scene({"id": scene_id, "details": "sleep 0.5", "tag_ids": []})
    assert time.monotonic() - started >= 0.5
    (run,) = stash_emu.hook_runs
    assert run.plugin_id == "Sample" and run.hook_type == "Scene.Update.Post"
    assert run.input_fields == ["id", "details", "tag_ids"]
    ctx = run.result.output["args"]["hookContext"]
    assert ctx["id"] == scene_id and ctx["inputFields"] == ["id", "details", "tag_ids"]
    assert list(ctx["input"]) == list(SCENE_UPDATE_INPUT_FIELDS)
    assert ctx["input"]["title"] is None and ctx["input"]["tag_ids"] == []
    assert run.result.duration >= 0.5 and run.result.returncode == 0
    conn = run.result.stdin["server_connection"]
    assert conn["Port"] == stash_emu.port and conn["SessionCookie"]["Name"] == "session"


def test_bulk_update_fires_one_hook_per_scene(stash_emu, sample_plugin):
    stash_emu.register_plugin(str(sample_plugin))
    ids = [stash_emu.add_scene(title="b%d" % i) for i in range(3)]
    tag = stash_emu.add_tag("Bulk")
    stash = StashInterface(stashapi_conn(stash_emu))
    stash.update_scenes({"ids": ids, "tag_ids": {"ids": [tag], "mode": "ADD"}})
    assert [r.scene_id for r in stash_emu.hook_runs] == ids
    assert all(stash_emu.scene(i)["tag_ids"] == [tag] for i in ids)


def test_scene_create_mutation_fires_create_hook_with_null_input(stash_emu, sample_plugin):
    # Real Stash (pkg/scene/create.go) fires Scene.Create.Post with input null and no
    # inputFields, whatever the sceneCreate input held.
    stash_emu.register_plugin(str(sample_plugin))
    created = StashInterface(stashapi_conn(stash_emu)).create_scene({"title": "made in the UI"})
    ctx = stash_emu.hook_runs[-1].result.output["args"]["hookContext"]
    assert ctx == {"id": int(created["id"]), "type": "Scene.Create.Post", "input": None}


def test_scan_create_hook_and_destroy_hook(stash_emu, sample_plugin):
    stash_emu.register_plugin(str(sample_plugin))
    scene_id = stash_emu.add_scene(title="scanned", files=["/d/new.mp4"], scan_hooks=True)
    ctx = stash_emu.hook_runs[-1].result.output["args"]["hookContext"]
    assert ctx == {"id": scene_id, "type": "Scene.Create.Post", "input": None}
    StashInterface(stashapi_conn(stash_emu)).destroy_scene(scene_id)
    ctx = stash_emu.hook_runs[-1].result.output["args"]["hookContext"]
    assert ctx["type"] == "Scene.Destroy.Post" and ctx["input"]["path"] == "/d/new.mp4"
    # SceneDestroy passes nil inputFields (internal/api/resolver_mutation_scene.go), and
    # HookContext tags them omitempty (pkg/plugin/common/msg.go): the key is absent.
    assert "inputFields" not in ctx and ctx["id"] == scene_id
    assert sorted(ctx["input"]) == ["checksum", "delete_file", "delete_generated", "id", "oshash", "path"]


def test_multi_scene_destroy_fires_one_hook_per_scene_with_the_whole_input(stash_emu, sample_plugin):
    stash_emu.register_plugin(str(sample_plugin))
    ids = [stash_emu.add_scene(title="d%d" % i, files=["/d/%d.mp4" % i]) for i in range(2)]
    StashInterface(stashapi_conn(stash_emu)).destroy_scenes(ids)
    ctxs = [r.result.output["args"]["hookContext"] for r in stash_emu.hook_runs[-2:]]
    assert [c["id"] for c in ctxs] == ids
    for n, ctx in enumerate(ctxs):
        assert "inputFields" not in ctx and ctx["input"]["path"] == "/d/%d.mp4" % n
        assert ctx["input"]["ids"] == [str(i) for i in ids]


def test_self_triggering_hook_stops_after_ten_levels(stash_emu, sample_plugin):
    stash_emu.register_plugin(str(sample_plugin))
    scene_id = stash_emu.add_scene(title="loop")
    StashInterface(stashapi_conn(stash_emu)).update_scene({"id": scene_id, "details": "recurse"})
    assert len(stash_emu.hook_runs) == 10


def test_run_plugin_operation_returns_output(stash_emu, sample_plugin):
    stash_emu.register_plugin(str(sample_plugin))
    stash = StashInterface(stashapi_conn(stash_emu))
    query = "mutation($a: Map) { runPluginOperation(plugin_id: \"Sample\", args: $a) }"
    out = stash.call_GQL(query, {"a": {"mode": "echo", "n": 3}})["runPluginOperation"]
    assert out["args"] == {"mode": "echo", "n": 3} and out["argv"] == ["--from-exec"]
    job = stash.run_plugin_task("Sample", "Process Queue", {"days": 2})
    run = stash_emu.task_runs[job].wait(30)
    assert run.output["args"] == {"days": 2, "mode": "process", "flag": "yes"}


def test_generate_api_key_needs_credentials_and_replaces_the_key(stash_emu, stash_auth_emu):
    mutation = {"query": "mutation { generateAPIKey(input: {}) }"}
    resp = requests.post(stash_emu.graphql_url, json=mutation, timeout=10)
    assert "credentials" in resp.json()["errors"][0]["message"]
    old = stash_auth_emu.api_key
    resp = requests.post(stash_auth_emu.graphql_url, json=mutation, headers={"ApiKey": old},
                         timeout=10)
    new = resp.json()["data"]["generateAPIKey"]
    assert new and new != old and stash_auth_emu.api_key == new
    query = {"query": "{ configuration { general { apiKey } } }"}
    assert requests.post(stash_auth_emu.graphql_url, json=query, headers={"ApiKey": old},
                         timeout=10).status_code == 401
    got = requests.post(stash_auth_emu.graphql_url, json=query, headers={"ApiKey": new},
                        timeout=10).json()
    assert got["data"]["configuration"]["general"]["apiKey"] == new


def test_python_ui_save_fires_the_hook_with_graphql_shaped_input(sample_plugin):
    emu = StashEmulator(plugin_host="0.0.0.0").start()
    try:
        emu.register_plugin(str(sample_plugin))
        tag = emu.add_tag("T")
        scene_id = emu.add_scene(title="ui")
        emu.update_scene(scene_id, title="saved", tag_ids=[tag], groups=[])
        (run,) = emu.hook_runs
        ctx = run.result.output["args"]["hookContext"]
        assert ctx["inputFields"] == ["id", "title", "tag_ids", "groups"]
        assert ctx["input"]["tag_ids"] == [str(tag)] and ctx["input"]["groups"] == []
        assert run.result.stdin["server_connection"]["Host"] == "0.0.0.0"
        emu.update_scene(scene_id, hooks=False, details="quiet")
        assert len(emu.hook_runs) == 1
    finally:
        emu.stop()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_cli_prints_url_first_and_exits_on_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "testbed.stash", "--port", "0",
                             "--seed", "20", "--auth"], cwd=str(REPO_ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert re.match(r"^http://127\.0\.0\.1:\d+$", url)
        resp = requests.post(url + "/graphql", json={"query": "{ version { version } }"},
                             timeout=10)
        assert resp.status_code == 401
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()


def test_a_scene_with_two_files_lists_its_primary_file_first(stash_emu):
    """Stash orders a scene's files with the primary one first; a scan that finds a
    second copy adds it to the scene and moves updated_at."""
    scene_id = stash_emu.add_scene(title="Copies", files=["/data/a/1080p.mp4"])
    before = stash_emu.scene(scene_id)["updated_at"]
    stash_emu.add_scene_file(scene_id, "/data/a/480p.mp4")
    stash = StashInterface(stashapi_conn(stash_emu))
    scene = stash.call_GQL("query($id: ID!) { findScene(id: $id) { updated_at files { path } } }",
                           {"id": scene_id})["findScene"]
    assert [f["path"] for f in scene["files"]] == ["/data/a/1080p.mp4", "/data/a/480p.mp4"]
    assert stash_emu.scene(scene_id)["updated_at"] >= before
    stash_emu.add_scene_file(scene_id, "/data/a/4k.mp4", primary=True)
    assert [f["path"] for f in stash_emu.scene(scene_id)["files"]][0] == "/data/a/4k.mp4"
    seeded = stash_emu.seed(6, rng_seed=1, second_file_every=3)
    assert [len(stash_emu.scene(s)["files"]) for s in seeded] == [1, 1, 2, 1, 1, 2]
