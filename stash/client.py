"""Reading scenes and screenshots from Stash through stashapi.

The connection is built from the `server_connection` Stash hands every plugin (no API
key: it signs in with the session cookie, then uses the API key so a long drain outlives
the cookie's hour). stashapi's `StashInterface` would spend three requests on that at
construction, one of them a full schema introspection for fragments we never use (every
read names its fields, SCENE_FIELDS); `_Interface` asks version and API key in one, on
stashapi's GraphQL caller, once per drainer (issue 20: a cold start is what a save waits for).

stashapi reports HTTP failures as a bare `Exception("401 Unauthorized query failed…")`
after logging them itself, and its session has no timeout. This module gives the
session a timeout, routes stashapi's log to ours at debug level, and turns failures
into our error kinds from the HTTP status it records (stash/failures.py).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, Iterator, Optional, Union
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from stashapi.classes import GQLWrapper, StashVersion

from errors.kinds import ConfigError, StashUnavailable
from stash.failures import GraphQLError, from_stashapi
from validation.http_environment import EnvironmentOnce

log = logging.getLogger("stash2plex.stash")

TIMEOUT = 30.0  # seconds per Stash request; stashapi sets none, so a hung Stash would hang us
IDS_PER_REQUEST = 500
UNREACHABLE_HOSTS = ("0.0.0.0", "", "::", "[::]")

# A scene's groups and studio carry what their Plex collections show (synopsis, details,
# front/back image, as graphql/schema/types/group.graphql and studio.graphql name them):
# the collection artwork pass then needs no request of its own (worker/collection_art.py).
SCENE_FIELDS = """
    id title code details director urls date rating100 organized created_at updated_at
    files { path basename size }
    paths { screenshot }
    studio { id name details image_path parent_studio { id name } }
    performers { id name image_path }
    tags { id name }
    groups { group { id name synopsis front_image_path back_image_path } scene_index }
    stash_ids { endpoint stash_id }
"""

_FIND_SCENES = """
query Stash2PlexScenes($filter: FindFilterType, $scene_filter: SceneFilterType, $scene_ids: [Int!]) {
  findScenes(filter: $filter, scene_filter: $scene_filter, scene_ids: $scene_ids) {
    count
    scenes { %s }
  }
}
"""

_MISSING_SCENE = re.compile(r"scene with id (\d+) not found")


class _TimeoutAdapter(HTTPAdapter):
    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = TIMEOUT
        return super().send(request, **kwargs)


class _TimedSession(GQLWrapper):
    """Gives stashapi's session a default timeout before its first request, and reads the
    environment's proxies and netrc once per server (validation/http_environment.py)."""

    def __init__(self):
        super().__init__()
        session = EnvironmentOnce()
        session.headers, session.verify = self.s.headers, self.s.verify  # what stashapi set
        session.mount("http://", _TimeoutAdapter())
        session.mount("https://", _TimeoutAdapter())
        self.s.close()
        self.s = session


_CONNECT = "query Stash2PlexConnect { version { build_time hash version } configuration { general { apiKey } } }"


class _Interface(_TimedSession):
    """stashapi's GraphQL caller signed in as StashInterface(force_api_key=True) would be, in one request."""

    def __init__(self, url: str, cookie: Optional[Dict[str, str]], logger: "_QuietLog"):
        super().__init__()
        self.url, self.log, self.fragments = url, logger, {}  # what GQLWrapper's calls read
        if cookie:
            self.s.cookies.update({cookie["Name"]: cookie["Value"]})
        data = self.call_GQL(_CONNECT)
        self.version = StashVersion(data["version"])
        api_key = ((data.get("configuration") or {}).get("general") or {}).get("apiKey")
        if api_key:  # outlives the session cookie's hour
            self.s.headers.update({"ApiKey": api_key})
            self.s.cookies.clear()


class _QuietLog:
    """stashapi's logger: its errors are re-raised as ours, so it only speaks at debug."""

    def __init__(self, logger: logging.Logger):
        self._log = logger

    def _say(self, message: Any) -> None:
        self._log.debug("stashapi: %s", message)

    debug = info = warning = error = trace = progress = _say


def _host(conn: Dict[str, Any]) -> str:
    host = str(conn.get("Host") or "")
    return "127.0.0.1" if host in UNREACHABLE_HOSTS else host


def rfc3339(moment: Union[str, datetime]) -> str:
    """The timestamp form Stash stores; its timestamp filters compare as text.

    A string is sent verbatim (pass a value Stash itself returned when you have one);
    a datetime is written with seconds and its UTC offset, local time for naive ones.
    """
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:
        moment = moment.astimezone()
    if moment.utcoffset() == timezone.utc.utcoffset(None):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="seconds")


