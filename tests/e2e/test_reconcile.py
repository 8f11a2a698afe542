"""Reconcile Plex, run as Stash runs it: drift made on the Plex side is found and undone."""

import os
import secrets

import pytest
from plexapi.server import PlexServer

from testbed.plex import PlexEmulator
from testbed.runner import PluginRunner
from testbed.stash import StashEmulator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def synced_library(tmp_path):
    token = secrets.token_hex(8)
    stash = StashEmulator(config_dir=str(tmp_path / "stash")).start()
    plex = PlexEmulator(token=token).start()
    try:
        ids = stash.seed(12, rng_seed=3, path_prefix="/data/stash")
        section = plex.add_section("Scenes", locations=["/media"])
        for sid in ids:
            plex.add_movie(section, stash.scene(sid)["files"][0]["path"].replace("/data/stash", "/media", 1))
        stash.set_plugin_settings("Stash2Plex", {"plex_url": plex.url, "plex_token": token,
                                                  "path_map": "/data/stash => /media", "skip_poster": True})
        runner = PluginRunner(ROOT, stash.server_connection(ROOT))
        first = runner.run_task("Sync All Scenes", timeout=120)
        assert first.error is None, first.error
        yield stash, plex, runner, ids, token
    finally:
        stash.stop()
        plex.stop()


def _rating_key(stash, plex, sid):
    return plex.find_by_file(stash.scene(sid)["files"][0]["path"].replace("/data/stash", "/media", 1))


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
