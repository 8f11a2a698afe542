"""Conformance of the Plex emulator, driven by the real python-plexapi over HTTP.

Each test states a behaviour of Plex Media Server that Stash2Plex relies on (or
trips over) and checks that the emulator reproduces it for plexapi 4.18.
"""
from __future__ import annotations

import hashlib
import io
import json
import queue
import subprocess
import sys
import threading
import time
from datetime import datetime

import pytest
import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer

from testbed.faults import Faults
from testbed.plex import PlexEmulator

from .conftest import PLEX_TOKEN

MOVIES = "/data/movies"
PNG = b"\x89PNG\r\n\x1a\n" + b"poster-bytes" * 20


def _movie(emu, name="Film", **fields):
    return emu.add_movie(1, "%s/%s.mp4" % (MOVIES, name), **fields)


# -- connecting and listing -------------------------------------------------------------

def test_connect_reports_identity(plex_server, plex_client):
    assert plex_client.machineIdentifier == plex_server.machine_id
    assert plex_client.version
    identity = requests.get(plex_server.url + "/identity", timeout=5)
    assert identity.status_code == 200
    assert plex_server.machine_id in identity.text


def test_sections_and_locations(plex_client):
    sections = plex_client.library.sections()
    assert [(s.key, s.type, s.title) for s in sections] == [(1, "movie", "Movies")]
    assert sections[0].locations == [MOVIES]
    assert sections[0].agent == "tv.plex.agents.none"
    assert plex_client.library.sectionByID(1).title == "Movies"


def test_all_pages_through_every_item(plex_server, plex_client):
    keys = [_movie(plex_server, "m%03d" % i) for i in range(25)]
    section = plex_client.library.sectionByID(1)
    plex_server.reset_log()
    items = section.search(libtype="movie", container_size=10)
    assert sorted(i.ratingKey for i in items) == keys
    pages = [e for e in plex_server.requests if e["path"] == "/library/sections/1/all"]
    assert [e["headers"]["X-Plex-Container-Start"] for e in pages] == ["0", "10", "20"]
    assert section.totalViewSize() == 25


def test_listing_carries_files_and_partial_tags(plex_server, plex_client):
    _movie(plex_server, "Partial", genres=["A", "B", "C", "D"], actors=["1", "2", "3", "4"],
           directors=["D1", "D2"], labels=["L"])
    listed = plex_client.library.sectionByID(1).all()[0]
    assert listed.isPartialObject()
    assert listed.locations == [MOVIES + "/Partial.mp4"]
    assert [g.tag for g in listed.genres] == ["A", "B"]
    assert [r.tag for r in listed.roles] == ["1", "2", "3"]
    assert [d.tag for d in listed.directors] == ["D1"]
    raw = plex_client.query("/library/sections/1/all?type=1").find("Video")
    assert raw.findall("Field") == [] and raw.findall("Label") == []


def test_filters_updated_after_and_title_contains():
    now = [1_700_000_000.0]
    with PlexEmulator(token="t", clock=lambda: now[0]) as emu:
        sid = emu.add_section()
        old = emu.add_movie(sid, MOVIES + "/Old Harbor.mp4")
        emu.add_movie(sid, MOVIES + "/Elsewhere.mp4")
        now[0] += 100
        new = emu.add_movie(sid, MOVIES + "/New Harbor.mp4")
        plex = PlexServer(emu.url, "t", timeout=5)
        section = plex.library.sectionByID(sid)
        since = datetime.fromtimestamp(now[0] - 10)
        assert [m.ratingKey for m in section.search(filters={"updatedAt>>=": since})] == [new]
        assert sorted(m.ratingKey for m in section.search(title="harbor")) == [old, new]
        assert [m.ratingKey for m in section.search(**{"addedAt<<=": since})] != [new]
        now[0] += 100
        plex.fetchItem(old).editSummary("touched")
        later = datetime.fromtimestamp(now[0] - 10)
        assert [m.ratingKey for m in section.search(filters={"updatedAt>>=": later})] == [old]
        raw = plex.query("/library/sections/%d/all?type=1&updatedAt>>=%d" % (sid, now[0]))
        assert raw.attrib["totalSize"] == "0"  # strictly after: same second is excluded


# -- reading and editing ------------------------------------------------------------------

