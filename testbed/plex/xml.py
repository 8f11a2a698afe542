"""XML documents in the shapes Plex Media Server returns and plexapi parses.

Strings are built by hand: a listing page of 100 items is a join of cached
per-item fragments, so paging a 50,000-item section costs little per request.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import quote

from testbed.plex.model import (LISTING_TAG_LIMITS, TAG_ELEMENTS, TAG_ORDER, Image, Item,
                                Section, TagIds)
from testbed.plex.query import DATE_FIELDS, INTEGER_FIELDS, STRING_FIELDS

VERSION = "1.41.3.9314-a0bfb8370"
MEDIA_TAG_VERSION = "1734362543"
LIBRARY_ID = "com.plexapp.plugins.library"

_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                          "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def attrs(pairs: Iterable[Tuple[str, object]]) -> str:
    """` k="v"` for each pair whose value is not None (XML-escaped, invalid chars dropped)."""
    out = []
    for key, value in pairs:
        if value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, float) and value.is_integer():
            value = "%.1f" % value
        text = _BAD_CHARS.sub("", str(value)).translate(_ESCAPES)
        out.append(' %s="%s"' % (key, text))
    return "".join(out)


def document(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def container(pairs: Sequence[Tuple[str, object]], children: str = "") -> bytes:
    if not children:
        return document("<MediaContainer%s/>" % attrs(pairs))
    return document("<MediaContainer%s>\n%s</MediaContainer>" % (attrs(pairs), children))


def error_page(status: int, reason: str) -> bytes:
    return ("<html><head><title>%s</title></head><body><h1>%d %s</h1></body></html>"
            % (reason, status, reason)).encode("utf-8")


# -- server and library ---------------------------------------------------------------

def server_root(machine_id: str, name: str) -> bytes:
    return container([
        ("size", 0), ("allowCameraUpload", 1), ("allowChannelAccess", 1),
        ("allowMediaDeletion", 1), ("allowSharing", 1), ("allowSync", 1),
        ("backgroundProcessing", 1), ("certificate", 1), ("companionProxy", 1),
        ("diagnostics", "logs,databases"), ("eventStream", 1), ("friendlyName", name),
        ("hubSearch", 1), ("machineIdentifier", machine_id), ("multiuser", 1),
        ("myPlex", 1), ("myPlexMappingState", "mapped"), ("myPlexSigninState", "ok"),
        ("myPlexSubscription", 1), ("myPlexUsername", "testbed@example.invalid"),
        ("ownerFeatures", "webhooks"), ("photoAutoTag", 1), ("platform", "Linux"),
        ("platformVersion", "6.1"), ("pluginHost", 1), ("readOnlyLibraries", 0),
        ("streamingBrainVersion", 2), ("sync", 1), ("transcoderActiveVideoSessions", 0),
        ("transcoderAudio", 1), ("transcoderLyrics", 1), ("transcoderPhoto", 1),
        ("transcoderSubtitles", 1), ("transcoderVideo", 1), ("updatedAt", 1734362543),
        ("updater", 1), ("version", VERSION), ("voiceSearch", 1)])


def identity(machine_id: str) -> bytes:
    return container([("size", 0), ("apiVersion", "1.1.1"), ("claimed", 1),
                      ("machineIdentifier", machine_id), ("version", VERSION)])


def library_root() -> bytes:
    children = "".join('<Directory%s/>\n' % attrs([("key", k), ("title", t)]) for k, t in (
        ("sections", "Library Sections"), ("recentlyAdded", "Recently Added Content"),
        ("onDeck", "On Deck")))
    return container([("size", 3), ("allowSync", 0), ("art", "/:/resources/library-art.png"),
                      ("content", ""), ("identifier", LIBRARY_ID),
                      ("mediaTagPrefix", "/system/bundle/media/flags/"),
                      ("mediaTagVersion", MEDIA_TAG_VERSION), ("title1", "Plex Library"),
                      ("title2", "")], children)


def _section_element(s: Section) -> str:
    locations = "".join('<Location%s/>\n' % attrs([("id", lid), ("path", p)])
                        for lid, p in zip(s.location_ids, s.locations))
    return '<Directory%s>\n%s</Directory>\n' % (attrs([
        ("allowSync", 1), ("art", "/:/resources/movie-fanart.jpg"),
        ("composite", "/library/sections/%d/composite/%d" % (s.id, s.updated_at)),
        ("filters", 1), ("refreshing", 0), ("thumb", "/:/resources/movie.png"),
        ("key", s.id), ("type", s.type), ("title", s.title), ("agent", s.agent),
        ("scanner", s.scanner), ("language", s.language), ("uuid", s.uuid),
        ("updatedAt", s.updated_at), ("createdAt", s.created_at),
        ("scannedAt", s.updated_at), ("content", 1), ("directory", 1),
        ("contentChangedAt", s.updated_at), ("hidden", 0)]), locations)


def sections(all_sections: List[Section]) -> bytes:
    return container([("size", len(all_sections)), ("allowSync", 0),
                      ("title1", "Plex Library")],
                     "".join(_section_element(s) for s in all_sections))


def section_detail(s: Section) -> bytes:
    views = (("all", "All Movies"), ("unwatched", "Unplayed"), ("newest", "Recently Released"),
             ("recentlyAdded", "Recently Added"), ("collection", "By Collection"))
    children = "".join('<Directory%s/>\n' % attrs([("key", k), ("title", t)]) for k, t in views)
    return container([("size", len(views)), ("allowSync", 0),
                      ("art", "/:/resources/movie-fanart.jpg"), ("content", "secondary"),
                      ("identifier", LIBRARY_ID), ("librarySectionID", s.id),
                      ("mediaTagPrefix", "/system/bundle/media/flags/"),
                      ("mediaTagVersion", MEDIA_TAG_VERSION), ("title1", s.title),
                      ("viewGroup", "secondary")], children)


def _section_pairs(s: Section) -> List[Tuple[str, object]]:
    return [("allowSync", 1), ("identifier", LIBRARY_ID), ("librarySectionID", s.id),
            ("librarySectionTitle", s.title), ("librarySectionUUID", s.uuid),
            ("mediaTagPrefix", "/system/bundle/media/flags/"),
            ("mediaTagVersion", MEDIA_TAG_VERSION)]


# -- items ------------------------------------------------------------------------------

class Renderer:
    """Renders items; keeps each item's listing fragment until the item changes."""

    def __init__(self, tag_ids: TagIds) -> None:
        self.tag_ids = tag_ids
        self._fragments: Dict[int, Tuple[int, str]] = {}

    def listing(self, s: Section, page: List[Item], total: int, offset: int,
                extra: str = "") -> bytes:
        body = extra + "".join(self._fragment(it) for it in page)
        return container([("size", len(page)), ("totalSize", total), ("offset", offset)]
                         + _section_pairs(s)
                         + [("title1", s.title), ("title2", "All Movies"),
                            ("viewGroup", "movie")], body)

    def _fragment(self, item: Item) -> str:
        cached = self._fragments.get(item.rating_key)
        if cached is not None and cached[0] == item.version:
            return cached[1]
        children = [self._media(item)]
        for kind in TAG_ORDER:
            limit = LISTING_TAG_LIMITS.get(kind, 0)
            element = TAG_ELEMENTS[kind]
            for tag in item.tags.get(kind, [])[:limit]:
                children.append("<%s%s/>\n" % (element, attrs([("tag", tag.name)])))
        text = "<Video%s>\n%s</Video>\n" % (attrs(self._video_pairs(item, None, set())),
                                            "".join(children))
        self._fragments[item.rating_key] = (item.version, text)
        return text

    def full(self, item: Item, s: Section, exclude_elements: Iterable[str] = (),
             exclude_fields: Iterable[str] = ()) -> str:
        """A complete <Video> with every tag and the <Field locked> list."""
        skip = {e.strip() for e in exclude_elements}
        children = [] if "Media" in skip else [self._media(item)]
        for kind in TAG_ORDER:
            element = TAG_ELEMENTS[kind]
            if element in skip:
                continue
            for tag in item.tags.get(kind, []):
                filter_kind = "actor" if kind == "actor" else kind
                tag_id = self.tag_ids.id_for(kind, tag.name)
                children.append("<%s%s/>\n" % (element, attrs([
                    ("id", tag_id), ("filter", "%s=%d" % (filter_kind, tag_id)),
                    ("tag", tag.name), ("role", tag.role)])))
        for name in sorted(item.locked):
            children.append('<Field%s/>\n' % attrs([("locked", 1), ("name", name)]))
        pairs = self._video_pairs(item, s, {f.strip() for f in exclude_fields})
        return "<Video%s>\n%s</Video>\n" % (attrs(pairs), "".join(children))

    def metadata(self, found: List[Item], sections: Dict[int, Section],
                 total: int, offset: int, **excludes) -> bytes:
        body = "".join(self.full(it, sections[it.section_id], **excludes) for it in found)
        pairs: List[Tuple[str, object]] = [("size", len(found))]
        if total != len(found):
            pairs += [("totalSize", total), ("offset", offset)]
        section_ids = {it.section_id for it in found}
        if len(section_ids) == 1:
            pairs += _section_pairs(sections[section_ids.pop()])
        else:
            pairs += [("allowSync", 1), ("identifier", LIBRARY_ID)]
        return container(pairs, body)

    def _video_pairs(self, item: Item, s: Optional[Section], skip: set):
        f = item.fields
        rk = item.rating_key
        pairs: List[Tuple[str, object]] = [
            ("ratingKey", rk), ("key", "/library/metadata/%d" % rk),
            ("guid", "local://%d" % rk), ("studio", f.get("studio")), ("type", "movie"),
            ("title", f.get("title"))]
        if s is not None:
            pairs += [("librarySectionTitle", s.title), ("librarySectionID", s.id),
                      ("librarySectionKey", "/library/sections/%d" % s.id)]
        pairs += [
            ("titleSort", f.get("titleSort")), ("originalTitle", f.get("originalTitle")),
            ("editionTitle", f.get("editionTitle")),
            ("contentRating", f.get("contentRating")),
            ("summary", None if "summary" in skip else (f.get("summary") or "")),
            ("userRating", item.user_rating), ("lastRatedAt", item.last_rated_at),
            ("viewOffset", item.view_offset), ("lastViewedAt", item.last_viewed_at),
            ("year", f.get("year")),
            ("tagline", None if "tagline" in skip else f.get("tagline")),
            ("thumb", "/library/metadata/%d/thumb/%d" % (rk, item.updated_at)
             if item.thumb else None),
            ("art", "/library/metadata/%d/art/%d" % (rk, item.updated_at)
             if item.art else None),
            ("duration", _duration(item)),
            ("originallyAvailableAt", f.get("originallyAvailableAt")),
            ("addedAt", item.added_at), ("updatedAt", item.updated_at)]
        return pairs

    def _media(self, item: Item) -> str:
        return "".join(self._one_media(item, n, group)
                       for n, group in enumerate(item.media_groups()))

    def _one_media(self, item: Item, n: int, group: List[Tuple[int, str]]) -> str:
        duration = _duration(item)
        parts = []
        for part_id, path in group:
            name = path.replace("\\", "/").rsplit("/", 1)[-1]
            container_ext = name.rsplit(".", 1)[-1].lower() if "." in name else "mp4"
            parts.append('<Part%s/>\n' % attrs([
                ("id", part_id),
                ("key", "/library/parts/%d/%d/%s" % (part_id, item.added_at, quote(name))),
                ("duration", duration), ("file", path),
                ("size", 50_000_000 + (item.rating_key * 7919) % 900_000_000),
                ("container", container_ext), ("videoProfile", "high")]))
        return '<Media%s>\n%s</Media>\n' % (attrs([
            ("id", item.media_id + 1000 * n), ("duration", duration), ("bitrate", 4500),
            ("width", 1920), ("height", 1080), ("aspectRatio", 1.78),
            ("audioChannels", 2), ("audioCodec", "aac"), ("videoCodec", "h264"),
            ("videoResolution", "1080"), ("container", "mp4"),
            ("videoFrameRate", "24p"), ("videoProfile", "high")]), "".join(parts))


