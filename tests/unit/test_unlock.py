"""What a scene deleted in Stash gives back to Plex: the locks on what Stash2Plex wrote."""

from __future__ import annotations

from mapping.unlock import owned_locks


def test_every_written_field_with_a_lock_is_unlocked_and_the_date_takes_its_year():
    written = {"title": "T", "summary": "", "originally_available_at": "2020-01-02", "studio": "S",
               "actors": ["A"], "genres": [], "collections": ["C"], "user_rating": 7.0}
    assert owned_locks(written) == ["title", "summary", "originallyAvailableAt", "year", "studio",
                                    "actor", "genre", "collection"]  # the rating has no lock


def test_fields_never_written_keep_their_locks():
    assert owned_locks({"title": "T"}) == ["title"]  # skip_* fields: a lock the user set stays
    assert owned_locks({}) == []


def test_images_count_when_written_or_uploaded():
    assert owned_locks({"poster": "http://stash/s.jpg"}) == ["thumb"]
    assert owned_locks({}, poster_hash="ab") == ["thumb"]
    assert owned_locks({}, art_hash="cd") == ["art"]
    assert owned_locks({"background": "u"}, poster_hash="ab") == ["thumb", "art"]