def test_full_item_has_every_tag_and_locks(plex_server, plex_client):
    rk = _movie(plex_server, "Full", summary="About", genres=["A", "B", "C"],
                actors=[("Ann", "Lead"), "Bob"], collections=["Set"], labels=["Fav"],
                originallyAvailableAt="2021-03-04", locked=["title"])
    movie = plex_client.fetchItem(rk)
    movie.reload()
    assert movie.isFullObject()
    assert [g.tag for g in movie.genres] == ["A", "B", "C"]
    assert [(r.tag, r.role) for r in movie.roles] == [("Ann", "Lead"), ("Bob", None)]
    assert [c.tag for c in movie.collections] == ["Set"]
    assert [lb.tag for lb in movie.labels] == ["Fav"]
    assert movie.year == 2021 and movie.summary == "About"
    assert movie.isLocked("title") and not movie.isLocked("summary")


def test_batch_edit_is_one_put_and_locks_fields(plex_server, plex_client):
    rk = _movie(plex_server, "Batch")
    movie = plex_client.fetchItem(rk)
    before = plex_server.item(rk)["updatedAt"]
    plex_server.reset_log()
    movie.batchEdits()
    movie.editTitle("Nuevo título").editSummary("Line 1\nLine & <2>").editStudio("Studio X")
    movie.editOriginallyAvailable("2019-12-31").editTags("genre", ["Drama", "Rock, Pop"])
    movie.editTags("collection", ["Group"]).editTags("actor", ["Ann"])
    movie.saveEdits()
    assert plex_server.count("PUT") == 1
    stored = plex_server.item(rk)
    assert stored["title"] == "Nuevo título" and stored["summary"] == "Line 1\nLine & <2>"
    assert stored["year"] == 2019 and stored["genres"] == ["Drama", "Rock, Pop"]
    assert stored["collections"] == ["Group"] and stored["actors"] == ["Ann"]
    assert {"title", "summary", "studio", "originallyAvailableAt", "genre", "collection",
            "actor"} <= stored["locked"]
    assert stored["updatedAt"] >= before
    movie.reload()
    assert movie.title == "Nuevo título" and movie.isLocked("genre")
    assert {f.name for f in movie.fields if f.locked} == stored["locked"]


def test_indexed_tags_replace_and_removal_removes(plex_server, plex_client):
    rk = _movie(plex_server, "Tags", genres=["A", "B", "Rock, Pop", "Q&A"])
    movie = plex_client.fetchItem(rk)
    movie.removeGenre(["Rock, Pop", "Q&A"])
    assert plex_server.item(rk)["genres"] == ["A", "B"]
    movie.edit(**{"genre[0].tag.tag": "Only", "genre.locked": 1})
    assert plex_server.item(rk)["genres"] == ["Only"]
    movie.edit(**{"genre.locked": 0})
    assert "genre" not in plex_server.item(rk)["locked"]


def test_add_genre_on_listed_object_drops_unlisted_genres(plex_server, plex_client):
    rk = _movie(plex_server, "Trap", genres=["A", "B", "C", "D"])
    listed = plex_client.library.sectionByID(1).all()[0]
    listed.addGenre("X")  # plexapi resends what the partial object holds: A, B (+ X)
    assert plex_server.item(rk)["genres"] == ["A", "B", "X"]


def test_edit_of_unknown_item_is_not_found(plex_client):
    with pytest.raises(NotFound):
        plex_client.query("/library/sections/1/all?type=1&id=999&title.value=x",
                          method=plex_client._session.put)
    with pytest.raises(NotFound):
        plex_client.fetchItem(999)


def test_rate_sets_and_clears_user_rating(plex_server, plex_client):
    rk = _movie(plex_server, "Rated")
    movie = plex_client.fetchItem(rk)
    movie.rate(7.0)
    assert plex_server.item(rk)["userRating"] == 7.0
    assert movie.reload().userRating == 7.0
    movie.rate()
    assert plex_server.item(rk)["userRating"] is None


def test_rate_requires_the_library_identifier(plex_server, plex_client):
    # plexapi's RatingMixin.rate() sends identifier=com.plexapp.plugins.library; a real
    # PMS answers 400 without it (it names the provider that owns the key).
    rk = _movie(plex_server, "Needs identifier")
    put = plex_client._session.put
    with pytest.raises(BadRequest, match=r"\(400\)"):
        plex_client.query("/:/rate?key=%s&rating=6" % rk, method=put)
    with pytest.raises(BadRequest, match=r"\(400\)"):
        plex_client.query("/:/rate?key=%s&identifier=com.example.other&rating=6" % rk, method=put)
    assert plex_server.item(rk)["userRating"] is None
    plex_client.query("/:/rate?key=%s&identifier=com.plexapp.plugins.library&rating=6" % rk,
                      method=put)
    assert plex_server.item(rk)["userRating"] == 6.0


