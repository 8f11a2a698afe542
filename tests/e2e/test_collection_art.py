"""Collection artwork and the letterbox poster, end to end through the real plugin.

Groups with covers and a studio with a logo in the Stash emulator; Sync All run as
Stash runs it; the Plex emulator's collections read back (selected poster bytes,
background, summary, locks) and its request log counted for uploads.
"""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from testbed.stash import jpeg
from worker.batch import BATCH_SIZE

UPLOAD_PATHS = ("/posters", "/arts")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _uploads(env) -> int:
    return sum(1 for r in env.plex.requests
               if r["method"] == "POST" and r["path"].endswith(UPLOAD_PATHS))


def _scene(env, name: str, **fields) -> int:
    path = "/data/stash/art/%s.mp4" % name
    sid = env.stash.add_scene(title=name, files=[path], **fields)
    env.plex.add_movie(env.section, env.plex_path(sid))
    return sid


def _library(env):
    stash = env.stash
    studio = stash.add_studio("Lighthouse Pictures", details="Films shot by the sea.")
    stash.set_image("studio", studio, jpeg.placeholder("studio logo"))
    front = stash.add_group("Harbour Nights", synopsis="Three nights in a small harbour.",
                            back_image=True)
    stash.set_image("group", front, jpeg.placeholder("harbour front cover"))
    stash.set_image("group", front, jpeg.placeholder("harbour back cover"), back=True)
    plain = stash.add_group("Tide Tables", synopsis="")
    stash.set_image("group", plain, jpeg.placeholder("tide front cover"))
    bare = stash.add_group("No Cover Yet", image=False, synopsis="Waiting for a cover.")
    scenes = [_scene(env, "a", studio_id=studio, groups=[(front, 1)]),
              _scene(env, "b", studio_id=studio, groups=[(front, 2), (plain, 1)]),
              _scene(env, "c", groups=[(plain, 2), (bare, 1)])]
    return studio, front, plain, bare, scenes


def test_groups_and_studio_become_collection_art_once(plugin_env):
    env = plugin_env
    studio, front, plain, bare, scenes = _library(env)

    first = env.ok_task("Sync All Scenes")
    assert first["synced"] == 3
    harbour = env.plex.collection(env.section, "Harbour Nights")
    assert harbour["poster_sha256"] == _sha(env.stash.image_bytes("group", front))
    assert harbour["art_sha256"] == _sha(env.stash.image_bytes("group", front, back=True))
    assert harbour["summary"] == "Three nights in a small harbour."
    assert {"thumb", "art", "summary"} <= harbour["locked"]
    tide = env.plex.collection(env.section, "Tide Tables")
    assert tide["poster_sha256"] == _sha(env.stash.image_bytes("group", plain))
    assert tide["art_sha256"] is None and not tide["summary"]
    assert {"thumb", "summary"} <= tide["locked"]
    logo = env.plex.collection(env.section, "Lighthouse Pictures")
    assert logo["poster_sha256"] == _sha(env.stash.image_bytes("studio", studio))
    assert logo["summary"] == "Films shot by the sea." and {"thumb", "summary"} <= logo["locked"]
    # Stash marks a missing cover with &default=true and serves its placeholder image:
    # that is never a collection's poster.
    empty = env.plex.collection(env.section, "No Cover Yet")
    assert empty["posters"] == [] and empty["summary"] == "Waiting for a cover."
    assert _uploads(env) == 3 + 4  # three scene posters; two group covers, one back, one logo
    env.plex.reset_log()

    again = env.ok_task("Sync All Scenes")
    assert again["queued"] == 3 and again["synced"] == 0
    assert _uploads(env) == 0
    assert env.plex.count(method="PUT") == 0 and env.plex.count(method="POST") == 0

    env.stash.set_image("group", plain, jpeg.placeholder("tide front cover, second edition"))
    env.plex.reset_log()
    env.ok_task("Sync All Scenes")
    assert env.plex.collection(env.section, "Tide Tables")["poster_sha256"] == \
        _sha(env.stash.image_bytes("group", plain))
    assert _uploads(env) == 1


