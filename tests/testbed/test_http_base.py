"""The loopback HTTP server under both emulators, seen through raw sockets.

Clients that vanish mid-request (a killed plugin, a timed-out session) are normal
traffic for a server: they must leave no traceback in the test output, which should
show only what failed. Going down must also end connections already open, as a
restarted server does, not only refuse new ones.
"""
from __future__ import annotations

import socket
import struct
import time
from typing import Iterator, Tuple

import pytest
import requests

from testbed.loopback import LoopbackServer, Request, Response
from testbed.plex import PlexEmulator
from testbed.plex.tls import self_signed_cert
from testbed.stash import StashEmulator
from tests.testbed.conftest_stash import running

TOKEN = "http-base-token"


def _plex_request(body: bytes = b"") -> bytes:
    return (b"GET /library HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Plex-Token: " + TOKEN.encode()
            + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def _stash_request(body: bytes = b'{"query": "{ version { version } }"}') -> bytes:
    return (b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


REQUESTS = {"plex": _plex_request, "stash": _stash_request}


@pytest.fixture(params=["plex", "stash"])
def emulator(request) -> Iterator[Tuple[str, object]]:
    emu = PlexEmulator(token=TOKEN) if request.param == "plex" else StashEmulator(port=0)
    for running_emu in running(emu):
        yield request.param, running_emu


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets an RST, as from a killed process."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _settle(emu) -> None:
    """Wait until the server has finished with every connection (and any error report)."""
    deadline = time.monotonic() + 5
    while emu.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emu.open_connections == 0


def _no_traceback(capfd) -> None:
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err


CUTS: dict = {
    "request line": lambda full: full[:9],
    "headers": lambda full: full[:full.index(b"\r\n\r\n") - 3],
    "body": lambda full: full[:-5],
}


@pytest.mark.parametrize("close", [_reset, socket.socket.close], ids=["reset", "close"])
@pytest.mark.parametrize("cut", sorted(CUTS))
def test_client_gone_mid_request_leaves_no_traceback(emulator, capfd, cut, close):
    kind, emu = emulator
    full = REQUESTS[kind](b'{"padding": "' + b"x" * 64 + b'"}')
    sock = _connect(emu.port)
    sock.sendall(CUTS[cut](full))
    time.sleep(0.05)  # let the server start reading before the client goes
    close(sock)
    _settle(emu)
    _no_traceback(capfd)


def test_client_gone_mid_chunked_body_leaves_no_traceback(emulator, capfd):
    kind, emu = emulator
    head = REQUESTS[kind]().split(b"\r\nContent-Length")[0]
    sock = _connect(emu.port)
    sock.sendall(head + b"\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{\"query\"")
    time.sleep(0.05)
    _reset(sock)
    _settle(emu)
    _no_traceback(capfd)


def test_client_gone_before_the_answer_leaves_no_traceback(emulator, capfd):
    """The reply is written into a socket the client has reset: a broken pipe."""
    kind, emu = emulator
    emu.faults.latency(0.3)
    sock = _connect(emu.port)
    sock.sendall(REQUESTS[kind]())
    time.sleep(0.05)
    _reset(sock)
    _settle(emu)
    _no_traceback(capfd)


def test_client_gone_mid_tls_handshake_leaves_no_traceback(tmp_path, capfd):
    cert, key = self_signed_cert(str(tmp_path))
    emu = PlexEmulator(token=TOKEN).start()
    try:
        port = int(emu.serve_tls(cert, key).rsplit(":", 1)[1])
        sock = _connect(port)
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's start
        time.sleep(0.05)
        _reset(sock)
        sock = _connect(port)
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")  # plain http on the https port
        time.sleep(0.05)
        _reset(sock)
    finally:
        emu.stop()
    _no_traceback(capfd)


def test_an_emulator_bug_still_answers_500_and_shows_its_traceback(capfd):
    def broken(req: Request) -> Response:
        raise RuntimeError("emulator bug")

    server = LoopbackServer(broken)
    port = server.start()
    try:
        resp = requests.get("http://127.0.0.1:%d/anything" % port, timeout=5)
    finally:
        server.stop()
    assert resp.status_code == 500
    assert "RuntimeError: emulator bug" in capfd.readouterr().err


def _answered(sock: socket.socket, request: bytes) -> bytes:
    """Send one request and read its whole reply, leaving the connection open."""
    sock.sendall(request)
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(65536)
    head, body = reply.split(b"\r\n\r\n", 1)
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_going_down_drops_open_connections_and_coming_up_serves_again(emulator):
    kind, emu = emulator
    port = emu.port
    kept = _connect(port)
    assert _answered(kept, REQUESTS[kind]()).startswith(b"HTTP/1.1 200")
    emu.go_down()
    kept.settimeout(2)
    try:
        assert kept.recv(1) == b""  # the open keep-alive connection ended by the server
    except ConnectionResetError:
        pass
    kept.close()
    with pytest.raises(ConnectionRefusedError):
        _connect(port)
    emu.come_up()
    assert emu.port == port
    fresh = _connect(port)
    try:
        assert _answered(fresh, REQUESTS[kind]()).startswith(b"HTTP/1.1 200")
    finally:
        fresh.close()

