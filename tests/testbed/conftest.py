"""Fixtures for the emulated servers."""
from __future__ import annotations

import pytest

# ---- Plex emulator fixtures (testbed/plex) -----------------------------------------
import requests
from plexapi.server import PlexServer

from testbed.plex import PlexEmulator
from tests.testbed.conftest_stash import running

PLEX_TOKEN = "plex-test-token"
PLEX_SECTION_PATH = "/data/movies"


@pytest.fixture
def plex_server():
    """A running Plex emulator with one empty movie section (id 1 at /data/movies)."""
    emu = PlexEmulator(token=PLEX_TOKEN)
    emu.add_section("Movies", locations=[PLEX_SECTION_PATH])
    yield from running(emu)


@pytest.fixture
def plex_client(plex_server):
    """A real plexapi PlexServer connected to `plex_server` (5 s timeout, own session)."""
    session = requests.Session()
    try:
        yield PlexServer(plex_server.url, PLEX_TOKEN, session=session, timeout=5)
    finally:
        session.close()
# ---- end of Plex emulator fixtures --------------------------------------------------


# ---- Stash emulator fixtures (testbed/stash; defined in conftest_stash.py) ----------
from tests.testbed.conftest_stash import (  # noqa: E402,F401
    plugin_data_dir, sample_plugin, stash_auth_emu, stash_emu)
# ---- end of Stash emulator fixtures -------------------------------------------------
