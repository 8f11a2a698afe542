"""HTTP plumbing for the emulator: a threaded loopback server that can go down and up.

Going down closes the listening socket and every open connection, so clients see
"connection refused" and broken keep-alive sockets exactly as when Stash restarts;
coming up binds the same port again. Routing lives elsewhere: the server turns each
request into a Request, asks a dispatch function for a Response, and writes it.
"""
from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Optional, Set
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"


@dataclass
class Request:
    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]  # lower-cased names
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: Dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (a hang's end)


Dispatch = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects
    server_version = "StashEmulator/1"
    # Headers and body go out in separate writes; with Nagle on, the client's delayed
    # ACK holds every keep-alive response about 40 ms (Stash, written in Go, sets
    # TCP_NODELAY on its sockets too).
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        return  # the emulator keeps its own request log

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, split.path, query, headers, body)
        try:
            resp = self.server.dispatch(req)  # type: ignore[attr-defined]
        except Exception as exc:  # an emulator bug must show up as a 500, not a hang
            resp = Response(500, ("emulator error: %r\n" % (exc,)).encode("utf-8"), "text/plain")
        if resp.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        self._conns: Set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__((LOOPBACK, port), _Handler)

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._conns.add if alive else self._conns.discard)(conn)

    def close_connections(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HTTPService:
    """start/stop plus down/up on one fixed loopback port."""

    def __init__(self, dispatch: Dispatch, port: int = 0,
                 on_down: Optional[Callable[[], None]] = None,
                 on_up: Optional[Callable[[], None]] = None) -> None:
        self._dispatch = dispatch
        self._port = port
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._on_down = on_down
        self._on_up = on_up
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self._port

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            server = _Server(self._port, self._dispatch)
            self._port = server.server_address[1]
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name="stash-emulator-%d" % self._port, daemon=True)
            thread.start()
            self._server, self._thread = server, thread
        if self._on_up:
            self._on_up()

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        if self._on_down:
            self._on_down()  # release hung handlers before waiting on the loop
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(5.0)