def test_multi_get_returns_several_items(plex_server, plex_client):
    keys = [_movie(plex_server, "multi%d" % i) for i in range(3)]
    items = plex_client.fetchItems(keys)
    assert [i.ratingKey for i in items] == keys
    assert all(i.librarySectionID == 1 for i in items)


# -- images -------------------------------------------------------------------------------

def test_uploads_are_named_by_their_bytes_selected_and_locked(plex_server, plex_client, tmp_path):
    rk = _movie(plex_server, "Pictures")
    poster = tmp_path / "poster.png"
    poster.write_bytes(PNG)
    other = PNG + b"another picture"
    movie = plex_client.fetchItem(rk)
    movie.uploadPoster(filepath=str(poster))
    movie.uploadPoster(filepath=str(poster))  # the same bytes: one image, as on a real PMS
    movie.uploadArt(filepath=str(poster))
    stored = plex_server.item(rk)
    assert len(stored["posters"]) == 1 and len(stored["arts"]) == 1
    assert stored["posters"][0]["ratingKey"] == "upload://posters/" + hashlib.sha1(PNG).hexdigest()
    assert stored["posters"][-1]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert stored["posters"][-1]["length"] == len(PNG)
    # An upload locks the field, so an agent refresh keeps it (plexapi's server tests check this).
    assert {"thumb", "art"} <= stored["locked"]
    assert {"thumb", "art"} <= {f.name for f in movie.reload().fields if f.locked}
    movie.uploadPoster(filepath=io.BytesIO(other))  # a file object, as PlexAPI 4.15 needs
    listed = movie.posters()
    assert len(listed) == 2 and listed[-1].selected and not listed[0].selected
    plex_server.agent_refresh(rk)
    fetched = requests.get(plex_client.url(movie.reload().thumb, includeToken=True), timeout=5)
    assert fetched.content == other
    movie.uploadPoster(url="https://images.example.invalid/p.jpg")
    assert plex_server.item(rk)["posters"][-1]["url"] == "https://images.example.invalid/p.jpg"


# -- scans and agent refresh ----------------------------------------------------------------

def test_partial_scan_imports_only_staged_files_under_the_path(plex_server, plex_client):
    plex_server.stage_file(1, MOVIES + "/new/Fresh Scene.mp4")
    plex_server.stage_file(1, MOVIES + "/other/Later.mp4")
    section = plex_client.library.sectionByID(1)
    assert plex_server.find_by_file(MOVIES + "/new/Fresh Scene.mp4") is None
    section.update(path=MOVIES + "/new")
    rk = plex_server.find_by_file(MOVIES + "/new/Fresh Scene.mp4")
    assert rk is not None and plex_server.item(rk)["title"] == "Fresh Scene"
    assert plex_server.find_by_file(MOVIES + "/other/Later.mp4") is None
    section.update()
    assert plex_server.find_by_file(MOVIES + "/other/Later.mp4") is not None


def test_refresh_reverts_unlocked_fields_only(plex_server, plex_client):
    rk = _movie(plex_server, "file name", genres=["Old"])
    movie = plex_client.fetchItem(rk)
    movie.batchEdits()
    movie.editTitle("Kept Title").editSummary("lost summary", locked=False)
    movie.editTags("genre", ["Kept"])
    movie.saveEdits()
    movie.refresh()
    stored = plex_server.item(rk)
    assert stored["title"] == "Kept Title" and stored["genres"] == ["Old", "Kept"]
    assert stored["summary"] is None
    movie.edit(**{"title.locked": 0})
    movie.refresh()
    assert plex_server.item(rk)["title"] == "file name"


