"""Connecting to Plex Media Server and choosing the libraries to sync.

One requests.Session per drainer (plexapi reuses its connections), the settings'
timeout on every call, and one X-Plex-Client-Identifier kept in the database: Plex
lists every new identifier as a new device under Settings → Devices.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import List, Optional
from urllib.parse import urlsplit, urlunsplit
from xml.etree.ElementTree import ParseError

import plexapi
import requests
from plexapi.config import reset_base_headers
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer

from plex import tls
from errors.kinds import ConfigError, TransientError

PRODUCT = "Stash2Plex"
IDENTIFIER_KEY = "plex_client_identifier"
SETTINGS_PAGE = "Settings → Plugins → Stash2Plex"


def client_identifier(conn: sqlite3.Connection) -> str:
    """The identifier this installation shows Plex, created once and kept in `meta`.

    Stored as JSON text, like every other `meta` value.
    """
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (IDENTIFIER_KEY,)).fetchone()
    if row and row[0]:
        return json.loads(row[0])
    ident = f"stash2plex-{uuid.uuid4()}"
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (IDENTIFIER_KEY, json.dumps(ident)))
    if conn.in_transaction:
        conn.commit()
    return json.loads(conn.execute("SELECT value FROM meta WHERE key = ?", (IDENTIFIER_KEY,)).fetchone()[0])


def _use_identity(ident: str) -> None:
    """Make plexapi send our identifier and product name.

    plexapi builds its request headers from the module-level BASE_HEADERS dict (read
    once from its config file); server.py holds the same dict object, so it is updated
    in place.
    """
    plexapi.X_PLEX_IDENTIFIER = ident
    plexapi.X_PLEX_PRODUCT = PRODUCT
    plexapi.BASE_HEADERS.update(reset_base_headers())


def safe_url(url: str) -> str:
    """The URL without query or credentials, fit for a message (a pasted token stays out)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def connect(settings, conn: sqlite3.Connection, session: Optional[requests.Session] = None) -> PlexServer:
    """A PlexServer for the configured URL; errors name the setting to fix.

    `conn` is the plugin's database, where the client identifier is kept; `session`
    defaults to a new one, which the returned server keeps for every later request.
    """
    settings.require_plex()
    _use_identity(client_identifier(conn))
    session = tls.apply_verify(session or tls.PlexSession(), settings)
    if isinstance(session, tls.PlexSession):
        session.limit_in_flight(settings.plex_concurrency)
    return _open_server(settings, session)


def _open_server(settings, session: requests.Session) -> PlexServer:
    """Plex's identity request, every failure turned into the error kind that names the fix.

    Connection refused or a timeout is transient (Plex restarting); a rejected token,
    something that is not Plex at that address, an untrusted https certificate or https
    to a plain-http port is a configuration error.
    """
    where = safe_url(settings.plex_url)
    try:
        return PlexServer(settings.plex_url, settings.plex_token, session=session,
                          timeout=settings.plex_timeout)
    except Unauthorized:
        raise ConfigError(
            f"Plex at {where} rejected the token (401): copy a current token into "
            f"plex_token on {SETTINGS_PAGE} (README: 'Finding your Plex token')."
        ) from None
    except (NotFound, BadRequest) as exc:
        raise _identity_refused(exc, where) from None
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL) as exc:
        raise ConfigError(f"plex_url {where!r} is not a usable URL ({type(exc).__name__}); "
                          f"fix it on {SETTINGS_PAGE}.") from None
    except requests.exceptions.SSLError as exc:  # before ConnectionError: it is a subclass
        problem = tls.tls_problem(exc)
        if problem is None:
            raise TransientError(f"the https handshake with Plex at {where} failed ({exc.__class__.__name__}); "
                                 f"will retry") from exc
        raise ConfigError(tls.tls_message(problem, where, exc, settings.plex_ca_bundle)) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise TransientError(
            f"cannot reach Plex at {where} ({type(exc).__name__}); check that Plex is "
            f"running and plex_url is right"
        ) from exc
    except ParseError:  # an HTML page or garbage instead of Plex's XML
        raise ConfigError(f"The server at {where} is not Plex Media Server (its answer is "
                          f"not Plex XML): check plex_url on {SETTINGS_PAGE}.") from None


def _identity_refused(exc: Exception, where: str) -> Exception:
    """An HTTP error status for the identity request: Plex busy (retry), or not Plex's address."""
    status = str(exc)[:5]
    if status.startswith(("(5", "(429")):
        return TransientError(f"Plex at {where} answered {status.strip('(')}; will retry")
    return ConfigError(
        f"The server at {where} answered {status.strip('()')} to Plex's identity request: "
        f"check plex_url on {SETTINGS_PAGE} (usually http://HOST:32400)."
    )


# Settings that decide which server is reached and how: a change means a new connection.
CONNECTION_SETTINGS = ("plex_url", "plex_token", "plex_timeout", "libraries")


def connection_changed(old, new) -> bool:
    return any(getattr(old, name) != getattr(new, name) for name in CONNECTION_SETTINGS)


def resolve_sections(server: PlexServer, settings) -> List:
    """The movie libraries to sync: those named in plex_library, or every movie library."""
    sections = server.library.sections()
    movies = [s for s in sections if s.type == "movie"]
    wanted = settings.libraries
    if not wanted:
        if not movies:
            raise ConfigError("Plex has no movie library; Stash2Plex syncs scenes into movie "
                              "libraries (agent: Personal Media).")
        return movies
    by_name = {}
    for section in sections:
        by_name.setdefault(section.title.strip().casefold(), []).append(section)
    chosen = []
    for name in wanted:
        found = by_name.get(name.casefold(), [])
        if not found:
            names = ", ".join(sorted(s.title for s in movies)) or "none"
            raise ConfigError(f"plex_library names {name!r}, which Plex does not have; movie "
                              f"libraries on this server: {names}. Fix it on {SETTINGS_PAGE}.")
        usable = [s for s in found if s.type == "movie"]
        if not usable:
            raise ConfigError(f"Plex library {name!r} is a {found[0].type} library; Stash2Plex "
                              f"needs movie libraries.")
        chosen.extend(s for s in usable if s not in chosen)
    return chosen
