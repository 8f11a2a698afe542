"""Reconcile Plex, run as Stash runs it: drift made on the Plex side is found and undone."""

import pytest
from plexapi.server import PlexServer

from testbed.world import World, plex_path_of


@pytest.fixture
def synced_library(tmp_path):
    world = World(str(tmp_path), scenes=12, settings={"skip_poster": True})
    try:
        first = world.runner.run_task("Sync All Scenes", timeout=120)
        assert first.error is None, first.error
        yield world.stash, world.plex, world.runner, world.scene_ids, world.token
    finally:
        world.stop()


def _rating_key(stash, plex, sid):
    return plex.find_by_file(plex_path_of(stash.scene(sid)["files"][0]["path"]))


def test_reconcile_finds_and_undoes_a_plex_side_edit(synced_library):
    stash, plex, runner, ids, token = synced_library
    victim = ids[3]
    rk = _rating_key(stash, plex, victim)
    synced_title = plex.item(rk)["title"]
    server = PlexServer(plex.url, token)
    server.fetchItem(rk).editTitle("Renamed in Plex", locked=False)  # a person's edit, unlocked
    assert plex.item(rk)["title"] == "Renamed in Plex"

    unchanged = runner.run_task("Sync All Scenes", timeout=120)
    assert plex.item(rk)["title"] == "Renamed in Plex", "an unchanged scene costs no request, so Sync All cannot see it"
    assert unchanged.output["synced"] == 0

    result = runner.run_task("Reconcile Plex", timeout=120)
    assert result.error is None, result.error
    assert result.output["checked"] == len(ids)
    assert result.output["drifted"] == 1
    assert result.output["examples"][0]["scene_id"] == victim
    assert "title" in result.output["examples"][0]["fields"]
    item = plex.item(rk)
    assert item["title"] == synced_title and "title" in item["locked"]
    assert any("drifted" in text for text in result.messages("info"))


def test_reconcile_with_nothing_drifted_sends_no_edit(synced_library):
    stash, plex, runner, ids, _ = synced_library
    plex.reset_log()
    result = runner.run_task("Reconcile Plex", timeout=120)
    assert result.error is None, result.error
    assert result.output["drifted"] == 0 and result.output["missing_in_plex"] == 0
    assert plex.count(method="PUT") == 0
