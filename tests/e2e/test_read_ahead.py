"""Reading the next batch ahead (worker/batch/ahead.py) against the emulated servers.

The next batch's scenes are read from Stash while this batch writes to Plex; that read
may serve the next batch only when every one of its jobs was queued before the read
began (the rule that lets a sync absorb a job, worker/loop.py), so an edit saved after
the read began is never lost.
"""

from __future__ import annotations

import time

import pytest
import requests

from plex import client as plex_client
from stash.client import StashReader
from testbed.plex import PlexEmulator
from testbed.stash import StashEmulator
from validation.settings import Settings
from worker.batch.scene import SyncResult
from worker.batch.syncer import SceneSyncer
from worker.database import open_db

TOKEN = "e2e-plex-token"


@pytest.fixture
def world(tmp_path):
    plex = PlexEmulator(token=TOKEN).start()
    plex.movies = plex.add_section("Movies", locations=["/media/movies"])
    stash = StashEmulator().start()
    conn = open_db(str(tmp_path))
    session = requests.Session()
    settings = Settings(plex_url=plex.url, plex_token=TOKEN, path_map="/data => /media")
    reader = StashReader.from_server_connection(stash.server_connection(str(tmp_path), host="0.0.0.0"))
    syncer = SceneSyncer(settings, reader, lambda: plex_client.connect(settings, conn, session), conn,
                         sleep=lambda s: None)
    yield plex, stash, syncer
    syncer.ahead.close()
    session.close()
    conn.close()
    stash.stop()
    plex.stop()


def _scenes(plex, stash, n):
    ids, keys = [], []
    for i in range(n):
        ids.append(stash.add_scene(title=f"Scene {i}", files=[f"/data/movies/s{i}.mp4"]))
        keys.append(plex.add_movie(plex.movies, f"/media/movies/s{i}.mp4"))
    return ids, keys


def _graphql(stash):
    return sum(1 for r in stash.requests if r["path"] == "/graphql")


def test_the_next_batch_is_served_by_the_read_taken_ahead(world):
    plex, stash, syncer = world
    ids, keys = _scenes(plex, stash, 4)
    queued_at = time.time()
    first = syncer.sync_batch(ids[:2], read_after=queued_at, next_ids=ids[2:])
    stash.clear_requests()
    second = syncer.sync_batch(ids[2:], read_after=queued_at)
    assert all(isinstance(r, SyncResult) for r in list(first.values()) + list(second.values()))
    assert syncer.ahead.used == 1
    assert _graphql(stash) == 0  # the scenes were read while the first batch wrote
    assert [plex.item(k)["title"] for k in keys] == ["Scene 0", "Scene 1", "Scene 2", "Scene 3"]


def test_an_edit_queued_after_the_read_began_is_read_again(world):
    plex, stash, syncer = world
    ids, keys = _scenes(plex, stash, 2)
    syncer.sync_batch(ids[:1], read_after=time.time(), next_ids=ids[1:])
    stash.update_scene(ids[1], hooks=False, title="Saved later")
    queued_at = time.time()  # the hook of that save queues its job now: after the read began
    result = syncer.sync_batch(ids[1:], read_after=queued_at)
    assert isinstance(result[ids[1]], SyncResult)
    assert syncer.ahead.used == 0
    assert plex.item(keys[1])["title"] == "Saved later"


def test_a_read_ahead_of_other_scenes_is_not_used(world):
    plex, stash, syncer = world
    ids, keys = _scenes(plex, stash, 3)
    queued_at = time.time()
    syncer.sync_batch(ids[:1], read_after=queued_at, next_ids=ids[1:2])
    result = syncer.sync_batch(ids[1:], read_after=queued_at)  # asks for more than was read ahead
    assert all(isinstance(r, SyncResult) for r in result.values())
    assert syncer.ahead.used == 0
    assert [plex.item(k)["title"] for k in keys] == ["Scene 0", "Scene 1", "Scene 2"]
