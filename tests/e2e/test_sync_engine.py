"""The sync engine end to end: real stashapi and plexapi against the emulated servers.

Scenes are created in the Stash emulator, synced through SceneSyncer.sync_batch, and
read back from the Plex emulator's store (fields, locks, tag lists, images) and its
request log.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from plexapi.server import PlexServer

from plex import client as plex_client
from plex.index import PathIndex
from stash.client import StashReader
from worker.database import open_db
from sync_queue.sync_state import SyncState
from testbed.plex import PlexEmulator
from testbed.stash import StashEmulator
from errors.kinds import AmbiguousMatch, ConfigError, ErrorKind, NotFoundYet
from validation.settings import Settings
from worker.classify import classify
from worker.batch.scene import SyncResult
from worker.batch.syncer import SceneSyncer

TOKEN = "e2e-plex-token"
OWNED_LOCKS = {"title", "summary", "originallyAvailableAt", "studio", "actor", "genre", "collection", "thumb"}


@pytest.fixture
def plex():
    emu = PlexEmulator(token=TOKEN).start()
    emu.movies = emu.add_section("Movies", locations=["/media/movies"])
    yield emu
    emu.stop()


class TickingClock:
    """Stash keeps one-second timestamps; each save here lands in a new second."""

    def __init__(self):
        self.now = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def stash():
    emu = StashEmulator(clock=TickingClock()).start()
    yield emu
    emu.stop()


@pytest.fixture
def conn(tmp_path):
    db = open_db(str(tmp_path))
    yield db
    db.close()


@pytest.fixture
def make_syncer(plex, stash, conn, tmp_path):
    """SceneSyncer factory; Stash reports Host 0.0.0.0 as it often does."""
    reader = StashReader.from_server_connection(stash.server_connection(str(tmp_path), host="0.0.0.0"))
    sessions = []

    def make(**options) -> SceneSyncer:
        values = dict(plex_url=plex.url, plex_token=TOKEN, path_map="/data => /media")
        values.update(options)
        settings = Settings(**values)
        session = requests.Session()
        sessions.append(session)
        return SceneSyncer(settings, reader, lambda: plex_client.connect(settings, conn, session), conn,
                           sleep=lambda s: None)

    yield make
    for s in sessions:
        s.close()


def ok(result) -> SyncResult:
    assert isinstance(result, SyncResult), repr(result)
    return result


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def varied_library(plex, stash):
    """Scenes covering the mapping table, each with its Plex item; returns [(scene_id, rk, expected)]."""
    studio = stash.add_studio("Studio Ünï")
    alice, bob = stash.add_performer("Alice"), stash.add_performer("Björk O'Brien")
    tag_a, tag_b = stash.add_tag("Outdoor"), stash.add_tag("Black & White")
    many = [stash.add_tag(f"tag {i:02}") for i in range(60)]
    group = stash.add_group("Group One")
    rows = [
        dict(title="Full scene", details="First line\nSecond “line” — ok", date="2021-03-04", rating100=90,
             studio_id=studio, performer_ids=[bob, alice], tag_ids=[tag_a, tag_b], groups=[(group, 2)],
             expect=dict(title="Full scene", summary="First line\nSecond “line” — ok",
                         originallyAvailableAt="2021-03-04", year=2021, studio="Studio Ünï",
                         actors=["Björk O'Brien", "Alice"], genres=["Outdoor", "Black & White"],
                         collections=["Group One", "Studio Ünï"], userRating=9.0)),
        dict(title="No studio no performers", tag_ids=[],
             expect=dict(studio=None, actors=[], genres=[], collections=[], userRating=None, summary=None)),
        dict(title="Sixty tags", tag_ids=many, rating100=35,
             expect=dict(genres=[f"tag {i:02}" for i in range(60)], userRating=3.5)),
        dict(title="", details="日本語の説明\n\nZweite Zeile", file="Empty.Title.Clip.mp4",
             expect=dict(title="Empty.Title.Clip", summary="日本語の説明\n\nZweite Zeile")),
        dict(title="Control\x07chars\x1b", details="tab\tkept\r\nCRLF", expect=dict(title="Controlchars",
                                                                               summary="tab\tkept\nCRLF")),
    ]
    out = []
    for i, row in enumerate(rows):
        expect = row.pop("expect")
        name = row.pop("file", f"scene{i}.mp4")
        sid = stash.add_scene(files=[f"/data/movies/v{i}/{name}"], **row)
        rk = plex.add_movie(plex.movies, f"/media/movies/v{i}/{name}")
        out.append((sid, rk, expect))
    return out


def test_varied_scenes_land_with_every_field_and_lock(plex, stash, make_syncer):
    library = varied_library(plex, stash)
    results = make_syncer().sync_batch([sid for sid, _, _ in library])
    for sid, rk, expect in library:
        assert ok(results[sid]).status == "synced"
        item = plex.item(rk)
        for field, value in expect.items():
            assert item[field] == value, (sid, field)
        assert OWNED_LOCKS <= item["locked"], (sid, OWNED_LOCKS - item["locked"])
        shot = stash.image_bytes("scene", sid)
        assert [p["sha256"] for p in item["posters"]] == [sha(shot)]
        assert item["posters"][0]["selected"]


def test_stash_edits_reach_plex_and_survive_an_agent_refresh(plex, stash, make_syncer):
    studio_a, studio_b = stash.add_studio("Old Studio"), stash.add_studio("New Studio")
    keep, drop = stash.add_tag("Keep"), stash.add_tag("Drop")
    sid = stash.add_scene(title="Before", files=["/data/movies/a/scene.mp4"], studio_id=studio_a,
                          tag_ids=[keep, drop])
    rk = plex.add_movie(plex.movies, "/media/movies/a/scene.mp4", genres=["Agent Genre"])
    plex.set_agent_metadata(plex.movies, title="Agent Title", genres=["Agent Genre"], studio="Agent Studio",
                            summary="Agent summary")
    syncer = make_syncer()
    ok(syncer.sync_batch([sid])[sid])
    assert plex.item(rk)["genres"] == ["Keep", "Drop"]  # the agent's genre is gone: lists are authoritative

    stash.update_scene(sid, title="After", tag_ids=[keep], studio_id=studio_b)
    ok(syncer.sync_batch([sid])[sid])
    plex.agent_refresh(rk)
    item = plex.item(rk)
    assert item["title"] == "After"
    assert item["genres"] == ["Keep"]
    assert item["studio"] == "New Studio"
    assert item["collections"] == ["New Studio"]
    assert item["summary"] is None  # empty in Stash: cleared, locked, not the agent's text


def test_unchanged_resync_costs_no_plex_request(plex, stash, make_syncer):
    library = varied_library(plex, stash)
    ids = [sid for sid, _, _ in library]
    syncer = make_syncer()
    syncer.sync_batch(ids)
    plex.reset_log()
    stash.clear_requests()
    results = syncer.sync_batch(ids)
    assert {ok(r).status for r in results.values()} == {"unchanged"}
    assert plex.count() == 0
    assert len(stash.requests) == 1 and stash.count("findScenes") == 1  # the whole batch, one read
    # A new drainer (new syncer, nothing cached) needs no Plex request either.
    assert {ok(r).status for r in make_syncer().sync_batch(ids).values()} == {"unchanged"}
    assert plex.count() == 0


def test_poster_is_uploaded_only_when_its_bytes_change(plex, stash, make_syncer):
    sid = stash.add_scene(title="Poster", files=["/data/movies/p/p.mp4"])
    rk = plex.add_movie(plex.movies, "/media/movies/p/p.mp4")
    syncer = make_syncer()
    ok(syncer.sync_batch([sid])[sid])
    assert len(plex.item(rk)["posters"]) == 1

    stash.update_scene(sid, title="Poster 2")  # the screenshot URL changes (t=), its bytes do not
    plex.reset_log()
    assert ok(syncer.sync_batch([sid])[sid]).uploads == 0
    assert plex.count("POST") == 0 and len(plex.item(rk)["posters"]) == 1

    new_shot = stash.image_bytes("scene", sid)[:-2] + b"\x00\xff\xd9"
    stash.set_screenshot(sid, new_shot)
    result = ok(syncer.sync_batch([sid])[sid])
    assert result.uploads == 1
    item = plex.item(rk)
    assert len(item["posters"]) == 2
    assert [p["sha256"] for p in item["posters"] if p["selected"]] == [sha(new_shot)]
    assert "thumb" in item["locked"]


def test_background_uses_the_screenshot_when_enabled(plex, stash, make_syncer):
    sid = stash.add_scene(title="Art", files=["/data/movies/b/b.mp4"])
    rk = plex.add_movie(plex.movies, "/media/movies/b/b.mp4")
    ok(make_syncer(sync_background=True).sync_batch([sid])[sid])
    item = plex.item(rk)
    assert [a["sha256"] for a in item["arts"]] == [sha(stash.image_bytes("scene", sid))]
    assert {"thumb", "art"} <= item["locked"]


def test_rating_is_set_and_cleared(plex, stash, make_syncer):
    sid = stash.add_scene(title="Rated", files=["/data/movies/r/r.mp4"], rating100=60)
    rk = plex.add_movie(plex.movies, "/media/movies/r/r.mp4")
    syncer = make_syncer()
    ok(syncer.sync_batch([sid])[sid])
    assert plex.item(rk)["userRating"] == 6.0
    stash.update_scene(sid, rating100=None)
    plex.reset_log()
    assert ok(syncer.sync_batch([sid])[sid]).rated
    assert plex.item(rk)["userRating"] is None


def test_two_sections_and_same_file_names(plex, stash, make_syncer):
    other = plex.add_section("Other", locations=["/media/other"])
    one = stash.add_scene(title="In movies", files=["/data/movies/x/scene.mp4"])
    two = stash.add_scene(title="In other", files=["/data/other/scene.mp4"])
    three = stash.add_scene(title="Other folder", files=["/data/movies/y/scene.mp4"])
    rk1 = plex.add_movie(plex.movies, "/media/movies/x/scene.mp4")
    rk2 = plex.add_movie(other, "/media/other/scene.mp4")
    rk3 = plex.add_movie(plex.movies, "/media/movies/y/scene.mp4")
    results = make_syncer().sync_batch([one, two, three])
    assert (ok(results[one]).plex_key, ok(results[two]).plex_key, ok(results[three]).plex_key) == (
        str(rk1), str(rk2), str(rk3))
    assert results[two].section_id == str(other)
    assert [plex.item(rk)["title"] for rk in (rk1, rk2, rk3)] == ["In movies", "In other", "Other folder"]


def test_only_the_configured_library_is_searched(plex, stash, make_syncer):
    other = plex.add_section("Other", locations=["/media/other"])
    sid = stash.add_scene(title="Elsewhere", files=["/data/other/e.mp4"])
    plex.add_movie(other, "/media/other/e.mp4")
    assert isinstance(make_syncer(plex_library="Movies").sync_batch([sid])[sid], NotFoundYet)


def test_a_scene_with_files_in_two_sections_reaches_both_items(plex, stash, make_syncer):
    """Two files of one scene, held by two items in two sections: both get the metadata."""
    other = plex.add_section("Other", locations=["/media/other"])
    sid = stash.add_scene(title="Twice", files=["/data/movies/t/twice.mp4", "/data/other/twice.mp4"])
    rk1 = plex.add_movie(plex.movies, "/media/movies/t/twice.mp4")
    rk2 = plex.add_movie(other, "/media/other/twice.mp4")
    result = ok(make_syncer().sync_batch([sid])[sid])
    assert result.plex_keys == [str(rk1), str(rk2)]
    assert plex.item(rk1)["title"] == "Twice" and plex.item(rk2)["title"] == "Twice"


def test_one_file_held_by_two_items_of_a_library_is_never_guessed(plex, stash, make_syncer):
    sid = stash.add_scene(title="Claimed", files=["/data/movies/t/claimed.mp4"])
    rk1 = plex.add_movie(plex.movies, "/media/movies/t/claimed.mp4", title="One")
    rk2 = plex.add_movie(plex.movies, "/media/movies/t/claimed.mp4", title="Two", claim_again=True)
    result = make_syncer().sync_batch([sid])[sid]
    assert isinstance(result, AmbiguousMatch)
    assert f'section {plex.movies} item {rk1} "One"' in str(result)
    assert f'section {plex.movies} item {rk2} "Two"' in str(result)
    assert "allow_ambiguous_match" in str(result)
    assert plex.item(rk1)["title"] == "One" and plex.item(rk2)["title"] == "Two"
    assert ok(make_syncer(allow_ambiguous_match=True).sync_batch([sid])[sid]).plex_keys == [str(rk1)]
    assert plex.item(rk2)["title"] == "Two"


def test_a_scene_with_two_files_in_one_item_is_not_ambiguous(plex, stash, make_syncer):
    sid = stash.add_scene(title="Two parts", files=["/data/movies/m/a.mp4", "/data/movies/m/gone.mp4"])
    rk = plex.add_movie(plex.movies, "/media/movies/m/a.mp4")
    assert ok(make_syncer().sync_batch([sid])[sid]).plex_key == str(rk)


def scans(plex):
    return [r["query"].get("path") for r in plex.requests
            if r["method"] == "GET" and r["path"].endswith("/refresh")]


def test_file_not_in_plex_yet_is_not_found_then_synced_after_a_scan(plex, stash, make_syncer):
    late = stash.add_scene(title="Late", files=["/data/movies/new/late.mp4"])
    never = stash.add_scene(title="Never", files=["/data/movies/none/never.mp4"])
    plex.add_movie(plex.movies, "/media/movies/old/other.mp4")
    plex.stage_file(plex.movies, "/media/movies/new/late.mp4")  # on disk, not scanned yet
    syncer = make_syncer(scan_missing_folders=True)

    first = syncer.sync_batch([late, never])
    assert isinstance(first[late], NotFoundYet) and "/media/movies/new/late.mp4" in str(first[late])
    assert isinstance(first[never], NotFoundYet)
    assert sorted(scans(plex)) == ["/media/movies/new", "/media/movies/none"]  # one scan per folder

    plex.reset_log()
    second = syncer.sync_batch([late, never])
    assert ok(second[late]).status == "synced"  # the incremental refresh found the scanned item
    assert isinstance(second[never], NotFoundYet)
    assert scans(plex) == []  # still inside the backoff window: no second scan request


def test_without_scanning_a_miss_asks_nothing_of_plex_but_a_refresh(plex, stash, make_syncer):
    sid = stash.add_scene(title="Missing", files=["/data/movies/q/q.mp4"])
    plex.add_movie(plex.movies, "/media/movies/old/other.mp4")
    syncer = make_syncer()
    syncer.sync_batch([sid])
    plex.reset_log()
    assert isinstance(syncer.sync_batch([sid])[sid], NotFoundYet)
    assert [(r["method"], r["path"]) for r in plex.requests] == [("GET", "/library/sections/1/all")]


def test_a_scene_gone_from_stash_is_forgotten_never_dead_lettered(plex, stash, make_syncer, conn):
    keep = stash.add_scene(title="Stays", files=["/data/movies/k/k.mp4"])
    gone = stash.add_scene(title="Gone", files=["/data/movies/g/g.mp4"])
    never = stash.add_scene(title="Never synced", files=["/data/movies/n/n.mp4"])
    plex.add_movie(plex.movies, "/media/movies/k/k.mp4")
    rk = plex.add_movie(plex.movies, "/media/movies/g/g.mp4")
    syncer = make_syncer()
    assert ok(syncer.sync_batch([gone])[gone]).status == "synced"
    locked = plex.item(rk)["locked"]
    assert OWNED_LOCKS <= locked
    stash.delete_scene(gone)
    stash.delete_scene(never)
    stash.clear_requests()
    plex.reset_log()
    results = syncer.sync_batch([keep, gone, never])
    assert stash.count("findScenes") == 3  # Stash fails the whole read on a missing id; asked again
    assert ok(results[keep]).status == "synced"
    assert ok(results[gone]).status == "forgotten" and results[gone].changed
    assert ok(results[never]).status == "forgotten" and not results[never].changed
    edits = [r for r in plex.requests if r["method"] == "PUT" and r["query"].get("id") == str(rk)]
    assert len(edits) == 1 and all(v == "0" for k, v in edits[0]["query"].items() if k.endswith(".locked"))
    assert not (OWNED_LOCKS | {"year"}) & plex.item(rk)["locked"]
    assert plex.item(rk)["title"] == "Gone"  # values stay; nothing deleted
    assert SyncState(conn).get(gone) is None and SyncState(conn).get(never) is None


def test_keep_plex_edits_leaves_a_user_edit_alone(plex, stash, make_syncer, conn):
    sid = stash.add_scene(title="Stash title", details="Stash details", files=["/data/movies/u/u.mp4"])
    rk = plex.add_movie(plex.movies, "/media/movies/u/u.mp4")
    syncer = make_syncer(keep_plex_edits=True)
    ok(syncer.sync_batch([sid])[sid])
    server = PlexServer(plex.url, TOKEN)
    server.fetchItem(rk).editTitle("My own title")
    stash.update_scene(sid, title="Stash title 2", details="Stash details 2")
    result = ok(syncer.sync_batch([sid])[sid])
    assert result.kept == ["title"]
    item = plex.item(rk)
    assert item["title"] == "My own title" and item["summary"] == "Stash details 2"
    assert SyncState(conn).get(sid).written["title"] == "Stash title"
    # Without the option, Stash wins.
    stash.update_scene(sid, title="Stash title 3")
    ok(make_syncer().sync_batch([sid])[sid])
    assert plex.item(rk)["title"] == "Stash title 3"


def test_plex_down_mid_drain_fails_fast_and_unchanged_scenes_need_no_plex(plex, stash, make_syncer):
    ids = [stash.add_scene(title=f"S{i}", files=[f"/data/movies/d/{i}.mp4"]) for i in range(4)]
    for i in range(4):
        plex.add_movie(plex.movies, f"/media/movies/d/{i}.mp4")
    syncer = make_syncer()
    syncer.sync_batch(ids)
    for sid in ids[:3]:
        stash.update_scene(sid, title="changed")
    plex.go_down()
    started = time.monotonic()
    results = syncer.sync_batch(ids)
    assert time.monotonic() - started < 3
    assert all(classify(results[sid]) is ErrorKind.TRANSIENT for sid in ids[:3])
    assert ok(results[ids[3]]).status == "unchanged"
    plex.come_up()
    assert {ok(r).status for r in syncer.sync_batch(ids).values()} == {"synced", "unchanged"}


def test_index_is_refreshed_incrementally_and_lookups_cost_nothing(plex, stash, make_syncer, conn):
    first = stash.add_scene(title="First", files=["/data/movies/i/1.mp4"])
    plex.add_movie(plex.movies, "/media/movies/i/1.mp4")
    for i in range(30):
        plex.add_movie(plex.movies, f"/media/movies/filler/{i}.mp4")
    syncer = make_syncer()
    ok(syncer.sync_batch([first])[first])
    later = stash.add_scene(title="Later", files=["/data/movies/i/2.mp4"])
    rk = plex.add_movie(plex.movies, "/media/movies/i/2.mp4")
    plex.reset_log()
    assert ok(syncer.sync_batch([later])[later]).plex_key == str(rk)
    listings = [r for r in plex.requests if r["path"] == "/library/sections/1/all" and r["method"] == "GET"]
    assert len(listings) == 1 and any(k.startswith("updatedAt") for k in listings[0]["query"])
    index = PathIndex(conn)
    plex.reset_log()
    assert index.lookup("/media/movies/i/2.mp4") == [(str(plex.movies), str(rk))]
    assert index.lookup("/media/movies/I/2.mp4") == []  # POSIX paths are case-sensitive
    assert plex.count() == 0
    assert index.stats()["items"] == 32


def test_stash_with_authentication(tmp_path):
    emu = StashEmulator(auth=True).start()
    try:
        sid = emu.add_scene(title="Private", files=["/data/x.mp4"])
        with pytest.raises(ConfigError, match="rejected the plugin's session"):
            StashReader.from_server_connection(emu.server_connection(str(tmp_path), cookie="expired"))
        emu.clear_requests()
        reader = StashReader.from_server_connection(emu.server_connection(str(tmp_path), host="0.0.0.0"))
        # Issue 20: connecting is one request (version and API key), no schema introspection.
        assert [r["fields"] for r in emu.requests] == [["version", "configuration"]], emu.requests
        assert str(reader.version()).startswith("v")
        scene = reader.find_scenes([sid])[sid]
        assert emu.requests[-1]["auth"] == "apikey", emu.requests[-1]  # outlives the session cookie
        assert reader.fetch_image(scene["paths"]["screenshot"]) == emu.image_bytes("scene", sid)
        assert reader.reachable_url("http://0.0.0.0:9999/scene/1/screenshot?t=5") == (
            "http://127.0.0.1:9999/scene/1/screenshot?t=5")
    finally:
        emu.stop()
