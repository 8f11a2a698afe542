"""Plex endpoints: one function per route, from a parsed request to a response.

Only what python-plexapi 4.18 sends for a movie library is here; anything else
answers 404 like an unknown path on a real server.
"""
from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple
from urllib.parse import urlparse

from testbed import loopback
from testbed.loopback import Request
from testbed.plex import xml
from testbed.plex.collections import COLLECTION_TYPE
from testbed.plex.edits import EditError
from testbed.plex.model import TAG_ELEMENTS, Image, image_from_bytes
from testbed.plex.query import QueryError, parse_query
from testbed.plex.store import NotFoundError, Store

XML_TYPE = "text/xml;charset=utf-8"
URL_FETCH_TIMEOUT = 5.0
URL_FETCH_LIMIT = 32 * 1024 * 1024
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LIBRARY_IDENTIFIER = "com.plexapp.plugins.library"  # the provider that owns library items


@dataclass
class Response(loopback.Response):
    """Plex answers XML unless a route says otherwise."""
    content_type: str = XML_TYPE


class BadRequestError(ValueError):
    pass


REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable"}


def error(status: int) -> Response:
    reason = REASONS.get(status, "Error")
    return Response(status, xml.error_page(status, reason), "text/html")


class PlexRoutes:
    """Dispatches requests to handlers bound to one store and server identity."""

    def __init__(self, store: Store, machine_id: str, friendly_name: str) -> None:
        self.store = store
        self.machine_id = machine_id
        self.friendly_name = friendly_name
        self.renderer = xml.Renderer(store.tag_ids)
        sid, rk = r"(?P<sid>\d+)", r"(?P<rk>\d+)"
        tags = "|".join(TAG_ELEMENTS)
        table: List[Tuple[str, str, Callable[..., Response]]] = [
            ("GET", r"/", self.root),
            ("GET", r"/identity", self.identity),
            ("GET", r"/library", self.library),
            ("GET", r"/library/sections/?", self.sections),
            ("GET", r"/library/sections/all/refresh", self.scan_all),
            ("GET", r"/library/sections/%s" % sid, self.section_detail),
            ("GET", r"/library/sections/%s/all" % sid, self.listing),
            ("PUT", r"/library/sections/%s/all" % sid, self.edit_in_section),
            ("GET", r"/library/sections/%s/collections" % sid, self.collections),
            ("GET", r"/library/sections/%s/(?P<kind>%s)" % (sid, tags), self.tag_choices),
            ("GET", r"/library/sections/%s/refresh" % sid, self.scan),
            ("DELETE", r"/library/sections/%s/refresh" % sid, self.ok),
            ("GET", r"/library/metadata/(?P<rks>\d+(?:,\d+)*)", self.metadata),
            ("PUT", r"/library/metadata/%s" % rk, self.edit_item),
            ("PUT", r"/library/metadata/%s/refresh" % rk, self.refresh_item),
            ("GET", r"/library/metadata/%s/(?P<kind>posters|arts)" % rk, self.list_images),
            ("POST", r"/library/metadata/%s/(?P<kind>posters|arts)" % rk, self.upload),
            ("PUT", r"/library/metadata/%s/(?P<kind>poster|art)" % rk, self.select),
            ("DELETE", r"/library/metadata/%s/(?P<kind>thumb|art)" % rk, self.clear_image),
            ("GET", r"/library/metadata/%s/(?P<kind>thumb|art)(?:/\d+)?" % rk,
             self.selected_bytes),
            ("GET", r"/library/metadata/%s/file" % rk, self.image_bytes),
            ("PUT", r"/:/rate", self.rate),
            ("GET", r"/:/scrobble", self.scrobble),
            ("GET", r"/:/progress", self.progress),
            ("GET", r"/status/sessions/history/all", self.history),
            ("GET", r"/accounts", self.accounts),
        ]
        self._table = [(m, re.compile(p + "$"), h) for m, p, h in table]

    def dispatch(self, req: Request) -> Response:
        path_known = False
        for method, pattern, handler in self._table:
            m = pattern.match(req.path)
            if not m:
                continue
            path_known = True
            if method != req.method:
                continue
            try:
                self.store.run_due_scans()
                return handler(req, **m.groupdict())
            except NotFoundError:
                return error(404)
            except (BadRequestError, EditError, QueryError):
                return error(400)
        return error(405 if path_known else 404)

    # -- server -------------------------------------------------------------------

    def root(self, req: Request) -> Response:
        return Response(body=xml.server_root(self.machine_id, self.friendly_name))

    def identity(self, req: Request) -> Response:
        return Response(body=xml.identity(self.machine_id))

    def ok(self, req: Request, **_: str) -> Response:
        return Response()

    # -- library and sections ---------------------------------------------------------

    def library(self, req: Request) -> Response:
        return Response(body=xml.library_root())

    def sections(self, req: Request) -> Response:
        with self.store.lock:
            return Response(body=xml.sections(list(self.store.sections.values())))

    def section_detail(self, req: Request, sid: str) -> Response:
        with self.store.lock:
            return Response(body=xml.section_detail(self.store.section(sid)))

    def listing(self, req: Request, sid: str) -> Response:
        start, size = _paging(req)
        query = parse_query(req.pairs, self.store.tag_ids, self.store.clock())
        with self.store.lock:
            section = self.store.section(sid)
            extra = xml.meta(section) if req.query.get("includeMeta") == "1" else ""
            if query.type == 18:
                return self.collections(req, sid, query)
            found = self.store.listing(sid, query)
            page = found[start:] if size is None else found[start:start + size]
            body = self.renderer.listing(section, page, len(found), start, extra)
        return Response(body=body)

    def collections(self, req: Request, sid: str, query=None) -> Response:
        """A section's collections; filters such as `title=` (contains, any case) apply to them too."""
        with self.store.lock:
            section = self.store.section(sid)
            listed = self.store.collection_objects.listed(
                section.id, self.store.collections(sid), self.store.now())
            if query is not None:
                listed = [(c, n) for c, n in listed if query.matches(c)]
            return Response(body=xml.collections(section, listed))

    def tag_choices(self, req: Request, sid: str, kind: str) -> Response:
        with self.store.lock:
            section = self.store.section(sid)
            names = self.store.tag_choices(sid, kind)
            return Response(body=xml.tag_choices(section, kind, names, self.store.tag_ids))

    def scan(self, req: Request, sid: str) -> Response:
        if req.query.get("force") == "1":
            self.store.refresh_section(sid)
        else:
            self.store.request_scan(sid, req.query.get("path") or None)
        return Response()

    def scan_all(self, req: Request) -> Response:
        self.store.request_scan(None, req.query.get("path") or None)
        return Response()

    # -- items --------------------------------------------------------------------

    def metadata(self, req: Request, rks: str) -> Response:
        start, size = _paging(req)
        q = req.query
        with self.store.lock:
            keys = [int(k) for k in rks.split(",")]
            found = [self.store.items[k] for k in keys if k in self.store.items]
            if not found:
                raise NotFoundError(rks)
            page = found[start:] if size is None else found[start:start + size]
            body = self.renderer.metadata(
                page, self.store.sections, len(found), start,
                exclude_elements=_split(q.get("excludeElements")),
                exclude_fields=_split(q.get("excludeFields")))
        return Response(body=body)

    def edit_in_section(self, req: Request, sid: str) -> Response:
        ids = [i for i in (req.query.get("id") or "").split(",") if i]
        if not ids:
            raise BadRequestError("edit without id")
        kind = req.query.get("type", "1")
        if kind == COLLECTION_TYPE:  # plexapi Collection.editSummary, lockPoster, …
            if not all(i.isdigit() and self.store.collection_objects.is_collection_key(int(i))
                       for i in ids):
                raise BadRequestError("type=18 edits collections only")
        elif kind not in ("1", ""):
            raise BadRequestError("only movies (type=1) and collections (type=18) are emulated")
        self.store.edit(sid, ids, req.pairs)
        return Response()

    def edit_item(self, req: Request, rk: str) -> Response:
        self.store.edit(None, [rk], req.pairs)
        return Response()

    def refresh_item(self, req: Request, rk: str) -> Response:
        self.store.agent_refresh(rk)
        return Response()

    def rate(self, req: Request) -> Response:
        """PUT /:/rate: userRating 0-10, -1 clears.

        PMS needs `identifier` to know which provider owns `key`; plexapi always sends
        com.plexapp.plugins.library (RatingMixin.rate). Without it a real server answers
        400, and no other provider holds library items.
        """
        q = req.query
        if q.get("identifier") != LIBRARY_IDENTIFIER:
            raise BadRequestError("identifier")
        try:
            rating = float(q.get("rating", ""))
        except ValueError:
            raise BadRequestError("rating") from None
        if not (rating == -1 or 0 <= rating <= 10) or not q.get("key"):
            raise BadRequestError("rating out of range")
        self.store.rate(q["key"], rating)
        return Response()

    # -- activity -------------------------------------------------------------------

    def scrobble(self, req: Request) -> Response:
        """GET /:/scrobble?key=&identifier=: plexapi markPlayed; one history entry now."""
        if req.query.get("identifier") != LIBRARY_IDENTIFIER or not req.query.get("key"):
            raise BadRequestError("identifier")
        self.store.add_play(req.query["key"])
        return Response()

    def progress(self, req: Request) -> Response:
        """GET /:/progress?key=&identifier=&time=MS&state=: plexapi updateProgress."""
        q = req.query
        if q.get("identifier") != LIBRARY_IDENTIFIER or not q.get("key"):
            raise BadRequestError("identifier")
        try:
            offset = int(q.get("time", ""))
        except ValueError:
            raise BadRequestError("time") from None
        self.store.set_view_offset(q["key"], offset)
        return Response()

    def history(self, req: Request) -> Response:
        start, size = _paging(req)
        with self.store.lock:
            found = self.store.history.select(req.pairs)
            page = found[start:] if size is None else found[start:start + size]
            return Response(body=self.store.history.render(page, len(found), start))

    def accounts(self, req: Request) -> Response:
        with self.store.lock:
            return Response(body=self.store.history.render_accounts())

    # -- images ---------------------------------------------------------------------

    def list_images(self, req: Request, rk: str, kind: str) -> Response:
        with self.store.lock:
            return Response(body=xml.photos(self.store.item(rk), kind))

    def upload(self, req: Request, rk: str, kind: str) -> Response:
        self.store.item(rk)  # 404 before any work
        now = self.store.now()
        url = req.query.get("url")
        if url:
            image = _image_from_url(kind, url, now)
        elif req.body:
            image = image_from_bytes(kind, req.body, now)
        else:
            raise BadRequestError("upload without url or body")
        self.store.add_image(rk, kind, image)
        return Response()

    def select(self, req: Request, rk: str, kind: str) -> Response:
        url = req.query.get("url")
        if not url:
            raise BadRequestError("select without url")
        self.store.select_image(rk, kind + "s", url)
        return Response()

    def clear_image(self, req: Request, rk: str, kind: str) -> Response:
        self.store.clear_image(rk, "posters" if kind == "thumb" else "arts")
        return Response()

    def selected_bytes(self, req: Request, rk: str, kind: str) -> Response:
        with self.store.lock:
            item = self.store.item(rk)
            name = item.thumb if kind == "thumb" else item.art
            images = item.posters if kind == "thumb" else item.arts
            return _image_response(next((i for i in images if i.rating_key == name), None))

    def image_bytes(self, req: Request, rk: str) -> Response:
        name = req.query.get("url")
        with self.store.lock:
            item = self.store.item(rk)
            found = next((i for i in item.posters + item.arts if i.rating_key == name), None)
            return _image_response(found)