def _duration(item: Item) -> int:
    return 600_000 + (item.rating_key * 104729) % 3_000_000


# -- images, collections, filter metadata -----------------------------------------------

def photos(item: Item, kind: str) -> bytes:
    images: List[Image] = item.posters if kind == "posters" else item.arts
    selected = item.thumb if kind == "posters" else item.art
    body = "".join('<Photo%s/>\n' % attrs([
        ("key", "/library/metadata/%d/file?url=%s" % (item.rating_key,
                                                      quote(img.rating_key, safe=""))),
        ("ratingKey", img.rating_key), ("selected", int(img.rating_key == selected)),
        ("thumb", "/library/metadata/%d/file?url=%s" % (item.rating_key,
                                                        quote(img.rating_key, safe=""))),
        ("provider", None if img.provider == "upload" else img.provider)]) for img in images)
    return container([("size", len(images)), ("identifier", LIBRARY_ID),
                      ("mediaTagPrefix", "/system/bundle/media/flags/"),
                      ("mediaTagVersion", MEDIA_TAG_VERSION)], body)


def collections(s: Section, found: List[Tuple[Item, int]]) -> bytes:
    """`<Directory type="collection">` per collection, with its images and locked fields."""
    body = []
    for item, count in found:
        rk = item.rating_key
        fields = "".join('<Field%s/>\n' % attrs([("locked", 1), ("name", name)])
                         for name in sorted(item.locked))
        body.append('<Directory%s>\n%s</Directory>\n' % (attrs([
            ("ratingKey", rk), ("key", "/library/collections/%d/children" % rk),
            ("guid", "collection://%d" % rk), ("type", "collection"),
            ("title", item.fields.get("title")), ("summary", item.fields.get("summary") or ""),
            ("subtype", "movie"), ("childCount", count), ("minYear", None),
            ("thumb", "/library/metadata/%d/thumb/%d" % (rk, item.updated_at) if item.thumb else None),
            ("art", "/library/metadata/%d/art/%d" % (rk, item.updated_at) if item.art else None),
            ("librarySectionID", s.id), ("librarySectionTitle", s.title),
            ("librarySectionKey", "/library/sections/%d" % s.id),
            ("addedAt", item.added_at), ("updatedAt", item.updated_at)]), fields))
    return container([("size", len(body))] + _section_pairs(s), "".join(body))


