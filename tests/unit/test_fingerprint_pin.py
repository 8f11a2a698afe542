"""The per-scene fingerprint, pinned to values computed before the mapping became a table.

A scene whose fingerprint matches its stored one costs no Plex request. If a refactor
changed the hash for the same input, every scene would sync again after an upgrade, so
these values only change together with MAPPING_VERSION.
"""

from __future__ import annotations

import pytest

from mapping.scene_fields import build_metadata, fingerprint
from validation.settings import Settings

RICH = {
    "id": "42", "title": "  A “Title”\r\nwith two lines ", "details": "Line one\r\n\n\n\nLine two\x07",
    "date": "2021-02-03", "rating100": 85,
    "files": [{"path": "/data/Clip.Part.One.mp4", "basename": "Clip.Part.One.mp4", "size": 1}],
    "paths": {"screenshot": "http://stash:9999/scene/42/screenshot?t=1700000000"},
    "studio": {"id": "1", "name": "Studio S"},
    "performers": [{"name": "Zoe"}, {"name": "adam"}, {"name": "ZOE"}],
    "tags": [{"name": "Keep"}, {"name": "HIDE me"}, {"name": "keep"}, {"name": "Ünï"}],
    "groups": [{"group": {"name": "G1"}, "scene_index": 1}, {"group": {"name": "G2"}, "scene_index": None}],
}
EMPTY = dict(RICH, title=None, details=None, date=None, rating100=None, studio=None, performers=[],
             tags=[], groups=[], paths={"screenshot": None})
SCENES = {"RICH": RICH, "EMPTY": EMPTY}
CONFIGS = {
    "defaults": {},
    "keep_plex_edits": {"keep_plex_edits": True},
    "everything_skipped": {name: True for name in ("skip_title", "skip_summary", "skip_date", "skip_studio",
                                                   "skip_performers", "skip_tags", "skip_collections",
                                                   "skip_studio_collection", "skip_rating", "skip_poster")},
    "background_excluded_capped": {"sync_background": True, "excluded_tags": "hide ME", "max_list_items": 2},
}
PINNED = [
    ("RICH", "defaults", "fbe5e35e322890d490fda47030c33a92b7e9c022c46e1e35342967dadd4722a2"),
    ("RICH", "keep_plex_edits", "fedc39ea08ba6f8ef974a5483f50ed81567abd835ddcc5f96a2cddf00f4deeab"),
    ("RICH", "everything_skipped", "e4bd5dff8ceaadb9b7cef7ffb42956c4acbaa39f0b7118e001d78c5cc76af3ed"),
    ("RICH", "background_excluded_capped", "92074c3c9e6e5fe256c00dced15d9b9bd5ad0a861c2f1b246695e8675c235a2a"),
    ("EMPTY", "defaults", "edae413f7c4b81fe11206bdc9ef234d9315317f7aaf091652636586fc15ea04c"),
    ("EMPTY", "keep_plex_edits", "2e7251a59df6c1886469b1418cd7430f011eafc8949a04eb10de780f71c5cc85"),
    ("EMPTY", "everything_skipped", "e4bd5dff8ceaadb9b7cef7ffb42956c4acbaa39f0b7118e001d78c5cc76af3ed"),
    ("EMPTY", "background_excluded_capped", "3a3af478613cfb33679623998df73e61090090e111372ee4c75fa6a858b2965c"),
]


@pytest.mark.parametrize("scene, config, expected", PINNED, ids=[f"{s}-{c}" for s, c, _ in PINNED])
def test_fingerprint_is_unchanged_for_the_same_input(scene, config, expected):
    settings = Settings(plex_url="http://127.0.0.1:32400", plex_token="t", **CONFIGS[config])
    assert fingerprint(build_metadata(SCENES[scene], settings), settings) == expected
