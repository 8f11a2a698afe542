"""`diff(current, desired, last_written, settings)` as a table of plain values."""

from __future__ import annotations

from datetime import date

from mapping.plan import CurrentItem, EditPlan, desired_values, diff
from mapping.scene_fields import managed_fields
from validation.scene_metadata import PlexMetadata
from validation.settings import Settings

ALL_LOCKED = frozenset({"title", "summary", "originallyAvailableAt", "studio", "actor", "genre",
                        "collection", "director", "thumb"})
SHOT = "http://stash/scene/1/screenshot?t=1"


def settings(**kw) -> Settings:
    return Settings(plex_url="http://127.0.0.1:32400", plex_token="t", **kw)


def desired(config=None, **kw) -> PlexMetadata:
    values = dict(title="T", summary="S", originally_available_at=date(2020, 1, 2), studio="St",
                  actors=["A", "B"], genres=["g1", "g2"], collections=["C"], directors=["D"], user_rating=8.0,
                  poster_url=SHOT, managed=managed_fields(config or settings()))
    values.update(kw)
    return PlexMetadata(**values)


def in_sync(**kw) -> CurrentItem:
    """A Plex item that already holds `desired()` with every lock set."""
    values = dict(rating_key=5, section_id=1, title="T", summary="S", originally_available_at="2020-01-02",
                  studio="St", actors=("A", "B"), genres=("g1", "g2"), collections=("C",), directors=("D",),
                  user_rating=8.0, locked=ALL_LOCKED)
    values.update(kw)
    return CurrentItem(**values)


def last_for(meta: PlexMetadata) -> dict:
    return desired_values(meta)


def test_first_sync_of_a_fresh_item_sends_everything_locked():
    plan = diff(CurrentItem(rating_key=5, section_id=1, title="file"), desired(), {}, settings())
    assert plan.fields == {"title": "T", "summary": "S", "originallyAvailableAt": "2020-01-02",
                           "year": "2020", "studio": "St"}
    assert plan.tags == {"actor": ["A", "B"], "genre": ["g1", "g2"], "collection": ["C"], "director": ["D"]}
    assert plan.remove_tags == {}
    assert plan.lock == {"thumb"}  # fields sent with values lock themselves
    assert plan.set_rating and plan.rating == 8.0
    assert plan.upload_poster and not plan.upload_background


def test_nothing_differs_nothing_is_sent():
    meta = desired()
    plan = diff(in_sync(), meta, last_for(meta), settings())
    assert plan.is_empty
    assert plan.written == last_for(meta)


def test_unlocked_but_equal_fields_get_locked_only():
    meta = desired()
    plan = diff(in_sync(locked=frozenset({"title"})), meta, last_for(meta), settings())
    assert plan.fields == {} and plan.tags == {}
    assert plan.lock == ALL_LOCKED - {"title"}
    assert plan.needs_edit


def test_empty_stash_values_clear_plex_and_stay_locked():
    meta = desired(summary="", originally_available_at=None, studio="", actors=[], genres=[],
                   collections=[], directors=[], user_rating=None)
    plan = diff(in_sync(), meta, {}, settings())
    assert plan.fields == {"summary": "", "originallyAvailableAt": "", "year": "", "studio": ""}
    assert plan.tags == {"actor": [], "genre": [], "collection": [], "director": []}
    assert plan.remove_tags == {"actor": ["A", "B"], "genre": ["g1", "g2"], "collection": ["C"], "director": ["D"]}
    assert plan.set_rating and plan.rating is None


def test_a_new_director_replaces_the_agents():
    plan = diff(in_sync(directors=("Agent Director",)), desired(directors=["Jane Roe"]), {}, settings())
    assert plan.tags == {"director": ["Jane Roe"]}
    assert plan.remove_tags == {"director": ["Agent Director"]}


