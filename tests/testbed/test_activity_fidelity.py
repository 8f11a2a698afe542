"""Play history in both emulators, as the real servers keep it.

Plex (plexapi/server.py PlexServer.history, SystemAccount; plexapi/base.py PlexHistory):
history entries per account, `viewedAt>=` inclusive, sorted, paged; `/accounts` with the
system account 0 and the owner 1; scrobble adds an entry, progress sets viewOffset.
Stash (internal/api/resolver_mutation_scene.go SceneAddPlay/SceneSaveActivity,
pkg/sqlite viewHistoryTable.addDates, SceneStore.SaveActivity): every time is one play,
duplicates kept; play_count and last_played_at follow the history; resume_time is set,
playDuration added; no hook fires and updated_at stays.
"""
from __future__ import annotations

from datetime import datetime, timezone

from stashapi.stashapp import StashInterface

from tests.testbed.conftest import PLEX_SECTION_PATH
from tests.testbed.conftest_stash import stashapi_conn


def _movie(plex_server, name="a"):
    return plex_server.add_movie(1, f"{PLEX_SECTION_PATH}/{name}.mp4", title=name.upper())


def test_history_is_per_account_inclusive_sorted_and_paged(plex_server, plex_client):
    rk = _movie(plex_server)
    guest = plex_server.add_account("guest")
    for n in range(250):
        plex_server.add_play(rk, viewed_at=1_000_000 + n, account_id=1 if n % 5 else guest)
    plex_server.reset_log()

    since = plex_client.history(mindate=datetime.fromtimestamp(1_000_100, timezone.utc), accountID=1)

    times = [int(h.viewedAt.timestamp()) for h in since]
    assert times == sorted(times, reverse=True) and times[-1] == 1_000_101  # 1_000_100 is the guest's
    assert len(times) == sum(1 for n in range(100, 250) if n % 5)
    assert {h.accountID for h in since} == {1} and {type(h).__name__ for h in since} == {"MovieHistory"}
    assert all(h.historyKey.startswith("/status/sessions/history/") for h in since)
    assert plex_server.count("GET", "/status/sessions/history/all") == 2  # 120 entries, pages of 100
    boundary = plex_client.history(mindate=datetime.fromtimestamp(1_000_249, timezone.utc))
    assert [int(h.viewedAt.timestamp()) for h in boundary] == [1_000_249]


def test_accounts_scrobble_and_progress(plex_server, plex_client):
    rk = _movie(plex_server)
    plex_server.add_account("guest")
    assert [(a.id, a.name) for a in plex_client.systemAccounts()] == [(0, ""), (1, "owner"), (2, "guest")]
    item = plex_client.fetchItem(rk)
    item.updateProgress(90_000)
    assert plex_client.fetchItem(rk).viewOffset == 90_000
    assert [i.ratingKey for i in plex_client.fetchItems("/library/sections/1/all?type=1&inProgress=1")] == [rk]
    item.markPlayed()
    assert not plex_client.fetchItem(rk).viewOffset  # a finished play ends the in-progress point
    assert [h.ratingKey for h in plex_client.history()] == [rk]


def test_stash_keeps_every_play_and_the_resume_time_without_a_hook(stash_emu, sample_plugin):
    stash_emu.register_plugin(str(sample_plugin))
    scene_id = stash_emu.add_scene(title="s", files=["/data/s.mp4"])
    before = stash_emu.scene(scene_id)["updated_at"]
    hooks = len(stash_emu.hook_runs)
    stash = StashInterface(stashapi_conn(stash_emu))
    add = "mutation($id: ID!, $t: [Timestamp!]) { sceneAddPlay(id: $id, times: $t) { count history } }"

    out = stash.call_GQL(add, {"id": scene_id, "t": ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"]})
    stash.call_GQL("mutation($id: ID!) { sceneSaveActivity(id: $id, resume_time: 12.5, playDuration: 3) }",
                   {"id": scene_id})
    stash.call_GQL("mutation($id: ID!) { sceneSaveActivity(id: $id, playDuration: 4) }", {"id": scene_id})

    assert out["sceneAddPlay"]["count"] == 2  # duplicates kept: dedup is the caller's job
    scene = stash_emu.scene(scene_id)
    assert scene["play_count"] == 2 and scene["resume_time"] == 12.5 and scene["play_duration"] == 7.0
    assert scene["last_played_at"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert scene["updated_at"] == before and len(stash_emu.hook_runs) == hooks


def test_control_endpoints_make_plays_for_a_test_in_another_process(plex_server, plex_client):
    import requests

    rk = _movie(plex_server)
    base = plex_server.url + "/__testbed__/"
    guest = requests.post(base + "accounts", json={"name": "guest"}).json()["id"]
    requests.post(base + "plays", json={"rating_key": rk, "viewed_at": 1_700_000_000, "account_id": guest})
    requests.post(base + "view_offset", json={"rating_key": rk, "offset_ms": 5000})
    requests.post(base + "rate", json={"rating_key": rk, "rating": 7})
    item = plex_client.fetchItem(rk)
    assert item.viewOffset == 5000 and item.userRating == 7.0
    assert [(h.accountID, int(h.viewedAt.timestamp())) for h in plex_client.history()] == [(guest, 1_700_000_000)]
