"""The field table agrees with the model, the Plex item and the settings it names."""

from __future__ import annotations

import dataclasses

from mapping.fields import FIELDS, IMAGE, RATING, TAGS
from mapping.plan import CurrentItem
from validation import scene_metadata
from validation.scene_metadata import PlexMetadata
from validation.settings import Settings


def test_one_row_per_managed_name():
    assert [row.name for row in FIELDS] == list(scene_metadata.FIELDS)


def test_every_row_has_its_model_attribute_and_setting():
    for row in FIELDS:
        assert row.model_attr in PlexMetadata.model_fields, row.name
        assert Settings.model_fields[row.switch].annotation is bool, row.name


def test_every_compared_row_is_read_from_the_plex_item():
    attributes = {f.name for f in dataclasses.fields(CurrentItem)}
    for row in FIELDS:
        if row.kind != IMAGE:
            assert row.name in attributes, row.name


def test_every_row_but_the_rating_has_a_plex_field_to_lock():
    for row in FIELDS:
        assert bool(row.plex) == (row.kind != RATING), row.name
        assert not row.ordered or row.kind == TAGS, row.name