def test_skip_director_leaves_the_director_and_its_lock_alone():
    config = settings(skip_director=True)
    meta = desired(config)
    plan = diff(in_sync(directors=("Agent Director",), locked=ALL_LOCKED - {"director"}), meta, last_for(meta), config)
    assert plan.is_empty and "directors" not in plan.written


def test_tag_removed_in_stash_is_removed_in_plex():
    meta = desired(genres=["g1"])
    plan = diff(in_sync(genres=("g1", "g2", "agent-genre")), meta, {}, settings())
    assert plan.tags == {"genre": ["g1"]}
    assert plan.remove_tags == {"genre": ["g2", "agent-genre"]}


def test_removal_is_case_insensitive_so_a_respelled_tag_is_not_removed():
    plan = diff(in_sync(genres=("G1", "g2")), desired(genres=["g1", "g2"]), {}, settings())
    assert plan.tags == {"genre": ["g1", "g2"]}
    assert plan.remove_tags == {}


def test_actor_order_matters_genre_order_does_not():
    plan = diff(in_sync(actors=("B", "A"), genres=("g2", "g1")), desired(), {}, settings())
    assert plan.tags == {"actor": ["A", "B"]}


def test_rating_within_tolerance_is_unchanged():
    plan = diff(in_sync(user_rating=8.02), desired(), {}, settings())
    assert not plan.set_rating


def test_skipped_fields_are_untouched():
    config = settings(skip_title=True, skip_tags=True, skip_rating=True, skip_poster=True)
    plan = diff(in_sync(title="Plex title", genres=("x",), user_rating=1.0, locked=frozenset()),
                desired(config), {}, config)
    assert "title" not in plan.fields and "genre" not in plan.tags
    assert "title" not in plan.lock and "genre" not in plan.lock and "thumb" not in plan.lock
    assert not plan.set_rating and not plan.upload_poster


def test_poster_uploaded_only_when_the_screenshot_url_changed():
    meta = desired()
    assert not diff(in_sync(), meta, last_for(meta), settings()).upload_poster
    newer = desired(poster_url=SHOT.replace("t=1", "t=2"))
    assert diff(in_sync(), newer, last_for(meta), settings()).upload_poster
    # The URL is recorded as written only once an upload confirmed it.
    assert "poster" not in diff(in_sync(), newer, last_for(meta), settings()).written


def test_background_when_enabled():
    config = settings(sync_background=True)
    meta = desired(config, background_url=SHOT)
    plan = diff(in_sync(), meta, {}, config)
    assert plan.upload_background and "art" in plan.lock


def test_overwrite_by_default_even_after_a_plex_edit():
    meta = desired()
    plan = diff(in_sync(title="User title", genres=("g1", "mine")), meta, last_for(meta), settings())
    assert plan.fields == {"title": "T"}
    assert plan.tags == {"genre": ["g1", "g2"]} and plan.remove_tags == {"genre": ["mine"]}


def test_keep_plex_edits_leaves_fields_changed_in_plex_since_our_write():
    config = settings(keep_plex_edits=True)
    before = desired(config)
    after = desired(config, title="New T", summary="New S", genres=["g1", "g3"], user_rating=2.0)
    current = in_sync(title="User title", genres=("g1", "mine"), user_rating=9.0)
    plan = diff(current, after, last_for(before), config)
    assert sorted(plan.kept) == ["genres", "title", "user_rating"]
    assert plan.fields == {"summary": "New S"}  # untouched in Plex: Stash's change goes through
    assert "genre" not in plan.tags and not plan.set_rating
    # What we wrote stays the reference, so the user's value keeps winning next time.
    assert plan.written["title"] == "T" and plan.written["genres"] == ["g1", "g2"]


def test_keep_plex_edits_on_first_sync_lets_stash_win():
    config = settings(keep_plex_edits=True)
    plan = diff(in_sync(title="Agent title"), desired(config), {}, config)
    assert plan.fields == {"title": "T"} and plan.kept == []


def test_plan_is_a_plain_value():
    assert EditPlan().is_empty and not EditPlan().needs_edit