def test_skip_studio_collection_leaves_the_studio_alone(plugin_env):
    env = plugin_env
    env.configure(skip_studio_collection=True)
    studio, front, plain, bare, scenes = _library(env)
    env.ok_task("Sync All Scenes")
    assert env.plex.collection(env.section, "Lighthouse Pictures") is None
    assert env.plex.collection(env.section, "Harbour Nights")["poster_sha256"] == \
        _sha(env.stash.image_bytes("group", front))


def test_letterbox_poster_is_a_two_by_three_jpeg_and_switching_uploads_once(plugin_env):
    env = plugin_env
    sid = _scene(env, "wide")
    env.stash.set_screenshot(sid, jpeg.placeholder("a wide screenshot", width=1280, height=720))
    env.ok_task("Sync All Scenes")
    item = env.plex_item(sid)
    plain = next(p for p in item["posters"] if p["selected"])
    assert plain["sha256"] == _sha(env.stash.image_bytes("scene", sid))

    env.configure(poster_style="letterbox")
    env.plex.reset_log()
    env.ok_task("Sync All Scenes")
    assert _uploads(env) == 1
    poster = env.plex.selected_image_bytes(env.plex.find_by_file(env.plex_path(sid)), "thumb")
    with Image.open(io.BytesIO(poster)) as img:
        assert img.format == "JPEG" and img.size == (1000, 1500)
    assert "thumb" in env.plex_item(sid)["locked"]

    env.plex.reset_log()
    env.ok_task("Sync All Scenes")
    assert _uploads(env) == 0


def test_a_failing_collection_never_fails_a_scene_and_is_done_next_run(plugin_env):
    env = plugin_env
    studio, front, plain, bare, scenes = _library(env)
    # Collections have ratingKeys of their own (10,000,000 and up): their uploads fail.
    env.plex.faults.fail(n=10_000, status=500, route="POST /library/metadata/100000")
    first = env.ok_task("Sync All Scenes")
    assert first["synced"] == 3
    assert all(env.plex_item(sid)["title"] for sid in scenes)
    assert env.plex.collection(env.section, "Harbour Nights")["posters"] == []
    assert env.ok_task("Review Dead Letters")["count"] == 0
    assert any("tried again on the next sync" in m for r in env.results for m in r.messages())

    env.plex.faults.clear()
    again = env.ok_task("Sync All Scenes")
    assert again["synced"] == 0  # the scenes were done; only their collections were not
    assert env.plex.collection(env.section, "Harbour Nights")["poster_sha256"] == \
        _sha(env.stash.image_bytes("group", front))
    assert env.plex.collection(env.section, "Lighthouse Pictures")["poster_sha256"] == \
        _sha(env.stash.image_bytes("studio", studio))


def _collection_listings(env):
    """The requests that list a library's collections: (in full, by title)."""
    lists = [r for r in env.plex.requests if r["method"] == "GET" and r["path"].endswith("/all")
             and r["query"].get("type") == "18"]
    return (sum(1 for r in lists if "title" not in r["query"]),
            sorted(r["query"]["title"] for r in lists if "title" in r["query"]))


def test_new_collections_in_later_batches_do_not_list_the_library_again(plugin_env):
    env = plugin_env
    stash = env.stash
    first_studios = [stash.add_studio("Early Studio %d" % i) for i in range(6)]
    for sid in first_studios:
        stash.set_image("studio", sid, jpeg.placeholder("early logo %d" % sid))
    late = stash.add_studio("Late Studio")
    stash.set_image("studio", late, jpeg.placeholder("late logo"))
    # One batch meets six studios; the next batch meets one more.
    early = [_scene(env, "early-%03d" % i, studio_id=first_studios[i % 6]) for i in range(BATCH_SIZE)]
    later = [_scene(env, "late-%d" % i, studio_id=late) for i in range(3)]
    assert max(early) < min(later)  # queued, and so synced, in this order
    env.plex.reset_log()

    assert env.ok_task("Sync All Scenes")["synced"] == BATCH_SIZE + 3
    assert env.plex.collection(env.section, "Late Studio")["poster_sha256"] == \
        _sha(env.stash.image_bytes("studio", late))
    in_full, by_title = _collection_listings(env)
    assert in_full == 1, "the library's collections were listed in full %d times" % in_full
    assert by_title == ["Late Studio"]
