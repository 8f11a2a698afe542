"""The scene filter: which scenes go to Plex (only_organized, required_tags, excluded_scene_tags).

A pure rule on the scene as Stash returns it, so the drainer and any task give the
same answer; read here as a table.
"""

from __future__ import annotations

import pytest

from errors.kinds import ConfigError
from mapping.scene_filter import EXCLUDED_TAG, NO_REQUIRED_TAG, NOT_ORGANIZED, filter_key, skip_reason
from validation.settings import SETTINGS_PAGE, Settings, load_settings


def scene(organized=False, tags=()):
    return {"id": "5", "organized": organized, "tags": [{"id": str(i), "name": n} for i, n in enumerate(tags)]}


CASES = [
    # settings, scene, reason (None: the scene goes to Plex)
    ({}, scene(), None),
    ({}, scene(tags=["Anything"]), None),
    ({"only_organized": True}, scene(organized=True), None),
    ({"only_organized": True}, scene(organized=False), NOT_ORGANIZED),
    ({"required_tags": "Publish"}, scene(tags=["publish"]), None),
    ({"required_tags": "Publish, Plex"}, scene(tags=["Other", " PLEX "]), None),
    ({"required_tags": "Publish"}, scene(tags=["Other"]), NO_REQUIRED_TAG),
    ({"required_tags": "Publish"}, scene(), NO_REQUIRED_TAG),
    ({"excluded_scene_tags": "Private"}, scene(tags=["Shown", "private"]), EXCLUDED_TAG),
    ({"excluded_scene_tags": "Private"}, scene(tags=["Shown"]), None),
    # excluded_tags only keeps a tag out of the genres: the scene still syncs
    ({"excluded_tags": "Private"}, scene(tags=["Private"]), None),
    # several rules: an excluded tag is said first, then organized, then the required tag
    ({"only_organized": True, "excluded_scene_tags": "X"}, scene(tags=["x"]), EXCLUDED_TAG),
    ({"only_organized": True, "required_tags": "Y"}, scene(tags=["Z"]), NOT_ORGANIZED),
    ({"only_organized": True, "required_tags": "Y"}, scene(organized=True, tags=["Z"]), NO_REQUIRED_TAG),
    ({"only_organized": True, "required_tags": "Y", "excluded_scene_tags": "X"},
     scene(organized=True, tags=["y"]), None),
]


@pytest.mark.parametrize("values, stash_scene, reason", CASES)
def test_which_scenes_the_filter_lets_through(values, stash_scene, reason):
    skip = skip_reason(stash_scene, Settings(**values))
    assert (skip.reason if skip else None) == reason


def test_the_reason_names_the_setting_and_the_tag():
    skip = skip_reason(scene(tags=["Shown", "PRIVATE"]), Settings(excluded_scene_tags="private"))
    assert "PRIVATE" in skip.detail and "excluded_scene_tags" in skip.detail
    assert "required_tags" in skip_reason(scene(), Settings(required_tags="A, B")).detail
    assert "only_organized" in skip_reason(scene(), Settings(only_organized=True)).detail


def test_scenes_without_tags_or_organized_fields_are_read_as_empty():
    assert skip_reason({"id": "1"}, Settings(only_organized=True)).reason == NOT_ORGANIZED
    assert skip_reason({"id": "1", "tags": None}, Settings(required_tags="A")).reason == NO_REQUIRED_TAG
    assert skip_reason({"id": "1", "tags": [{"name": None}]}, Settings(excluded_scene_tags="A")) is None


def test_the_filter_key_changes_only_with_the_filter():
    base = filter_key(Settings())
    assert filter_key(Settings(skip_title=True, excluded_tags="x")) == base
    assert filter_key(Settings(required_tags=" a ,B")) == filter_key(Settings(required_tags="b, A"))
    keys = {base, filter_key(Settings(only_organized=True)), filter_key(Settings(required_tags="a")),
            filter_key(Settings(excluded_scene_tags="a"))}
    assert len(keys) == 4


def test_filter_settings_are_parsed_once_into_typed_values():
    settings, warnings = load_settings({"only_organized": "true", "required_tags": " Publish ,, plex READY ",
                                        "excluded_scene_tags": "Private,  Draft "})
    assert warnings == []
    assert settings.only_organized is True
    assert settings.required_tag_names == frozenset({"publish", "plex ready"})
    assert settings.excluded_scene_tag_names == frozenset({"private", "draft"})
    defaults = Settings()
    assert defaults.only_organized is False
    assert defaults.required_tag_names == frozenset() and defaults.excluded_scene_tag_names == frozenset()


def test_a_tag_both_required_and_excluded_stops_with_a_one_line_error():
    with pytest.raises(ConfigError) as caught:
        load_settings({"required_tags": "Publish, Draft", "excluded_scene_tags": "draft"})
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        "Setting excluded_scene_tags is invalid: it names 'draft', which required_tags also names "
        "(a scene cannot be both required and left alone); remove it from one of the two. "
        f"Fix it on {SETTINGS_PAGE}.")


def test_an_unreadable_filter_stops_instead_of_syncing_scenes_it_should_leave_alone():
    with pytest.raises(ConfigError) as caught:
        load_settings({"only_organized": "perhaps"})
    assert str(caught.value).startswith("Setting only_organized is invalid: ")
    assert "\n" not in str(caught.value)
