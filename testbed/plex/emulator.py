"""PlexEmulator: the test-facing handle on one emulated Plex Media Server.

    with PlexEmulator(token="T") as emu:
        sid = emu.add_section("Movies", locations=["/data/movies"])
        rk = emu.add_movie(sid, "/data/movies/a.mp4", summary="…", genres=["A"])
        plex = PlexServer(emu.url, "T")
        ...
        emu.item(rk)["locked"]

Section ids and ratingKeys are ints (the API also accepts their string forms).
"""
from __future__ import annotations

import ssl
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from testbed.faults import Faults
from testbed.loopback import LOOPBACK, LoopbackServer
from testbed.plex import app as plex_app
from testbed.plex import seed as seeding
from testbed.plex.control import Control
from testbed.plex.routes import PlexRoutes
from testbed.plex.store import Store
from testbed.plex.tls import server_context

DRAIN_DEADLINE = 5.0


class PlexEmulator:
    def __init__(self, token: str = "T", port: int = 0, machine_id: Optional[str] = None,
                 friendly_name: str = "Testbed Plex",
                 clock: Callable[[], float] = time.time) -> None:
        self.machine_id = machine_id or uuid.uuid4().hex
        self.store = Store(clock)
        self.faults = Faults()
        self.routes = PlexRoutes(self.store, self.machine_id, friendly_name)
        self.app = plex_app.PlexApp(self.routes, token, self.faults, control=Control(self))
        self._listener = self._server_on(port)
        self._tls_listener: Optional[LoopbackServer] = None
        self._seeded = 0

    # -- lifecycle ----------------------------------------------------------------

    def _server_on(self, port: int, tls: Optional[ssl.SSLContext] = None) -> LoopbackServer:
        return LoopbackServer(self.app, port, name="plex-emulator", software=plex_app.SOFTWARE,
                              headers=plex_app.HEADERS, idle_timeout=plex_app.IDLE_TIMEOUT,
                              tls=tls)

    def start(self) -> "PlexEmulator":
        self.faults.rearm()
        self._listener.start()
        return self

    def stop(self) -> None:
        """Release held responses, close the socket and every connection, then wait."""
        self.faults.release()
        listeners = [l for l in (self._listener, self._tls_listener) if l is not None]
        for listener in listeners:
            listener.stop()
        deadline = time.monotonic() + DRAIN_DEADLINE
        while any(l.open_connections for l in listeners) and time.monotonic() < deadline:
            time.sleep(0.01)

    def __enter__(self) -> "PlexEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def url(self) -> str:
        return "http://%s:%d" % (LOOPBACK, self._listener.port)

    def serve_tls(self, cert_path: str, key_path: str, port: int = 0) -> str:
        """Also answer https on a second port, with this certificate; returns its URL.

        The same server (library, token, faults, request log) behind both ports, as a
        PMS with "secure connections" enabled or a reverse proxy in front of it.
        """
        if self._tls_listener is None:
            self._tls_listener = self._server_on(port, tls=server_context(cert_path, key_path))
        self._tls_listener.start()
        return self.tls_url

    @property
    def tls_url(self) -> Optional[str]:
        if self._tls_listener is None:
            return None
        return "https://%s:%d" % (LOOPBACK, self._tls_listener.port)

    def go_down(self) -> None:
        """Stop listening and drop open connections: clients get 'connection refused'.
        Held (hung or delayed) responses are let go, as a dead server holds nothing."""
        self.faults.release()
        self._listener.stop()
        if self._tls_listener is not None:
            self._tls_listener.stop()

    def come_up(self) -> None:
        """Listen again on the same port (ports)."""
        self.faults.rearm()
        self._listener.start()
        if self._tls_listener is not None:
            self._tls_listener.start()

    @property
    def open_connections(self) -> int:
        """Client connections currently open (idle keep-alive ones included)."""
        return self._listener.open_connections

    @property
    def is_up(self) -> bool:
        return self._listener.is_up

    @property
    def token(self) -> str:
        return self.app.token

    def rotate_token(self, new_token: str) -> None:
        """From now on only `new_token` is accepted (the old one gets 401)."""
        self.app.token = new_token

    # -- library setup --------------------------------------------------------------

    def add_section(self, title: str = "Movies", type: str = "movie",
                    locations: Optional[List[str]] = None,
                    agent: str = "tv.plex.agents.none", scanner: Optional[str] = None,
                    language: str = "xn") -> int:
        if type != "movie":
            raise ValueError("only movie sections are emulated")
        return self.store.add_section(title, type, list(locations or ["/data/movies"]),
                                      agent, scanner, language)

    def add_movie(self, section_id: Any, file_path: str, title: Optional[str] = None,
                  **fields: Any) -> int:
        """Add an already-scanned movie. parts=[...] adds more files to it (one Media with
        several Parts; media=[1, 1] splits them into several Media, i.e. versions);
        claim_again=True lets it hold a file another item holds already. Tag lists: genres, actors (names, or
        (name, role) pairs), directors, writers, countries, producers, collections,
        labels. Other fields: summary, studio, year, originallyAvailableAt, tagline,
        titleSort, originalTitle, contentRating, userRating, addedAt, locked=[...]."""
        return self.store.add_movie(section_id, file_path, title, **fields)

    def delete_item(self, rating_key: Any, keep_files: bool = True) -> List[str]:
        """Delete an item (trash emptied); with keep_files its files stay on disk, so
        the next scan adds them back under a new ratingKey. Returns its files."""
        return self.store.delete_item(rating_key, keep_files=keep_files)

    def rename_section(self, section_id: Any, title: str) -> None:
        """Rename a library, as Plex's Edit Library dialog does (its id stays)."""
        self.store.rename_section(section_id, title)

    def stage_file(self, section_id: Any, file_path: str, **fields: Any) -> None:
        """Put a file 'on disk': it becomes an item when a scan covering it runs."""
        self.store.stage_file(section_id, file_path, **fields)

    def scan(self, section_id: Any = None, path: Optional[str] = None) -> None:
        """What GET /library/sections/{id}/refresh[?path=] does."""
        self.store.request_scan(section_id, path)

    @property
    def scan_delay(self) -> float:
        return self.store.scan_delay

    @scan_delay.setter
    def scan_delay(self, seconds: float) -> None:
        """Import scanned files this long after the scan request, like a busy server."""
        self.store.scan_delay = float(seconds)

    def set_agent_metadata(self, section_id: Any, **fields: Any) -> None:
        """What the section's agent supplies on refresh (genres=[...], summary=...)."""
        self.store.set_agent_metadata(section_id, **fields)

    def seed(self, n: int, section_id: Any = None, seed: int = 7) -> List[int]:
        """Add `n` realistic movies in one go; returns their ratingKeys."""
        if section_id is None:
            movie_sections = [s.id for s in self.store.sections.values() if s.type == "movie"]
            section_id = movie_sections[0] if movie_sections else self.add_section()
        root = self.store.section(section_id).locations[0]
        rows = seeding.movies(n, root=root, seed=seed, start=self._seeded)
        self._seeded += n
        return self.store.add_many(section_id, rows)

    # -- what people do in Plex -------------------------------------------------------

    def add_account(self, name: str) -> int:
        """Another local account (a managed or shared user); returns its accountID."""
        with self.store.lock:
            return self.store.history.add_account(name)

    def add_play(self, rating_key: Any, viewed_at: Optional[int] = None, account_id: int = 1,
                 device_id: int = 1) -> int:
        """A finished play at `viewed_at` (epoch s, default now) by `account_id` (1: the owner)."""
        return self.store.add_play(rating_key, viewed_at, account_id, device_id)

    def set_view_offset(self, rating_key: Any, offset_ms: Optional[int]) -> None:
        """The owner stopped `offset_ms` into the item (None: not in progress)."""
        self.store.set_view_offset(rating_key, offset_ms)

    def rate(self, rating_key: Any, rating: float) -> None:
        """A user rating set in Plex (0-10; -1 clears), as /:/rate does."""
        self.store.rate(rating_key, rating)

    # -- reading back ---------------------------------------------------------------

    def item(self, rating_key: Any) -> Dict[str, Any]:
        """A snapshot of the stored item (fields, tag lists, locked set, images)."""
        with self.store.lock:
            return self.store.item(rating_key).snapshot()

    def collection(self, section_id: Any, title: str) -> Optional[Dict[str, Any]]:
        """A snapshot of the section's collection (title, summary, locked, images), or None.

        `poster_sha256` / `art_sha256`: the selected image's bytes, as a client showing
        the collection would fetch them.
        """
        with self.store.lock:
            found = self.store.collection(section_id, title)
            if found is None:
                return None
            snap = self.store.collection_objects.snapshot(found)
        for kind, images in (("poster", snap["posters"]), ("art", snap["arts"])):
            snap[kind + "_sha256"] = next((i["sha256"] for i in images if i["selected"]), None)
        return snap

    def selected_image_bytes(self, rating_key: Any, kind: str = "thumb") -> Optional[bytes]:
        """The bytes of the selected poster ("thumb") or background ("art") of an item."""
        with self.store.lock:
            item = self.store.item(rating_key)
            name = item.thumb if kind == "thumb" else item.art
            images = item.posters if kind == "thumb" else item.arts
            return next((i.data for i in images if i.rating_key == name), None)

    def find_by_file(self, path: str) -> Optional[int]:
        return self.store.find_by_file(path)

    def agent_refresh(self, rating_key: Any) -> None:
        """What PUT /library/metadata/{rk}/refresh does: unlocked fields revert."""
        self.store.agent_refresh(rating_key)

    @property
    def requests(self) -> List[Dict[str, Any]]:
        return self.app.log.entries()

    def count(self, method: Optional[str] = None, path_prefix: Optional[str] = None) -> int:
        return self.app.log.count(method, path_prefix)

    def reset_log(self) -> None:
        self.app.log.reset()

    def state(self) -> Dict[str, Any]:
        with self.store.lock:
            sections = [{"id": s.id, "title": s.title, "locations": s.locations,
                         "items": sum(1 for i in self.store.items.values()
                                      if i.section_id == s.id),
                         "staged": sorted(self.store.staged.get(s.id, {}))}
                        for s in self.store.sections.values()]
        return {"url": self.url, "up": self.is_up, "sections": sections,
                "items": len(self.store.items), "requests": self.count(),
                "faults": self.faults.snapshot()}
