"""The per-scene fingerprint, pinned.

A scene whose fingerprint matches its stored one costs no Plex request. If a refactor
changed the hash for the same input, every scene would sync again after an upgrade, so
these values only change together with MAPPING_VERSION.

MAPPING_VERSION 2 (issue 19) changed every value on purpose: the director became a
managed, locked field, so each item needs one edit to own it, and every scene syncs
once more after the upgrade (CHANGELOG.md says so). The values below were computed
then; RICH gained a director and a code, and two configurations pin the template and
code_in_summary. The values of MAPPING_VERSION 1 were, in PINNED's order: fbe5e35e…,
fedc39ea…, e4bd5dff…, 92074c3c…, edae413f…, 2e7251a5…, e4bd5dff…, 3a3af478….
"""

from __future__ import annotations

import pytest

from mapping.scene_fields import build_metadata, fingerprint
from validation.settings import Settings

RICH = {
    "id": "42", "title": "  A “Title”\r\nwith two lines ", "details": "Line one\r\n\n\n\nLine two\x07",
    "date": "2021-02-03", "rating100": 85, "director": " Dee  Rector ", "code": "RX-042",
    "files": [{"path": "/data/Clip.Part.One.mp4", "basename": "Clip.Part.One.mp4", "size": 1}],
    "paths": {"screenshot": "http://stash:9999/scene/42/screenshot?t=1700000000"},
    "studio": {"id": "1", "name": "Studio S"},
    "performers": [{"name": "Zoe"}, {"name": "adam"}, {"name": "ZOE"}],
    "tags": [{"name": "Keep"}, {"name": "HIDE me"}, {"name": "keep"}, {"name": "Ünï"}],
    "groups": [{"group": {"name": "G1"}, "scene_index": 1}, {"group": {"name": "G2"}, "scene_index": None}],
}
EMPTY = dict(RICH, title=None, details=None, date=None, rating100=None, studio=None, performers=[],
             tags=[], groups=[], paths={"screenshot": None}, director=None, code=None)
SCENES = {"RICH": RICH, "EMPTY": EMPTY}
CONFIGS = {
    "defaults": {},
    "keep_plex_edits": {"keep_plex_edits": True},
    "everything_skipped": {name: True for name in ("skip_title", "skip_summary", "skip_date", "skip_studio",
                                                   "skip_performers", "skip_tags", "skip_collections",
                                                   "skip_studio_collection", "skip_rating", "skip_poster",
                                                   "skip_director")},
    "background_excluded_capped": {"sync_background": True, "excluded_tags": "hide ME", "max_list_items": 2},
    "template_code_in_summary": {"title_template": "{studio} - {title} ({date}) [{code}]", "code_in_summary": True},
}
PINNED = [
    ("RICH", "defaults", "15a9b77e597ba3a6b2dc0929cfac17e780aed87856aa10cb4d7e806fc3725a0f"),
    ("RICH", "keep_plex_edits", "8d0ec44cf773e50f3c4912b95a3d91aab03da89e3a7888046b9b49bc3201f9cb"),
    ("RICH", "everything_skipped", "a7f3e1601527aa0b692c72cea8f2fb4a20afd984066d2439ecf745e786186585"),
    ("RICH", "background_excluded_capped", "547572e9e727458b37dbe3e7565badacde767bdf9ed781903a90c0c37c02c6fd"),
    ("RICH", "template_code_in_summary", "5a564f017d49a3fa2644442c39deafb96128863863910908efd7bdb2ac8a00c9"),
    ("EMPTY", "defaults", "e4514da34d27d23605318a86ceaecd2fa9d462ff9f4205e4a23e8526e3a77c8f"),
    ("EMPTY", "keep_plex_edits", "86744b23a5fe98c53456f5dcf445001e38a65d9e094246365b5c124f9e85e646"),
    ("EMPTY", "everything_skipped", "a7f3e1601527aa0b692c72cea8f2fb4a20afd984066d2439ecf745e786186585"),
    ("EMPTY", "background_excluded_capped", "3906eaa17325e2c044adba532d38ad4acbeeb428092d604e872b3df1e992ab20"),
    # No studio, date, code or details: the template and the code change nothing, nor the fingerprint.
    ("EMPTY", "template_code_in_summary", "e4514da34d27d23605318a86ceaecd2fa9d462ff9f4205e4a23e8526e3a77c8f"),
]


@pytest.mark.parametrize("scene, config, expected", PINNED, ids=[f"{s}-{c}" for s, c, _ in PINNED])
def test_fingerprint_is_unchanged_for_the_same_input(scene, config, expected):
    settings = Settings(plex_url="http://127.0.0.1:32400", plex_token="t", **CONFIGS[config])
    assert fingerprint(build_metadata(SCENES[scene], settings), settings) == expected
