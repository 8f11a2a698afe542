"""A plain call is prepared to exactly the request requests itself would prepare.

`PlainPreparer` (validation/plain_request.py) skips requests' general-purpose
preparation for the drainer's plain calls. Held here against requests' own
`prepare_url` / `prepare_request`, URL by URL (realistic ones and thousands of random
ones with every character that requests rewrites) and field by field; and the
drainer's sessions are shown to take the short way, and requests' own when a call is
not plain.
"""

from __future__ import annotations

import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from requests.models import PreparedRequest

from plex.tls import PlexSession
from validation.http_environment import EnvironmentOnce
from validation.plain_request import PlainPreparer

# What plexapi and the plugin send: an edit with tag lists, a poster, a rating, a multi-get, a Stash image.
REALISTIC = (
    "http://127.0.0.1:32400/library/sections/1/all?type=1&id=5&title.value=K%C5%8Dji%20%26%20Co"
    "&title.locked=1&genre%5B0%5D.tag.tag=Drama&collection[0].tag.tag=Crimson%20Parade&collection.locked=1",
    "http://127.0.0.1:32400/library/metadata/5/posters",
    "http://plex.lan:32400/:/rate?key=5&identifier=com.plexapp.plugins.library&rating=8.0",
    "https://192-168-1-5.abcdef.plex.direct:32400/library/metadata/1,2,3?includeGuids=1",
    "http://stash:9999/scene/12/screenshot?t=1700000000",
    "http://localhost:9999/graphql",
)
NOT_PLAIN = (
    "HTTP://plex.lan:32400/x", "http://PLEX.lan:32400/x", "http://plex.lan:032400/x", "http://plex.lan/a/../b",
    "http://plex.lan/a/./b", "http://plex.lan/%41", "http://plex.lan/%2e", "http://plex.lan/%zz", "http://plex.lan/a b",
    "http://plex.lan/é", "http://plex.lan", "http://plex.lan/x?", "http://plex.lan/x#frag", "http://u:p@plex.lan/x",
    "http://plex.lan/x%5b", "http://plex.lan/[x]", " http://plex.lan/x", "ftp://plex.lan/x",
)
# Everything requests' parsing and requoting treats specially, and what it passes through.
ALPHABET = list("aZ09-._~!$&'()*+,;=:@/?[]# %é\"<>\\^`{|}") + ["%41", "%2E", "%2F", "%5B", "%c3", "%C3", "%7E", "%",
                                                                 "/./", "/../", "%20", "%3D"]


def _requests_url(url: str) -> str:
    prep = PreparedRequest()
    prep.prepare_url(url, None)
    return prep.url


@pytest.mark.parametrize("url", REALISTIC)
def test_realistic_urls_are_plain_and_prepared_as_requests_prepares_them(url):
    assert PlainPreparer().url(url) == _requests_url(url)


@pytest.mark.parametrize("url", NOT_PLAIN)
def test_urls_requests_would_rewrite_take_requests_own_way(url):
    assert PlainPreparer().url(url) is None


def test_random_urls_are_either_left_to_requests_or_prepared_identically():
    rng = random.Random(20261206)
    preparer, plain = PlainPreparer(), 0
    for _ in range(6000):
        origin = rng.choice(("http://plex.lan:32400", "https://127.0.0.1:9999", "http://Stash", "http://h:0"))
        path = "/" + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))
        query = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))
        url = origin + path + ("?" + query if rng.random() < 0.7 else "")
        try:
            expected = _requests_url(url)
        except requests.exceptions.RequestException:
            expected = None
        mine = preparer.url(url)
        if mine is not None:
            plain += 1
            assert mine == expected, url
    assert plain > 150  # the random walk reaches the plain case often enough to mean something


def _session() -> EnvironmentOnce:
    session = EnvironmentOnce()
    session.headers.update({"X-Plex-Token": "t0k", "Accept": "application/json", "X-Drop": "gone"})
    session.hooks["response"].append(lambda response, *args, **kwargs: None)
    return session


