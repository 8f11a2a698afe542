"""Plex collections: find them in a library, upload their images, set their summary.

plexapi's `Collection` has the same image and edit vocabulary as an item
(plexapi/collection.py: CollectionMixins bring PosterMixin/ArtMixin `uploadPoster`,
`uploadArt`, `lockPoster`, and SummaryMixin `editSummary`). Its edits go to the
section: `PUT /library/sections/{id}/all?type=18&id={ratingKey}&summary.value=…&
summary.locked=1` (LibrarySection._edit), so `batchEdits()`/`saveEdits()` send the
summary and every lock in ONE request. A section's collections are listed with one
request (`LibrarySection.collections()`: a search with libtype 'collection').
"""

from __future__ import annotations

from typing import Dict, Iterable

from plex.apply import upload_image

__all__ = ["collections_by_title", "upload_image", "set_summary_and_locks"]


def collections_by_title(section) -> Dict[str, object]:
    """The section's collections by casefolded title (Plex matches titles that way)."""
    return {str(c.title).casefold(): c for c in section.collections()}


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
