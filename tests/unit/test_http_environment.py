"""The drainer's sessions read the environment's HTTP settings once, and still honour them.

`EnvironmentOnce` (validation/http_environment.py) turns requests' `trust_env` off and
reads HTTP(S)_PROXY, ALL_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and netrc
itself, once per server. What each request gets must be what a stock requests session
gives it: compared here setting by setting, and shown with a real proxy on loopback.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from plex.tls import PlexSession
from stash.client import _TimedSession
from validation.http_environment import EnvironmentOnce

_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
              "NETRC")
URLS = ("http://plex.lan:32400/library/sections", "https://plex.lan:32400/identity",
        "http://127.0.0.1:9999/graphql", "http://stash.home/scene/1/screenshot?t=1",
        "https://other.example.org/x")
ENVIRONMENTS = {
    "nothing set": {},
    "http proxy": {"HTTP_PROXY": "http://proxy.lan:3128"},
    "both, one host exempt": {"HTTP_PROXY": "http://proxy.lan:3128", "HTTPS_PROXY": "http://tls-proxy.lan:3129",
                              "NO_PROXY": "plex.lan,127.0.0.1"},
    "all proxy, a domain exempt": {"ALL_PROXY": "socks5://proxy.lan:1080", "NO_PROXY": ".example.org"},
    "everything exempt": {"HTTP_PROXY": "http://proxy.lan:3128", "NO_PROXY": "*"},
    "ca bundle": {"REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem"},
    "curl ca bundle": {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem", "HTTPS_PROXY": "http://proxy.lan:3128"},
}


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """Set one of ENVIRONMENTS (every other variable cleared), with a netrc file for plex.lan."""
    def apply(values):
        for name in _VARIABLES:
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.lower(), raising=False)
        netrc = tmp_path / "netrc"
        netrc.write_text("machine plex.lan login alice password s3cret\n", encoding="utf-8")
        monkeypatch.setenv("NETRC", str(netrc))
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    return apply


def _settings(session: requests.Session, url: str, **request) -> tuple:
    """What a request to `url` gets: proxies, verify, and the Authorization header."""
    proxies = dict(request.get("proxies") or {})
    merged = session.merge_environment_settings(url, proxies, None, request.get("verify"), None)
    prepared = session.prepare_request(requests.Request("GET", url))
    return merged, prepared.headers.get("Authorization")


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
@pytest.mark.parametrize("url", URLS)
def test_each_request_gets_what_a_stock_session_gives_it(environment, name, url):
    environment(ENVIRONMENTS[name])
    stock, ours = requests.Session(), EnvironmentOnce()
    for _ in range(2):  # the second time from what was read once
        assert _settings(ours, url) == _settings(stock, url)
        assert (_settings(ours, url)[1] or "").startswith("Basic ") == ("plex.lan" in url)  # netrc read
        assert _settings(ours, url, verify=False) == _settings(stock, url, verify=False)
        assert (_settings(ours, url, proxies={"no_proxy": "lan"})
                == _settings(stock, url, proxies={"no_proxy": "lan"}))


def test_plex_keeps_its_own_ca_bundle_over_the_environment(environment):
    environment(ENVIRONMENTS["ca bundle"])
    session = PlexSession()
    session.verify = "/config/plex.pem"
    merged, _ = _settings(session, URLS[1])
    assert merged["verify"] == "/config/plex.pem"


def test_the_drainer_sessions_read_the_environment_once():
    assert isinstance(PlexSession(), EnvironmentOnce)
    stash = _TimedSession()  # what the Stash reader's stashapi interface is built on
    assert isinstance(stash.s, EnvironmentOnce)
    assert stash.s.headers["Content-Type"] == "application/json"  # stashapi's headers kept


class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.seen.append(self.path)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback():
    """A small HTTP server on loopback that records the request target of every GET."""
    servers = []

    def start():
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.seen = []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_requests_go_through_the_proxy_unless_exempt(environment, loopback):
    proxy, plex = loopback(), loopback()
    plex_url = f"http://127.0.0.1:{plex.server_address[1]}/identity"
    environment({"HTTP_PROXY": f"http://127.0.0.1:{proxy.server_address[1]}"})
    session = PlexSession()
    for _ in range(2):
        assert session.get("http://plex.invalid:32400/identity", timeout=5).text == "ok"
    assert proxy.seen == ["http://plex.invalid:32400/identity"] * 2  # absolute form: a proxy request

    environment({"HTTP_PROXY": f"http://127.0.0.1:{proxy.server_address[1]}", "NO_PROXY": "127.0.0.1"})
    session = PlexSession()
    assert session.get(plex_url, timeout=5).text == "ok"
    assert plex.seen == ["/identity"] and len(proxy.seen) == 2
