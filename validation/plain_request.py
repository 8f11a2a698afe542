"""A plain request prepared without requests' general-purpose preparation, to the same result.

A first sync is bound by the drainer's CPU, and most of it goes to the HTTP client:
for each of a scene's four requests, requests re-parses and re-encodes the URL twice
(for a Plex edit, a URL of about a kilobyte, byte by byte), merges settings and builds
a Request before it builds the PreparedRequest it sends. The drainer's requests are
nearly always plain: a URL that plexapi or the plugin already encoded, no params,
files, auth, cookies or proxies of its own, a body of bytes or none.

`PlainPreparer` builds that PreparedRequest directly, with requests' own methods for
headers, cookies, body and hooks, and only when requests' own preparation would give
the same request: a URL that its parsing and requoting leave as it is (apart from
`[`/`]` in a query, which it always escapes, and so does this), a scheme and host that
requests itself left unchanged (checked once per server). Anything else returns None and takes
requests' own path. Sending is unchanged: Session.send, the adapter, redirects, hooks,
timeouts and errors are requests' own. tests/unit/test_plain_request.py holds the two
equal, URL by URL and field by field.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from requests.cookies import RequestsCookieJar, merge_cookies
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict

# A percent escape requests would keep: upper-case hex, not an unreserved character
# (requests' requote turns %41 into A and %2E into ".").
_ESCAPE = r"%(?!3[0-9]|4[1-9A-F]|5[0-9AF]|6[1-9A-F]|7[0-9AE]|2[DE])[0-9A-F]{2}"
_PATH = r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|" + _ESCAPE + r")*"
_QUERY = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?\[\]]|" + _ESCAPE + r")+"  # "x?" is sent as "x"
_PLAIN_URL = re.compile(r"(https?://[^/?#\[\]@\s]+)(" + _PATH + r")(?:\?" + _QUERY + r")?")

# Session.request arguments a plain call may carry: the rest must be left out or None.
_PLAIN_ARGUMENTS = frozenset({"data", "headers", "timeout", "allow_redirects", "stream", "verify", "cert"})


class PlainPreparer:
    """Prepares the plain requests of one session; remembers which servers' URLs requests leaves alone."""

    def __init__(self) -> None:
        self._origins: Dict[str, bool] = {}

    def url(self, url: str) -> Optional[str]:
        """The URL requests would send for `url`, when it can be told without parsing it again; else None."""
        found = _PLAIN_URL.fullmatch(url)
        if found is None or _has_dot_segment(found.group(2)):
            return None
        origin = found.group(1)
        plain = self._origins.get(origin)
        if plain is None:
            plain = self._origins[origin] = _prepared_url(origin + "/") == origin + "/"
        if not plain:
            return None
        return url.replace("[", "%5B").replace("]", "%5D")

    def prepare(self, session, method: str, url: str, kwargs: Dict[str, Any]) -> Optional[PreparedRequest]:
        """What `session.prepare_request` would build for `session.request(method, url, **kwargs)`.

        None when the call is not plain: an argument other than data, headers and the
        send settings, a body other than bytes, a session with auth or params.
        """
        if any(value is not None for name, value in kwargs.items() if name not in _PLAIN_ARGUMENTS):
            return None
        data = kwargs.get("data")
        if not (data is None or isinstance(data, bytes)) or not isinstance(url, str):
            return None
        if session.auth or session.params:
            return None
        sent_url = self.url(url)
        if sent_url is None:
            return None
        headers = CaseInsensitiveDict(session.headers)
        headers.update(kwargs.get("headers") or {})
        for name in [name for name, value in headers.items() if value is None]:
            del headers[name]
        prep = PreparedRequest()
        prep.prepare_method(method)
        prep.url = sent_url
        prep.prepare_headers(headers)
        prep.prepare_cookies(merge_cookies(RequestsCookieJar(), session.cookies))  # a copy, as requests makes
        prep.prepare_body(data or {}, None, None)
        prep.prepare_hooks(session.hooks)
        return prep


def _has_dot_segment(path: str) -> bool:
    """True when the path has a "." or ".." segment, which requests would remove."""
    return any(segment in (".", "..") for segment in path.split("/"))


def _prepared_url(url: str) -> str:
    prep = PreparedRequest()
    try:
        prep.prepare_url(url, None)
    except Exception:  # noqa: BLE001 - requests' own path reports it to the caller
        return ""
    return prep.url
