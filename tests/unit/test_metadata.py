"""The Stash → Plex mapping and text cleaning, on plain scene dicts."""

from __future__ import annotations

from datetime import date

import pytest

from errors.kinds import InvalidMetadata
from mapping.scene_fields import build_metadata, fingerprint
from validation.scene_metadata import NAME_CAP, SUMMARY_CAP
from validation.settings import Settings
from validation.text import ELLIPSIS, clean_text


def settings(**kw) -> Settings:
    return Settings(plex_url="http://127.0.0.1:32400", plex_token="t", **kw)


def scene(**kw) -> dict:
    base = {
        "id": "7",
        "title": "A Title",
        "details": "",
        "date": "",
        "rating100": None,
        "files": [{"path": "/data/Clip.Part.One.mp4", "basename": "Clip.Part.One.mp4", "size": 1}],
        "paths": {"screenshot": "http://0.0.0.0:9999/scene/7/screenshot?t=1"},
        "studio": None,
        "performers": [],
        "tags": [],
        "groups": [],
    }
    base.update(kw)
    return base


def tags(*names):
    return [{"id": str(i), "name": n} for i, n in enumerate(names)]


CASES = [
    # (id, scene overrides, settings overrides, expected attribute values)
    ("plain", {}, {}, {"title": "A Title", "summary": "", "studio": "", "actors": [], "genres": [],
                       "collections": [], "user_rating": None, "originally_available_at": None}),
    ("empty title → file name without last extension", {"title": ""}, {}, {"title": "Clip.Part.One"}),
    ("null title", {"title": None}, {}, {"title": "Clip.Part.One"}),
    ("whitespace title", {"title": " \t\x00 "}, {}, {"title": "Clip.Part.One"}),
    ("basename missing: from path", {"title": "", "files": [{"path": r"C:\v\x.y.mkv"}]}, {}, {"title": "x.y"}),
    ("studio → studio and collection", {"studio": {"id": "1", "name": "Studio S"}}, {},
     {"studio": "Studio S", "collections": ["Studio S"]}),
    ("studio collection off", {"studio": {"id": "1", "name": "Studio S"}}, {"skip_studio_collection": True},
     {"studio": "Studio S", "collections": []}),
    ("groups then studio", {"studio": {"name": "S"}, "groups": [{"group": {"name": "G1"}, "scene_index": 1},
                                                                 {"group": {"name": "G2"}, "scene_index": None}]},
     {}, {"collections": ["G1", "G2", "S"]}),
    ("performers in Stash order, deduped case-insensitively keeping first spelling",
     {"performers": [{"name": "Zoe"}, {"name": "adam"}, {"name": "ZOE"}, {"name": "Adam"}]}, {},
     {"actors": ["Zoe", "adam"]}),
    ("no tags", {"tags": []}, {}, {"genres": []}),
    ("60 tags kept in order", {"tags": tags(*[f"t{i:02}" for i in range(60)])}, {},
     {"genres": [f"t{i:02}" for i in range(60)]}),
    ("list cap", {"tags": tags(*[f"t{i:02}" for i in range(60)])}, {"max_list_items": 5},
     {"genres": ["t00", "t01", "t02", "t03", "t04"]}),
    ("excluded tags, case-insensitive", {"tags": tags("Keep", "HIDE me", "Other")}, {"excluded_tags": "hide ME, x"},
     {"genres": ["Keep", "Other"]}),
    ("rating100 / 10", {"rating100": 85}, {}, {"user_rating": 8.5}),
    ("rating 0", {"rating100": 0}, {}, {"user_rating": 0.0}),
    ("rating 100", {"rating100": 100}, {}, {"user_rating": 10.0}),
    ("date", {"date": "2021-02-03"}, {}, {"originally_available_at": date(2021, 2, 3)}),
    ("details keep newlines, drop CR and controls",
     {"details": "Line one\r\nLine two\x07\x1b[0m\n\n\n\nEnd\ttab"}, {},
     {"summary": "Line one\nLine two[0m\n\nEnd\ttab"}),
    ("typographic characters kept", {"title": "“Quotes” — dash… ❤️ 日本語 Ünïcödé"}, {},
     {"title": "“Quotes” — dash… ❤️ 日本語 Ünïcödé"}),
    ("newline in title folds to a space", {"title": "Two\nLines"}, {}, {"title": "Two Lines"}),
    ("lone surrogate replaced", {"title": "bad\ud800char"}, {}, {"title": "bad\ufffdchar"}),
    ("screenshot becomes the poster, background off by default", {}, {},
     {"poster_url": "http://0.0.0.0:9999/scene/7/screenshot?t=1", "background_url": None}),
    ("background on", {}, {"sync_background": True},
     {"background_url": "http://0.0.0.0:9999/scene/7/screenshot?t=1"}),
    ("poster off", {}, {"skip_poster": True}, {"poster_url": None}),
    ("director → one director", {"director": "  Jane   Roe "}, {}, {"directors": ["Jane Roe"]}),
    ("no director clears it", {"director": ""}, {}, {"directors": []}),
    ("null director", {"director": None}, {}, {"directors": []}),
    ("code without code_in_summary", {"code": "ABC-123", "details": "D"}, {}, {"summary": "D"}),
    ("code_in_summary", {"code": " ABC-123 ", "details": "Line\nTwo"}, {"code_in_summary": True},
     {"summary": "ABC-123 · Line\nTwo"}),
    ("code_in_summary, no details", {"code": "ABC-123", "details": " \n"}, {"code_in_summary": True},
     {"summary": "ABC-123"}),
    ("code_in_summary, no code", {"code": "", "details": "D"}, {"code_in_summary": True}, {"summary": "D"}),
    ("template", {"studio": {"name": "S"}, "date": "2021-02-03", "code": "C-1", "director": "Dee",
                  "performers": [{"name": "Zoe"}, {"name": "adam"}, {"name": "ZOE"}]},
     {"title_template": "{studio} - {title} ({year}) [{code}] {performers} / {director} {date}"},
     {"title": "S - A Title (2021) [C-1] Zoe, adam / Dee 2021-02-03"}),
    ("template, empty parts collapse", {}, {"title_template": "{studio} - {title} ({date}) [{code}]"},
     {"title": "A Title"}),
    ("template reads the file name for an empty title", {"title": "", "code": "C-1"},
     {"title_template": "{title} [{code}]"}, {"title": "Clip.Part.One [C-1]"}),
    ("template that renders nothing → the plain title", {}, {"title_template": "{studio}"}, {"title": "A Title"}),
    ("template reads fields that are not synced", {"studio": {"name": "S"}},
     {"title_template": "{studio}: {title}", "skip_studio": True}, {"title": "S: A Title", "studio": ""}),
    ("template with skip_title: title untouched", {"studio": {"name": "S"}},
     {"title_template": "{studio}: {title}", "skip_title": True}, {"title": "Clip.Part.One"}),
]