@pytest.mark.parametrize("method, data, headers", [
    ("GET", None, None),
    ("PUT", None, {"X-Plex-Token": "other"}),
    ("POST", b"\x89PNG bytes", {"Content-Type": "image/png", "X-Drop": None}),
    ("get", None, {"Accept": None}),
])
def test_a_plain_call_is_prepared_field_by_field_as_requests_prepares_it(method, data, headers):
    session = _session()
    url = REALISTIC[0]
    theirs = session.prepare_request(requests.Request(method.upper(), url, data=data or {}, headers=headers))
    mine = PlainPreparer().prepare(session, method, url, {"data": data, "headers": headers, "timeout": 5})
    assert (mine.method, mine.url, dict(mine.headers), mine.body) == \
        (theirs.method, theirs.url, dict(theirs.headers), theirs.body)
    assert mine.hooks == theirs.hooks and "Cookie" not in mine.headers and len(mine._cookies) == 0


@pytest.mark.parametrize("kwargs", [{"params": {"a": "1"}}, {"json": {}}, {"files": {"f": b"x"}},
                                    {"auth": ("u", "p")}, {"cookies": {"c": "1"}}, {"data": {"form": "1"}},
                                    {"proxies": {"http": "http://proxy.lan:3128"}}, {"hooks": {"response": []}}])
def test_calls_that_are_not_plain_are_left_to_requests(kwargs):
    assert PlainPreparer().prepare(_session(), "PUT", REALISTIC[1], kwargs) is None


def test_a_session_with_auth_or_params_is_left_to_requests():
    with_auth, with_params = _session(), _session()
    with_auth.auth = ("u", "p")
    with_params.params = {"a": "1"}
    for session in (with_auth, with_params):
        assert PlainPreparer().prepare(session, "GET", REALISTIC[1], {}) is None


def test_the_session_cookie_is_sent_as_requests_sends_it():
    session = _session()
    session.cookies.update({"session": "abc"})  # as stash/client.py signs in: any host
    session.cookies.set("elsewhere", "no", domain="other.example", path="/")
    url = REALISTIC[4]
    theirs = session.prepare_request(requests.Request("GET", url, data={}))
    mine = PlainPreparer().prepare(session, "GET", url, {"timeout": 5, "allow_redirects": False})
    assert mine.headers["Cookie"] == theirs.headers["Cookie"] == "session=abc"
    assert sorted(c.name for c in mine._cookies) == sorted(c.name for c in theirs._cookies)
    assert mine._cookies is not session.cookies  # a copy, as requests makes


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = f"{self.command} {self.path} {self.headers.get('Authorization')} {len(body)}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(seen)))
        self.end_headers()
        self.wfile.write(seen)

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def echo():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_plex_session_sends_plain_calls_the_short_way_and_others_requests_way(echo, monkeypatch):
    prepared = []
    stock = requests.Session.prepare_request
    monkeypatch.setattr(requests.Session, "prepare_request",
                        lambda self, request: prepared.append(request.url) or stock(self, request))
    session = PlexSession()
    put = session.put(f"{echo}/library/sections/1/all?genre[0].tag.tag=A%20B", timeout=5)
    post = session.post(f"{echo}/library/metadata/5/posters", data=b"12345", timeout=5)
    with_params = session.get(f"{echo}/library/sections", params={"type": "1"}, timeout=5)
    assert put.text == "PUT /library/sections/1/all?genre%5B0%5D.tag.tag=A%20B None 0"
    assert post.text == "POST /library/metadata/5/posters None 5"
    assert with_params.text == "GET /library/sections?type=1 None 0"
    assert prepared == [f"{echo}/library/sections"]  # only the call with params went requests' way


def test_a_netrc_login_still_reaches_the_server(echo, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n", encoding="utf-8")
    monkeypatch.setenv("NETRC", str(netrc))
    answer = PlexSession().get(f"{echo}/identity", timeout=5)
    assert answer.text.startswith("GET /identity Basic ")
