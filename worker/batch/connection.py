"""The Plex server and the configured libraries, reached only when a batch needs them.

A batch whose scenes are all unchanged sends Plex nothing, so the connection is made
for the first scene that needs a write, and checked to be the server our records are
about. Libraries are looked up by name in Plex again after SECTIONS_TTL (one request),
so a library renamed in Plex stops receiving edits under its old name within a minute.
Deciding that nothing needs writing uses the sections of the path index instead.
"""

from __future__ import annotations

from typing import Callable, Optional

from plex.client import resolve_sections
from plex.index import PathIndex
from worker.identity import check_server

SECTIONS_TTL = 60.0


class PlexConnection:
    """One per SceneSyncer: the connection and the sections outlive a batch."""

    def __init__(self, settings, plex_connect: Callable[[], object], conn, index: PathIndex,
                 clock: Callable[[], float]):
        self.settings = settings
        self.plex_connect = plex_connect
        self.conn = conn
        self.index = index
        self.clock = clock
        self._server = None
        self._sections = None
        self._sections_at = 0.0

    def server(self):
        if self._server is None:
            server = self.plex_connect()
            check_server(self.conn, server, self.clock)  # another server: its keys are not ours
            self._server = server
        return self._server

    def sections(self) -> list:
        """The configured libraries as Plex names them now (cached for SECTIONS_TTL)."""
        if self._sections is None or self.clock() - self._sections_at >= SECTIONS_TTL:
            self._sections = resolve_sections(self.server(), self.settings)
            self._sections_at = self.clock()
        return self._sections

    def indexed_section_ids(self) -> Optional[set]:
        """Sections to look up unchanged scenes in, from the index (no request).

        Only deciding that nothing needs writing uses this; every write goes through
        `sections()`, which asks Plex.
        """
        if self._sections is not None:
            return {str(s.key) for s in self._sections}
        built = self.index.built_sections()
        wanted = {n.casefold() for n in self.settings.libraries}
        ids = {sid for sid, info in built.items() if not wanted or (info["title"] or "").casefold() in wanted}
        if ids and (not wanted or len({built[i]["title"].casefold() for i in ids}) == len(wanted)):
            return ids
        return None  # not every configured library is indexed yet: ask Plex