def tag_choices(s: Section, kind: str, names: List[str], tag_ids: TagIds) -> bytes:
    body = "".join('<Directory%s/>\n' % attrs([
        ("fastKey", "/library/sections/%d/all?type=1&%s=%d"
         % (s.id, kind, tag_ids.id_for(kind, n))),
        ("key", tag_ids.id_for(kind, n)), ("title", n), ("type", kind)]) for n in names)
    return container([("size", len(names))] + _section_pairs(s), body)


_OPERATORS = {
    "string": (("=", "contains"), ("!=", "does not contain"), ("==", "is"),
               ("!==", "is not"), ("<=", "begins with"), (">=", "ends with")),
    "integer": (("=", "is"), ("!=", "is not"), (">>=", "is greater than"),
                ("<<=", "is less than")),
    "date": (("<<=", "is before"), (">>=", "is after")),
    "tag": (("=", "is"), ("!=", "is not")),
    "boolean": (("=", "is true"), ("!=", "is false")),
}
_TAG_TITLES = {"genre": "Genre", "collection": "Collection", "label": "Labels",
               "actor": "Actor", "director": "Director", "writer": "Writer",
               "country": "Country", "producer": "Producer"}


def meta(s: Section) -> str:
    """The <Meta> block (includeMeta=1) that plexapi reads to validate filters and sorts."""
    filters = "".join('<Filter%s/>\n' % attrs([
        ("filter", k), ("filterType", "string"),
        ("key", "/library/sections/%d/%s?type=1" % (s.id, k)), ("title", t),
        ("type", "filter")]) for k, t in _TAG_TITLES.items())
    sorts = "".join('<Sort%s/>\n' % attrs([
        ("default", "asc" if k == "titleSort" else None), ("defaultDirection", d),
        ("descKey", "%s:desc" % k), ("key", k), ("title", t)]) for k, d, t in (
        ("titleSort", "asc", "Title"), ("addedAt", "desc", "Date Added"),
        ("originallyAvailableAt", "desc", "Release Date"), ("year", "desc", "Year"),
        ("userRating", "desc", "Rating"), ("lastRatedAt", "desc", "Last Rated"),
        ("studio", "asc", "Studio")))
    # updatedAt and id are added client-side by plexapi, so they are left out here.
    fields = [(k, "string") for k in STRING_FIELDS]
    fields += [(k, "integer") for k in INTEGER_FIELDS if k != "id"]
    fields += [(k, "date") for k in DATE_FIELDS if k != "updatedAt"]
    fields += [(k, "tag") for k in _TAG_TITLES]
    field_xml = "".join('<Field%s/>\n' % attrs([("key", k), ("title", k), ("type", t)])
                        for k, t in fields)
    movie_type = '<Type%s>\n%s%s%s</Type>\n' % (attrs([
        ("key", "/library/sections/%d/all?type=1" % s.id), ("type", "movie"),
        ("title", "Movies"), ("active", 1)]), filters, sorts, field_xml)
    field_types = "".join('<FieldType%s>\n%s</FieldType>\n' % (
        attrs([("type", t)]),
        "".join('<Operator%s/>\n' % attrs([("key", k), ("title", title)]) for k, title in ops))
        for t, ops in _OPERATORS.items())
    return "<Meta>\n%s%s</Meta>\n" % (movie_type, field_types)
