"""Collections as a real PMS keeps them: one object per library section and title.

A movie's `collection` tag makes the collection exist in its section (PMS creates it
when the first item is tagged and lists it while any item carries the tag). The object
has its own ratingKey and, like an item, a summary, a poster list, a background list,
the selected one of each and locked fields: plexapi's `Collection` edits it through
`PUT /library/sections/{id}/all?type=18&id=…` (LibrarySection._edit), uploads through
`POST /library/metadata/{rk}/posters|arts` (PosterMixin/ArtMixin.uploadPoster), and
reads it from `GET /library/sections/{id}/all?type=18` (LibrarySection.collections(),
a search with libtype 'collection'). Uploads select and lock as on items.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from testbed.plex.model import Item, TagIds

COLLECTION_KEY_BASE = 10_000_000  # collection ratingKeys, apart from item keys
COLLECTION_TYPE = "18"  # plexapi utils.SEARCHTYPES['collection']


class Collections:
    """The collection objects of every section (the caller holds the store's lock)."""

    def __init__(self) -> None:
        self._ids = TagIds()  # (section, title) → a number, stable for the run
        self.objects: Dict[int, Item] = {}

    def key_for(self, section_id: int, title: str) -> int:
        return COLLECTION_KEY_BASE + self._ids.id_for(str(section_id), title.lower())

    def is_collection_key(self, rating_key: int) -> bool:
        return rating_key >= COLLECTION_KEY_BASE

    def get(self, section_id: int, title: str, now: int) -> Item:
        """The section's collection of that title, created the first time it is seen."""
        rk = self.key_for(section_id, title)
        found = self.objects.get(rk)
        if found is None:
            found = Item(rating_key=rk, section_id=section_id, files=[], part_ids=[], media_id=0,
                         fields={"title": title, "summary": ""}, tags={}, added_at=now,
                         updated_at=now)
            self.objects[rk] = found
        return found

    def listed(self, section_id: int, counts: Dict[str, int], now: int) -> List[Tuple[Item, int]]:
        """Each collection the section's items carry, with its item count."""
        return [(self.get(section_id, name, now), counts[name])
                for name in sorted(counts, key=str.lower)]

    def find(self, rating_key: int, counts_of) -> Optional[Item]:
        """The collection with this key while any item of its section carries it."""
        found = self.objects.get(rating_key)
        if found is None:
            return None
        counts = counts_of(found.section_id)
        title = found.fields.get("title") or ""
        return found if any(name.lower() == title.lower() for name in counts) else None

    def snapshot(self, item: Item) -> Dict[str, object]:
        snap = item.snapshot()
        return {k: snap[k] for k in ("ratingKey", "section_id", "title", "summary", "locked",
                                     "thumb", "art", "posters", "arts", "updatedAt")}
