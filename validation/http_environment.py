"""The environment's HTTP settings, read once per server instead of on every request.

requests honours HTTP(S)_PROXY, ALL_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE
and ~/.netrc (or NETRC) through its session's `trust_env`, by reading them again for
every request: two walks over os.environ and two or three file checks, about 0.35 ms a
request, each check letting another thread take the interpreter. A drainer sends
thousands of requests to one or two servers, and its environment does not change while
it runs, so `EnvironmentOnce` reads the same settings with requests' own functions once
per scheme and host (and per `no_proxy` a caller passes), and hands requests the answer
with `trust_env` off. What a request ends up with (proxy, CA bundle, netrc login, on
redirects too) is what requests itself would give it; tests/unit/test_http_environment.py
holds the two equal. A plain call (plain_request.py) is also prepared without requests'
general-purpose preparation, to the same PreparedRequest.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies, get_netrc_auth

from validation.plain_request import PlainPreparer

_Key = Tuple[str, str, Optional[str]]


class EnvironmentOnce(requests.Session):
    """A requests session that reads the environment's proxies, CA bundle and netrc once per server."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False  # read below, once per server, with requests' own functions
        self._found: Dict[_Key, Tuple[dict, Any]] = {}
        self._found_lock = threading.Lock()
        self._plain = PlainPreparer()

    def request(self, method, url, *args, **kwargs):
        """requests' Session.request; a plain call skips straight to sending the same PreparedRequest."""
        prep = None if args else self._plain.prepare(self, method, url, kwargs)
        if prep is None or self._environment(url)[1] is not None:  # a netrc login: requests adds it
            return super().request(method, url, *args, **kwargs)
        settings = self.merge_environment_settings(prep.url, {}, kwargs.get("stream"), kwargs.get("verify"),
                                                   kwargs.get("cert"))
        return self.send(prep, timeout=kwargs.get("timeout"), allow_redirects=kwargs.get("allow_redirects", True),
                         **settings)

    def _environment(self, url: str, no_proxy: Optional[str] = None) -> Tuple[dict, Any]:
        """(the environment's proxies for this URL, its netrc login), read once per server."""
        parts = urlsplit(url)
        key = (parts.scheme.lower(), parts.netloc.lower(), no_proxy)
        found = self._found.get(key)
        if found is None:
            found = (get_environ_proxies(url, no_proxy=no_proxy), get_netrc_auth(url))
            with self._found_lock:
                self._found[key] = found
        return found

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if not request.auth and not self.auth:
            request.auth = self._environment(request.url)[1]  # requests' netrc lookup
        return super().prepare_request(request)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        if proxies is not None:
            for name, value in self._environment(url, no_proxy)[0].items():
                proxies.setdefault(name, value)
        if verify is True or verify is None:
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)

    def rebuild_proxies(self, prepared_request, proxies):
        """A redirect: the proxies for the new URL, and its Proxy-Authorization header."""
        return super().rebuild_proxies(prepared_request, self._resolve(prepared_request.url, proxies))

    def rebuild_auth(self, prepared_request, response) -> None:
        """A redirect: the netrc login for the new host, as requests adds it."""
        super().rebuild_auth(prepared_request, response)
        login = self._environment(prepared_request.url)[1]
        if login is not None:
            prepared_request.prepare_auth(login)

    def send(self, request, **kwargs):
        if "proxies" not in kwargs:  # a caller that prepared the request itself
            kwargs["proxies"] = self._resolve(request.url, self.proxies)
        return super().send(request, **kwargs)

    def _resolve(self, url: str, proxies: Optional[dict]) -> dict:
        """`proxies` with the environment's proxy for this URL added, as requests' resolve_proxies does."""
        resolved = dict(proxies) if proxies is not None else {}
        found = self._environment(url, resolved.get("no_proxy"))[0]
        scheme = urlsplit(url).scheme
        proxy = found.get(scheme, found.get("all"))
        if proxy:
            resolved.setdefault(scheme, proxy)
        return resolved
