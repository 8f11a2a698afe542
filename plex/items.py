"""Fetch Plex items in full, many per request, and read them as plain values.

A listing item is partial (a real server returns at most a few genres and actors and
no <Field locked> children), and diffing against it would drop what it never saw.
`GET /library/metadata/1,2,3` returns the full metadata of several items at once.
"""

from __future__ import annotations

from typing import Dict, Iterable, List

from plexapi.exceptions import NotFound

from mapping.plan import CurrentItem

MULTI_GET_CHUNK = 200  # keys per request; keeps the URL short

# plexapi's PlexPartialObject runs Python code on every attribute read, to reload a
# partial object the first time a value is empty. The items read here are full (their
# reload is switched off in fetch_full), so their values are read past that hook:
# the same values, including plexapi's lazily parsed ones, at a fraction of the cost.
_loaded = object.__getattribute__


def fetch_full(server, rating_keys: Iterable[int]) -> Dict[int, object]:
    """Full items by rating key; keys Plex no longer has are simply absent."""
    keys: List[int] = sorted({int(k) for k in rating_keys})
    found: Dict[int, object] = {}
    for start in range(0, len(keys), MULTI_GET_CHUNK):
        chunk = keys[start:start + MULTI_GET_CHUNK]
        try:
            items = server.fetchItems(chunk, container_size=len(chunk))
        except NotFound:
            continue  # every key in the chunk is gone
        for item in items:
            # plexapi treats an item read from a multi-get as partial (its path differs
            # from the item's own key) and would reload it, one GET per item, the first
            # time an attribute is empty. The data is complete, so stop that.
            item._autoReload = False
            found[int(item.ratingKey)] = item
    return found


def read_current(item) -> CurrentItem:
    """The plain state `plan.diff` compares against."""
    def value(name: str):
        return _loaded(item, name)

    date = value("originallyAvailableAt")
    return CurrentItem(
        rating_key=int(value("ratingKey")),
        section_id=int(value("librarySectionID") or 0),
        title=value("title") or "",
        summary=value("summary") or "",
        originally_available_at=date.strftime("%Y-%m-%d") if date else "",
        studio=value("studio") or "",
        actors=tuple(t.tag for t in value("roles")),
        genres=tuple(t.tag for t in value("genres")),
        collections=tuple(t.tag for t in value("collections")),
        directors=tuple(t.tag for t in value("directors")),
        user_rating=value("userRating"),
        locked=frozenset(f.name for f in value("fields") if f.locked),
    )


def item_files(item) -> List[str]:
    """Every file the item holds: each Part of each Media (versions and stacked parts).

    Read from the multi-get's full item, which carries its Media/Part elements, so
    checking a match before writing costs no request.
    """
    return [part.file for media in _loaded(item, "media") for part in media.parts if part.file]
