"""Plex collections: find them in a library, upload their images, set their summary.

plexapi's `Collection` has the same image and edit vocabulary as an item
(plexapi/collection.py: CollectionMixins bring PosterMixin/ArtMixin `uploadPoster`,
`uploadArt`, `lockPoster`, and SummaryMixin `editSummary`). Its edits go to the
section: `PUT /library/sections/{id}/all?type=18&id={ratingKey}&summary.value=…&
summary.locked=1` (LibrarySection._edit), so `batchEdits()`/`saveEdits()` send the
summary and every lock in ONE request. A section's collections are listed with one
request (`LibrarySection.collections()`: a search with libtype 'collection'), or
looked up by title (`title=`, Plex's case-insensitive "contains" filter, as plexapi's
`LibrarySection.collection` does). KnownCollections keeps what was found.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Optional

from plex.apply import direct_call, upload_image

__all__ = ["KnownCollections", "collections_by_title", "upload_image", "set_summary_and_locks"]

# New titles looked up one request each; with more missing at once one listing is cheaper.
ONE_BY_ONE = 4


def collections_by_title(section) -> Dict[str, object]:
    """The section's collections by casefolded title (Plex matches titles that way)."""
    return {str(c.title).casefold(): c for c in section.collections()}


def collection_titled(section, title: str) -> Optional[object]:
    """The section's collection of this title (compared casefolded), or None: one small request."""
    wanted = title.casefold()
    return next((c for c in section.collections(title=title) if str(c.title).casefold() == wanted), None)


class KnownCollections:
    """The collections found so far, per library: a library is listed in full once, not every batch.

    A first sync meets new collections batch after batch. Listing all of a library's
    collections each time costs more the bigger the library (hundreds of collections,
    each parsed). So titles found before are reused, a few new ones are looked up by
    title, and only a library not listed yet, or many new titles at once, costs a full
    listing. Plex drops a collection no item carries any more, so a cached one can be
    gone: its write then fails, and `forget` makes the next pass list the library again.
    """

    def __init__(self) -> None:
        self._known: Dict[str, Dict[str, object]] = {}

    def find(self, section, titles: Iterable[str], call: Callable = direct_call) -> Dict[str, object]:
        """Casefolded title -> collection, for each of `titles` the library has.

        `call(fn, *args)` runs each request (the caller's retry policy).
        """
        key = str(section.key)
        wanted = {title.casefold(): title for title in titles}
        known = self._known.get(key)
        missing = [t for t in sorted(wanted) if known is None or t not in known]
        if known is None or len(missing) > ONE_BY_ONE:
            known = self._known[key] = call(collections_by_title, section)
        else:
            for folded in missing:
                found = call(collection_titled, section, wanted[folded])
                if found is not None:
                    known[folded] = found
        return {t: known[t] for t in wanted if t in known}

    def forget(self, section_key) -> None:
        self._known.pop(str(section_key), None)


def set_summary_and_locks(collection, summary: str, locks: Iterable[str] = ()) -> None:
    """One PUT: the summary, locked, and the named fields (thumb, art) locked too.

    A real PMS locks `thumb`/`art` when an image is uploaded; the lock is sent anyway so
    an agent or a Plex refresh cannot swap the artwork whatever the server version did.
    """
    collection.batchEdits()
    collection.editSummary(summary, locked=True)
    for name in sorted(set(locks)):
        collection.edit(**{f"{name}.locked": 1})
    collection.saveEdits()
