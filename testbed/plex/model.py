"""The emulated library's data: sections, movie items, images and tag ids.

Plain records with no locking and no HTTP; the store owns them and serialises access.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

# Scalar fields an edit may set with `<name>.value=` (plexapi EditFieldMixin names).
TEXT_FIELDS = ("title", "titleSort", "originalTitle", "summary", "tagline", "studio",
               "contentRating", "originallyAvailableAt", "editionTitle")
NUMBER_FIELDS = ("userRating", "year", "addedAt")

# Tag lists: edit name -> XML element name. Edit and lock names follow plexapi
# (`actor[0].tag.tag`, `actor.locked`), the XML uses <Role>.
TAG_ELEMENTS = {
    "genre": "Genre",
    "country": "Country",
    "director": "Director",
    "writer": "Writer",
    "actor": "Role",
    "producer": "Producer",
    "collection": "Collection",
    "label": "Label",
}
# Order of tag elements in a full item, as a real server writes them.
TAG_ORDER = ("genre", "country", "director", "writer", "actor", "producer",
             "collection", "label")

# How many tags of each kind a real server puts on an item in a section listing.
LISTING_TAG_LIMITS = {"genre": 2, "country": 2, "director": 1, "writer": 1, "actor": 3,
                      "collection": 1}

# Agents never supply labels (user data), so an agent refresh leaves them alone.
AGENT_TAGS = tuple(k for k in TAG_ORDER if k != "label")
AGENT_FIELDS = ("title", "titleSort", "originalTitle", "summary", "tagline", "studio",
                "contentRating", "originallyAvailableAt", "year", "editionTitle")


@dataclass
class Tag:
    """One tag on an item; `role` is the character name for actors."""

    name: str
    role: Optional[str] = None


@dataclass
class Image:
    """A poster or background in an item's list; the newest upload is usually selected."""

    rating_key: str  # how Plex names it: upload://posters/<hash>, http://…
    provider: str  # "upload", "url" or "local"
    sha256: Optional[str] = None
    length: Optional[int] = None
    data: Optional[bytes] = None
    url: Optional[str] = None
    fetch_error: Optional[str] = None
    uploaded_at: int = 0

    def snapshot(self, selected: bool) -> Dict[str, Any]:
        return {"ratingKey": self.rating_key, "provider": self.provider,
                "sha256": self.sha256, "length": self.length, "url": self.url,
                "fetch_error": self.fetch_error, "selected": selected}


def image_from_bytes(kind: str, data: bytes, now: int) -> Image:
    digest = hashlib.sha256(data).hexdigest()
    # Plex names uploads by a content hash (sha1): identical bytes are one image.
    name = hashlib.sha1(data).hexdigest()
    return Image(rating_key="upload://%s/%s" % (kind, name), provider="upload",
                 sha256=digest, length=len(data), data=data, uploaded_at=now)


@dataclass
class Section:
    """A movie library section."""

    id: int
    title: str
    type: str
    locations: List[str]
    agent: str
    scanner: str
    language: str
    uuid: str
    created_at: int
    updated_at: int
    # What the section's agent supplies on refresh, beyond the title from the file
    # name: {"genres": [...], "summary": "...", ...}. Empty for the "none" agent.
    agent_metadata: Dict[str, Any] = field(default_factory=dict)
    location_ids: List[int] = field(default_factory=list)


@dataclass
class Item:
    """One movie with its files, metadata, locks and images."""

    rating_key: int
    section_id: int
    files: List[str]
    part_ids: List[int]
    media_id: int
    fields: Dict[str, Any]
    tags: Dict[str, List[Tag]]
    added_at: int
    updated_at: int
    locked: set = field(default_factory=set)
    user_rating: Optional[float] = None
    last_rated_at: Optional[int] = None
    # The token owner's in-progress point (ms), set by /:/timeline and /:/progress.
    view_offset: Optional[int] = None
    last_viewed_at: Optional[int] = None
    posters: List[Image] = field(default_factory=list)
    arts: List[Image] = field(default_factory=list)
    thumb: Optional[str] = None  # rating_key of the selected poster
    art: Optional[str] = None
    version: int = 0  # bumped on every change; keys the listing fragment cache
    # Parts per <Media> element: None is one Media holding every file (a movie in
    # parts, cd1/cd2); [1, 1] is two versions of one movie, one file each.
    media_sizes: Optional[List[int]] = None

    def media_groups(self) -> List[List[Tuple[int, str]]]:
        """(part id, file) for each Media element, in order."""
        parts = list(zip(self.part_ids, self.files))
        sizes = self.media_sizes or [len(parts)]
        groups, start = [], 0
        for size in sizes:
            groups.append(parts[start:start + size])
            start += size
        return groups

    def tag_names(self, kind: str) -> List[str]:
        return [t.name for t in self.tags.get(kind, [])]

    def title(self) -> str:
        return self.fields.get("title") or ""

    def sort_title(self) -> str:
        return (self.fields.get("titleSort") or self.title()).lower()

    def snapshot(self) -> Dict[str, Any]:
        """Everything a test may want to assert on, as plain values."""
        snap: Dict[str, Any] = {
            "ratingKey": self.rating_key, "section_id": self.section_id,
            "files": list(self.files), "addedAt": self.added_at,
            "updatedAt": self.updated_at, "userRating": self.user_rating,
            "lastRatedAt": self.last_rated_at, "locked": set(self.locked),
            "viewOffset": self.view_offset, "lastViewedAt": self.last_viewed_at,
            "thumb": self.thumb, "art": self.art,
            "posters": [p.snapshot(p.rating_key == self.thumb) for p in self.posters],
            "arts": [a.snapshot(a.rating_key == self.art) for a in self.arts],
        }
        for name in TEXT_FIELDS:
            snap[name] = self.fields.get(name)
        snap["year"] = self.fields.get("year")
        for kind in TAG_ORDER:
            snap[kind + "s" if kind != "country" else "countries"] = self.tag_names(kind)
        snap["roles"] = [{"tag": t.name, "role": t.role} for t in self.tags.get("actor", [])]
        return snap


def title_from_file(path: str) -> str:
    """The title a scanner gives a file with no metadata: its name without extension."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    return os.path.splitext(base)[0]


class TagIds:
    """Stable numeric ids for tag names, like the ids in Plex's `filter="genre=12"`."""

    def __init__(self) -> None:
        self._ids: Dict[Tuple[str, str], int] = {}
        self._names: Dict[Tuple[str, int], str] = {}

    def id_for(self, kind: str, name: str) -> int:
        key = (kind, name.lower())
        found = self._ids.get(key)
        if found is None:
            found = len(self._ids) + 1
            self._ids[key] = found
            self._names[(kind, found)] = name
        return found

    def name_for(self, kind: str, tag_id: int) -> Optional[str]:
        return self._names.get((kind, tag_id))
