"""The settings model: list settings parsed once into typed values, fingerprints kept."""

from __future__ import annotations

import pytest

from errors.kinds import ConfigError
from mapping.scene_fields import build_metadata, fingerprint
from validation.pathmap import PathMap
from validation.settings import SETTINGS_PAGE, Settings, load_settings

# Saved settings as Stash may send them: padded text, numbers and booleans as strings.
RAW = {
    "plex_url": " http://127.0.0.1:32400/ ", "plex_token": "tok",
    "plex_library": " Movies ,, Scenes ", "path_map": " /data/stash => /media/plex ; C:\\Videos => /mnt/v ",
    "excluded_tags": "Hide ME, x,,  Other ", "skip_title": "false", "keep_plex_edits": "true",
    "max_list_items": "50", "plex_timeout": "", "poll_interval": 2,
    "unknown_key": "ignored",
}
SCENE = {
    "id": "7", "title": "A Title", "details": "Some details", "date": "2021-03-04", "rating100": 80,
    "files": [{"path": "/data/stash/Clip.mp4", "basename": "Clip.mp4", "size": 1}],
    "paths": {"screenshot": "http://0.0.0.0:9999/scene/7/screenshot?t=1"},
    "studio": {"id": "1", "name": "Studio S"},
    "performers": [{"name": "Zoe"}, {"name": "Adam"}],
    "tags": [{"id": "1", "name": "Keep"}, {"id": "2", "name": "HIDE me"}, {"id": "3", "name": "other"}],
    "groups": [{"group": {"name": "G1"}, "scene_index": 1}],
}


def test_fingerprints_of_the_same_saved_settings_never_change():
    """A new value after an upgrade would retry stored config errors (settings) or re-sync
    every scene (scene).

    Settings added later (ADDED_FIELDS) leave the settings fingerprint as it was while at
    their default. Issue 19 changed the scene fingerprint on purpose: MAPPING_VERSION 2
    syncs every scene once to own the director (it was 8a7392ca…, see
    tests/unit/test_fingerprint_pin.py)."""
    settings, warnings = load_settings(RAW)
    assert warnings == []
    assert settings.fingerprint() == "2d9bfc2fc72b1b25"
    assert load_settings({})[0].fingerprint() == "df670a5ec5cfd598"
    meta = build_metadata(SCENE, settings)
    assert fingerprint(meta, settings) == "f5d3668765f8a54f2832a5867bfcd41489f69c30f7f202f5cd03d8cc1d3b9cec"


def test_list_settings_are_typed_values():
    settings, _ = load_settings(RAW)
    assert isinstance(settings.path_map, PathMap)
    assert settings.path_map == "/data/stash => /media/plex ; C:\\Videos => /mnt/v"
    assert settings.path_map.rules == (("/data/stash", "/media/plex"), ("C:\\Videos", "/mnt/v"))
    assert settings.path_map.to_plex("/data/stash/a.mp4") == "/media/plex/a.mp4"
    assert settings.libraries == ("Movies", "Scenes")
    assert settings.excluded_tag_names == frozenset({"hide me", "x", "other"})


def test_defaults_are_typed_too():
    settings = Settings()
    assert isinstance(settings.path_map, PathMap) and settings.path_map.rules == ()
    assert settings.path_map.to_plex("/data/a.mp4") == "/data/a.mp4"
    assert settings.libraries == () and settings.excluded_tag_names == frozenset()


def test_a_path_map_cannot_change():
    path_map = PathMap("/a => /b")
    with pytest.raises(AttributeError):
        path_map.rules = ()  # type: ignore[misc]


def test_an_unreadable_path_map_stops_with_the_fix_instead_of_falling_back():
    with pytest.raises(ConfigError) as caught:
        load_settings({"plex_url": "http://127.0.0.1:32400", "path_map": "/data -> /media", "max_retries": 99})
    assert str(caught.value) == (
        "Setting path_map is invalid: path_map rule '/data -> /media' must look like "
        "'stash_prefix => plex_prefix' (one '=>' per rule, rules separated by ';'). "
        f"Fix it on {SETTINGS_PAGE}."
    )
