"""Which collections come from which group or studio, what they should show, and the
collection_art table that remembers what Plex holds."""

import pytest

from mapping.collection_art import Art, real_image, sources
from sync_queue.collection_art import ArtState, CollectionArt
from validation.settings import Settings
from worker import database

BASE = "http://stash:9999"


def _scene():
    return {
        "id": "1",
        "studio": {"id": "3", "name": "Lighthouse ", "details": "By the sea.",
                   "image_path": f"{BASE}/studio/3/image?t=1700000000"},
        "groups": [
            {"group": {"id": "7", "name": "Harbour Nights", "synopsis": "Three nights.",
                       "front_image_path": f"{BASE}/group/7/frontimage?t=1700000001",
                       "back_image_path": f"{BASE}/group/7/backimage?t=1700000001"}, "scene_index": 1},
            {"group": {"id": "8", "name": "No Cover", "synopsis": "",
                       "front_image_path": f"{BASE}/group/8/frontimage?t=1700000002&default=true",
                       "back_image_path": None}, "scene_index": None},
        ],
    }


COLLECTIONS = ["Harbour Nights", "No Cover", "Lighthouse"]


def test_groups_and_the_studio_map_to_their_collections_with_their_art():
    found = sources(_scene(), COLLECTIONS, Settings())
    assert [(s.kind, s.id, s.title) for s in found] == [
        ("group", 7, "Harbour Nights"), ("group", 8, "No Cover"), ("studio", 3, "Lighthouse")]
    assert found[0].art == Art(f"{BASE}/group/7/frontimage?t=1700000001",
                               f"{BASE}/group/7/backimage?t=1700000001", "Three nights.")
    # Stash's placeholder (default=true) is no poster; a missing back image is none either.
    assert found[1].art == Art(None, None, "")
    assert found[2].art == Art(f"{BASE}/studio/3/image?t=1700000000", None, "By the sea.")


def test_settings_take_collections_out():
    assert [s.kind for s in sources(_scene(), COLLECTIONS, Settings(skip_studio_collection=True))] == ["group", "group"]
    assert sources(_scene(), COLLECTIONS, Settings(skip_collections=True)) == []
    # A name that did not become a collection (capped, excluded) has no art to carry.
    assert [s.title for s in sources(_scene(), ["Harbour Nights"], Settings())] == ["Harbour Nights"]


@pytest.mark.parametrize("url,real", [
    (f"{BASE}/group/1/frontimage?t=5", True),
    (f"{BASE}/group/1/frontimage?t=5&default=true", False),
    (f"{BASE}/studio/1/image?default=true&t=5", False),
    (f"{BASE}/studio/1/image?t=5&default=false", True),
    ("", False), (None, False),
])
def test_stash_placeholder_urls_are_no_image(url, real):
    assert real_image(url) == (url if real else None)


def test_the_table_remembers_each_part_by_section_and_title(tmp_path):
    conn = database.open_db(str(tmp_path))
    store = CollectionArt(conn, clock=lambda: 100.0)
    key = ("1", "Harbour Nights")
    assert store.get_many([key]) == {}
    store.record(key, "group:7", poster_url="u1", poster_hash="h1")
    store.record(key, "group:7", summary="Three nights.")
    assert store.get_many([key]) == {key: ArtState("u1", "h1", None, None, "Three nights.")}
    # Plex matches collection titles without case: so does the table.
    assert store.get_many([("1", "harbour nights")])[("1", "harbour nights")].poster_hash == "h1"
    assert store.get_many([("2", "Harbour Nights")]) == {}
    with pytest.raises(ValueError):
        store.record(key, "group:7", thumb="x")
    store.clear()
    assert store.get_many([key]) == {}