def test_unlocking_keeps_every_value_and_lets_the_agent_take_over(plex_server, plex_client):
    """What Stash2Plex sends for a scene deleted in Stash: `<field>.locked=0`, no value
    (plexapi's editField(..., locked=False) without the value, unlockPoster())."""
    rk = _movie(plex_server, "agent file")
    plex_server.set_agent_metadata(1, genres=["Agent"], studio="Agent Studio")
    movie = plex_client.fetchItem(rk)
    movie.batchEdits()
    movie.editTitle("Stash Title").editStudio("Stash Studio")
    movie.edit(**{"genre[0].tag.tag": "Stash Genre", "genre.locked": 1})
    movie.saveEdits()
    movie.lockPoster()
    movie.edit(**{"title.locked": 0, "studio.locked": 0, "genre.locked": 0})
    movie.unlockPoster()
    stored = plex_server.item(rk)
    assert (stored["title"], stored["studio"], stored["genres"]) == ("Stash Title", "Stash Studio", ["Stash Genre"])
    assert not {"title", "studio", "genre", "thumb"} & stored["locked"]
    movie.reload()
    assert not any(movie.isLocked(f) for f in ("title", "studio", "genre", "thumb"))
    movie.refresh()
    stored = plex_server.item(rk)
    assert (stored["title"], stored["studio"], stored["genres"]) == ("agent file", "Agent Studio", ["Agent"])


# -- auth and faults ------------------------------------------------------------------------

def test_wrong_token_and_rotation_are_unauthorized(plex_server, plex_client):
    with pytest.raises(Unauthorized):
        PlexServer(plex_server.url, "wrong", timeout=5)
    plex_server.rotate_token("fresh")
    with pytest.raises(Unauthorized):
        plex_client.library.sectionByID(1).all()
    assert PlexServer(plex_server.url, "fresh", timeout=5).machineIdentifier


@pytest.mark.parametrize("status", [503, 429, 500])
def test_injected_status_becomes_bad_request(plex_server, plex_client, status):
    plex_server.faults.fail(2, status=status, route="/library/sections")
    library = plex_client.library  # /library is not on the faulted route
    for _ in range(2):
        with pytest.raises(BadRequest) as info:
            plex_client.query("/library/sections/1/all?type=1")
        assert "(%d)" % status in str(info.value)
    assert library.sectionByID(1).all() == []  # the third request passes


def test_fail_window_and_latency(plex_server, plex_client):
    plex_server.faults.fail_window(0.3, status=503, route="GET /library")
    with pytest.raises(BadRequest):
        plex_client.query("/library")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            plex_client.query("/library")
            break
        except BadRequest:
            time.sleep(0.05)
    else:
        pytest.fail("fail_window never ended")
    plex_server.faults.clear()
    plex_server.faults.latency(0.2, route="/library")
    started = time.monotonic()
    plex_client.query("/library")
    assert time.monotonic() - started >= 0.2