class StashReader:
    """Scene reads for the sync engine; every failure leaves as one of our error kinds."""

    def __init__(self, iface: GQLWrapper, scheme: str, host: str, port: int):
        self.iface = iface
        self.base = f"{scheme}://{host}:{port}"
        self.host = host
        self._last: Optional[requests.Response] = None
        iface.s.hooks["response"].append(self._remember)

    @classmethod
    def from_server_connection(cls, conn: Dict[str, Any], logger: Optional[logging.Logger] = None) -> "StashReader":
        """Connect as Stash told the plugin to (one request: version and API key)."""
        scheme = conn.get("Scheme") or "http"
        host, port = _host(conn), conn.get("Port") or 9999
        cookie = conn.get("SessionCookie")
        signed = None
        if isinstance(cookie, dict) and cookie.get("Value"):
            signed = {"Name": cookie.get("Name") or "session", "Value": cookie["Value"]}
        where = f"{scheme}://{host}:{port}"
        try:
            iface = _Interface(f"{where}/graphql", signed, _QuietLog(logger or log))
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise StashUnavailable(f"cannot reach Stash at {where} ({type(exc).__name__})") from exc
        except Exception as exc:
            raise from_stashapi(exc, None, where) from None
        return cls(iface, scheme, host, port)

    # -- server ----------------------------------------------------------------
    def version(self) -> str:
        """Stash's version, read when stashapi connected (no request)."""
        return str(self.iface.version)

    def plugin_settings(self, plugin_id: str) -> Dict[str, Any]:
        """The settings the user saved for the plugin ({} when never saved)."""
        data = self.call(
            "query Stash2PlexSettings($ids: [ID!]) { configuration { plugins(include: $ids) } }",
            {"ids": [plugin_id]},
        )
        plugins = (data.get("configuration") or {}).get("plugins") or {}
        found = plugins.get(plugin_id)
        return dict(found) if isinstance(found, dict) else {}

    # -- scenes ----------------------------------------------------------------
    def find_scenes(self, ids: Iterable[int], fields: str = SCENE_FIELDS) -> Dict[int, dict]:
        """Scenes by id (our fragment, or `fields`), a few hundred per request; ids Stash does not have are absent.

        Stash answers `findScenes(scene_ids:)` with the error "scene with id N not
        found" when one id is missing (its FindMany fails as a whole), so a deleted
        scene costs one more request: the id is dropped and the rest asked again.
        """
        wanted = sorted({int(i) for i in ids})
        found: Dict[int, dict] = {}
        for start in range(0, len(wanted), IDS_PER_REQUEST):
            chunk = wanted[start:start + IDS_PER_REQUEST]
            while chunk:
                try:
                    data = self.call(_FIND_SCENES % fields, {
                        "filter": {"per_page": -1}, "scene_filter": {}, "scene_ids": chunk,
                    })
                except GraphQLError as exc:
                    missing = {int(m) for m in _MISSING_SCENE.findall(str(exc))} & set(chunk)
                    if not missing:
                        raise
                    chunk = [i for i in chunk if i not in missing]
                    continue
                for scene in data["findScenes"]["scenes"]:
                    found[int(scene["id"])] = scene
                break
        return found

    def count_scenes(self, updated_since: Union[str, datetime, None] = None) -> int:
        data = self.call(_FIND_SCENES % "id", {
            "filter": {"per_page": 0}, "scene_filter": _since(updated_since),
        })
        return int(data["findScenes"]["count"])

    def iter_scene_ids(self, updated_since: Union[str, datetime, None] = None,
                       page_size: int = 1000) -> Iterator[int]:
        """Every scene id (or those updated after `updated_since`), paged by id."""
        for scene in self._pages("id", updated_since, page_size):
            yield int(scene["id"])

    def iter_scenes(self, updated_since: Union[str, datetime, None] = None,
                    page_size: int = 200) -> Iterator[dict]:
        """Full scenes (SCENE_FIELDS), paged by id, for Sync All / Sync Recent."""
        return self._pages(SCENE_FIELDS, updated_since, page_size)

    def _pages(self, fields: str, updated_since, page_size: int) -> Iterator[dict]:
        page = 1
        while True:
            data = self.call(_FIND_SCENES % fields, {
                "filter": {"page": page, "per_page": page_size, "sort": "id", "direction": "ASC"},
                "scene_filter": _since(updated_since),
            })
            scenes = data["findScenes"]["scenes"]
            yield from scenes
            if len(scenes) < page_size:
                return
            page += 1

    # -- images ----------------------------------------------------------------
    def reachable_url(self, url: str) -> str:
        """Stash builds image URLs from the host it listens on (often 0.0.0.0)."""
        parts = urlsplit(url)
        if (parts.hostname or "") in UNREACHABLE_HOSTS:
            netloc = self.host if parts.port is None else f"{self.host}:{parts.port}"
            return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        return url

    def fetch_image(self, url: str) -> Optional[bytes]:
        """The image bytes, sent with Stash's cookie or API key; None when Stash has none."""
        target = self.reachable_url(url)
        where = urlunsplit(urlsplit(target)._replace(query="", fragment=""))
        try:
            resp = self.iface.s.get(target, timeout=TIMEOUT, allow_redirects=False)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise StashUnavailable(f"cannot fetch {where} from Stash ({type(exc).__name__})") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code in (401, 403) or 300 <= resp.status_code < 400:
            raise ConfigError(f"Stash refused the plugin's image request for {where} "
                              f"({resp.status_code}): the plugin's session or API key was rejected; "
                              "re-run the task from Stash so it hands over a fresh session.")
        if resp.status_code == 429 or resp.status_code >= 500:
            raise StashUnavailable(f"Stash answered {resp.status_code} for {where}")
        if resp.status_code != 200:
            raise ConfigError(f"Stash answered {resp.status_code} for {where}")
        return resp.content

    # -- plumbing --------------------------------------------------------------
    def _remember(self, response, *args, **kwargs):
        self._last = response

    def call(self, query: str, variables: dict) -> dict:
        self._last = None
        try:
            return self.iface.call_GQL(query, variables)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise StashUnavailable(f"cannot reach Stash at {self.base} ({type(exc).__name__})") from exc
        except Exception as exc:
            raise from_stashapi(exc, self._last, self.base) from None


def _since(updated_since) -> dict:
    if updated_since is None:
        return {}
    return {"updated_at": {"value": rfc3339(updated_since), "modifier": "GREATER_THAN"}}