def _image_response(image: Optional[Image]) -> Response:
    if image is None or image.data is None:
        raise NotFoundError("image")
    kind = "image/png" if image.data.startswith(b"\x89PNG") else "image/jpeg"
    return Response(body=image.data, content_type=kind)


def _image_from_url(kind: str, url: str, now: int) -> Image:
    """Fetch loopback URLs (bounded); record others unfetched, as Plex may not reach them."""
    host = urlparse(url).hostname or ""
    if host not in _LOOPBACK:
        return Image(rating_key=url, provider="url", url=url, uploaded_at=now,
                     fetch_error="not fetched: not a loopback URL")
    try:
        with urllib.request.urlopen(url, timeout=URL_FETCH_TIMEOUT) as resp:
            data = resp.read(URL_FETCH_LIMIT + 1)
        if len(data) > URL_FETCH_LIMIT:
            raise ValueError("image larger than %d bytes" % URL_FETCH_LIMIT)
    except Exception as exc:  # any failure is recorded, as Plex logs and moves on
        return Image(rating_key=url, provider="url", url=url, uploaded_at=now,
                     fetch_error="%s: %s" % (type(exc).__name__, exc))
    image = image_from_bytes(kind, data, now)
    image.url = url
    return image


def _paging(req: Request) -> Tuple[int, Optional[int]]:
    q = req.query
    start = req.header("X-Plex-Container-Start") or q.get("X-Plex-Container-Start") or "0"
    size = req.header("X-Plex-Container-Size") or q.get("X-Plex-Container-Size")
    try:
        return max(0, int(start)), (None if size in (None, "") else max(0, int(size)))
    except ValueError:
        raise BadRequestError("bad container start/size") from None


def _split(value: Optional[str]) -> List[str]:
    return [v for v in (value or "").split(",") if v]