def test_hang_times_out_the_client(plex_server):
    plex_server.faults.hang(1, route="/library", hold=3)
    client = PlexServer(plex_server.url, PLEX_TOKEN, timeout=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.query("/library")
    assert client.query("/library") is not None  # only one request hung


def test_stop_ends_hung_responses_without_leaking_threads():
    baseline = threading.active_count()
    emu = PlexEmulator(token="t").start()
    emu.faults.hang(seconds=60, hold=60)
    errors = []

    def call():
        try:
            requests.get(emu.url + "/library", headers={"X-Plex-Token": "t"}, timeout=30)
        except requests.exceptions.RequestException as exc:
            errors.append(exc)

    callers = [threading.Thread(target=call) for _ in range(3)]
    for t in callers:
        t.start()
    deadline = time.monotonic() + 5
    while emu.open_connections < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    emu.stop()
    for t in callers:
        t.join(10)
    assert time.monotonic() - started < 10
    assert len(errors) == 3  # dropped unanswered, well before the 60 s hold
    deadline = time.monotonic() + 5
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= baseline


def test_down_refuses_and_up_serves_on_the_same_url(plex_server, plex_client):
    url = plex_server.url
    plex_client.query("/library")  # a pooled keep-alive connection now exists
    plex_server.go_down()
    with pytest.raises(requests.exceptions.ConnectionError):
        plex_client.query("/library")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/identity", timeout=2)
    plex_server.come_up()
    assert plex_server.url == url
    assert plex_client.query("/library") is not None


# -- scale and process ------------------------------------------------------------------------

def test_seed_50000_pages_correctly(plex_server, plex_client):
    keys = plex_server.seed(50_000)
    assert len(set(keys)) == 50_000
    section = plex_client.library.sectionByID(1)
    assert section.totalViewSize(libtype="movie") == 50_000
    first = section.search(libtype="movie", maxresults=300)
    titles = [m.title.lower() for m in first]
    assert len(first) == 300 and titles == sorted(titles)
    again = section.search(libtype="movie", container_start=100, maxresults=100)
    assert [m.ratingKey for m in again] == [m.ratingKey for m in first[100:200]]
    assert all(m.locations and m.locations[0].startswith(MOVIES) for m in first)


def test_cli_prints_url_and_stops_on_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "testbed.plex", "--port", "0",
                             "--token", "cli", "--seed", "5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        url = lines.get(timeout=15).strip()
        assert url.startswith("http://127.0.0.1:")
        assert len(PlexServer(url, "cli", timeout=5).library.sectionByID(1).all()) == 5
        faults = requests.post(url + "/__testbed__/faults", timeout=5,
                               data=json.dumps({"op": "fail", "n": 1, "status": 503}))
        assert faults.status_code == 200
        assert requests.get(url + "/identity", timeout=5).status_code == 503
        state = requests.get(url + "/__testbed__/state", timeout=5).json()
        assert state["items"] == 5
    finally:
        proc.terminate()  # SIGTERM on POSIX
        try:
            code = proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            proc.stderr.close()
    if sys.platform != "win32":
        assert code == 0


# -- the shared fault vocabulary ------------------------------------------------------------

def test_faults_count_match_routes_and_expire():
    now = [100.0]
    faults = Faults(clock=lambda: now[0])
    faults.fail(2, status=503, route="PUT /library")
    assert faults.check("GET", "/library/x").status is None
    assert faults.check("PUT", "/library/x").status == 503
    assert faults.check("PUT", "/library").status == 503
    assert faults.check("PUT", "/library").status is None
    faults.fail_window(5, status=429)
    assert faults.check("GET", "/").status == 429
    now[0] += 6
    assert faults.check("GET", "/").is_noop
    faults.hang(seconds=1, hold=0.1, route="/a")
    assert faults.check("GET", "/a/b").hang == 0.1
    faults.clear()
    assert faults.snapshot() == []


# -- deletions, rescans and items with several files -----------------------------------------

def test_deleted_item_leaves_the_multi_get_and_a_rescan_gives_a_new_key(plex_server, plex_client):
    """A real PMS: an emptied trash removes the item; a rescan of its file adds a new
    item with a new ratingKey; a multi-get answers only for keys that still exist; a
    listing filtered by updatedAt shows the new item and never the deletion."""
    long_ago = int(time.time()) - 100
    keep = _movie(plex_server, "stays", when=long_ago)
    old = _movie(plex_server, "moved", when=long_ago)
    since = long_ago + 1
    files = plex_server.delete_item(old)
    assert files == [MOVIES + "/moved.mp4"]
    assert [i.ratingKey for i in plex_client.fetchItems([keep, old])] == [keep]
    with pytest.raises(NotFound):
        plex_client.fetchItem(old)
    plex_client.library.sectionByID(1).update(path=MOVIES)
    new = plex_server.find_by_file(MOVIES + "/moved.mp4")
    assert new is not None and new != old
    changed = plex_client.library.sectionByID(1).search(filters={"updatedAt>>": datetime.fromtimestamp(since)})
    assert [m.ratingKey for m in changed] == [new]
    assert plex_client.library.sectionByID(1).totalSize == 2


def test_an_item_with_several_parts_and_versions_lists_every_file(plex_server, plex_client):
    stacked = _movie(plex_server, "cd1", parts=[MOVIES + "/cd2.mp4"])
    versions = _movie(plex_server, "1080p", parts=[MOVIES + "/480p.mp4"], media=[1, 1])
    by_key = {m.ratingKey: m for m in plex_client.library.sectionByID(1).all()}
    assert by_key[stacked].locations == [MOVIES + "/cd1.mp4", MOVIES + "/cd2.mp4"]
    assert len(by_key[stacked].media) == 1 and len(by_key[stacked].media[0].parts) == 2
    full = plex_client.fetchItem(versions)
    assert [len(m.parts) for m in full.media] == [1, 1]
    assert full.locations == [MOVIES + "/1080p.mp4", MOVIES + "/480p.mp4"]
    assert plex_server.find_by_file(MOVIES + "/480p.mp4") == versions


def test_a_renamed_library_keeps_its_id(plex_server, plex_client):
    plex_server.rename_section(1, "Clips")
    assert [(s.key, s.title) for s in plex_client.library.sections()] == [(1, "Clips")]
