"""The Plex emulator over https with a self-signed certificate, driven by real plexapi.

What a user with `https://` in plex_url meets: a certificate no system trust store
knows (accepted once its file is the CA bundle, or with verification off), and a
plain-http port that answers a TLS hello with http.
"""
from __future__ import annotations

import pytest
import requests
from plexapi.server import PlexServer

from testbed.plex import PlexEmulator
from testbed.plex.tls import self_signed_cert

from .conftest import PLEX_TOKEN


@pytest.fixture
def tls_plex(tmp_path, monkeypatch):
    # requests lets these variables override a session's `verify` (only a per-request
    # `verify` beats them); this machine sets them, as many Docker images do.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    cert, key = self_signed_cert(str(tmp_path / "tls"))
    emu = PlexEmulator(token=PLEX_TOKEN).start()
    try:
        emu.add_section("Movies", locations=["/data/movies"])
        emu.serve_tls(cert, key)
        yield emu, cert
    finally:
        emu.stop()


def _session(verify):
    session = requests.Session()
    session.verify = verify
    return session


def test_https_with_the_certificate_as_ca_bundle(tls_plex):
    emu, cert = tls_plex
    with _session(cert) as session:
        plex = PlexServer(emu.tls_url, PLEX_TOKEN, session=session, timeout=5)
        assert plex.machineIdentifier == emu.machine_id
        assert [s.title for s in plex.library.sections()] == ["Movies"]
    # One server behind both ports: the plain one still answers.
    assert PlexServer(emu.url, PLEX_TOKEN, timeout=5).machineIdentifier == emu.machine_id


def test_https_without_trust_fails_certificate_verification(tls_plex):
    emu, _cert = tls_plex
    with _session(True) as session, pytest.raises(requests.exceptions.SSLError) as failed:
        PlexServer(emu.tls_url, PLEX_TOKEN, session=session, timeout=5)
    assert "CERTIFICATE_VERIFY_FAILED" in str(failed.value)
    assert emu.count() == 0  # nothing reached the server's routes


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_with_verification_off(tls_plex):
    emu, _cert = tls_plex
    with _session(False) as session:
        assert PlexServer(emu.tls_url, PLEX_TOKEN, session=session, timeout=5).machineIdentifier == emu.machine_id


def test_https_to_the_plain_port_is_an_ssl_protocol_failure(tls_plex):
    emu, _cert = tls_plex
    with pytest.raises(requests.exceptions.SSLError) as failed:
        PlexServer(emu.url.replace("http://", "https://"), PLEX_TOKEN, timeout=5)
    text = str(failed.value).lower()
    assert "wrong version number" in text or "record layer" in text, text


def test_plain_http_to_the_tls_port_is_refused_without_an_answer(tls_plex):
    emu, _cert = tls_plex
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(emu.tls_url.replace("https://", "http://") + "/identity", timeout=5)
    assert emu.count() == 0
    # The emulator keeps serving after a failed handshake.
    assert requests.get(emu.tls_url + "/identity", verify=tls_plex[1], timeout=5).ok