@pytest.mark.parametrize("name, overrides, config, expected", CASES, ids=[c[0] for c in CASES])
def test_mapping(name, overrides, config, expected):
    meta = build_metadata(scene(**overrides), settings(**config))
    for attr, value in expected.items():
        assert getattr(meta, attr) == value, attr


def test_huge_text_is_capped_with_an_ellipsis():
    meta = build_metadata(scene(details="word " * 100_000, title="T" * 1000), settings())
    assert len(meta.summary) <= SUMMARY_CAP and meta.summary.endswith(ELLIPSIS)
    assert len(meta.title) == NAME_CAP and meta.title.endswith(ELLIPSIS)
    assert not meta.summary[:-1].endswith(" ")


def test_skipped_fields_are_not_managed_and_not_validated():
    meta = build_metadata(scene(date="not a date"), settings(skip_date=True, skip_rating=True))
    assert "originally_available_at" not in meta.managed and "user_rating" not in meta.managed
    assert {"title", "summary", "studio", "actors", "genres", "collections", "poster"} <= meta.managed
    assert "background" not in meta.managed


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"date": "2021-13-01"}, ["scene 7", "date", "2021-13-01"]),
        ({"date": "03/02/2021"}, ["date", "YYYY-MM-DD"]),
        ({"rating100": 150}, ["rating", "0 to 10"]),
        ({"rating100": "85"}, ["rating100"]),
        ({"title": "", "files": []}, ["title", "empty"]),
        ({"tags": [{"name": None}]}, ["tags", "entry 0"]),
        ({"performers": "Zoe"}, ["performers", "list"]),
        ({"studio": "S"}, ["studio"]),
        ({"paths": {"screenshot": "file:///etc/passwd"}}, ["screenshot", "http"]),
        ({"director": ["Jane"]}, ["director", "list", "text"]),
    ],
)
def test_invalid_input_is_rejected_with_field_and_reason(overrides, words):
    with pytest.raises(InvalidMetadata) as info:
        build_metadata(scene(**overrides), settings())
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"date": "2021-13-01"}, ["date", "2021-13-01", "title_template"]),
        ({"code": 123}, ["code", "int", "text"]),
    ],
)
def test_a_value_the_template_cannot_use_is_rejected(overrides, words):
    config = settings(title_template="{title} ({date}) [{code}]", skip_date=True)
    with pytest.raises(InvalidMetadata) as info:
        build_metadata(scene(**overrides), config)
    for word in words:
        assert word in str(info.value)


def test_not_a_scene():
    with pytest.raises(InvalidMetadata):
        build_metadata(None, settings())


def test_fingerprint_is_stable_and_sensitive():
    s = settings()
    one = fingerprint(build_metadata(scene(tags=tags("a", "b")), s), s)
    assert one == fingerprint(build_metadata(scene(tags=tags("a", "b")), s), s)
    assert one != fingerprint(build_metadata(scene(tags=tags("a")), s), s)
    assert one != fingerprint(build_metadata(scene(tags=tags("a", "b")), settings(keep_plex_edits=True)),
                              settings(keep_plex_edits=True))
    assert one != fingerprint(build_metadata(scene(tags=tags("a", "b")), settings(skip_tags=True)), s)
    changed_shot = scene(tags=tags("a", "b"), paths={"screenshot": "http://h/scene/7/screenshot?t=2"})
    assert one != fingerprint(build_metadata(changed_shot, s), s)


def test_a_setting_changes_a_fingerprint_only_through_the_values_it_changes():
    plain, templated = settings(), settings(title_template="{studio} - {title} [{code}]", code_in_summary=True)
    bare = scene()  # no studio, no code: every value is the same either way
    assert fingerprint(build_metadata(bare, plain), plain) == fingerprint(build_metadata(bare, templated), templated)
    studio = scene(studio={"name": "S"})
    assert fingerprint(build_metadata(studio, plain), plain) != fingerprint(build_metadata(studio, templated),
                                                                            templated)


@pytest.mark.parametrize(
    "raw, cap, single, out",
    [
        ("", 10, False, ""),
        ("  a  ", 10, False, "a"),
        ("a\r\nb", 10, False, "a\nb"),
        ("a\rb", 10, True, "a b"),
        ("\ufeffBOM", 10, True, "BOM"),
        ("x\u200dy", 10, True, "x\u200dy"),  # a joiner inside emoji sequences stays
        ("abcdefghijk", 5, True, "abcd" + ELLIPSIS),
    ],
)
def test_clean_text(raw, cap, single, out):
    assert clean_text(raw, cap, single) == out
