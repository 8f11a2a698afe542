"""The loopback HTTP server both emulators sit on; it can go down and come up on its port.

Each request becomes a Request, an app (a callable) turns it into a Response, and
the server writes that back. Going down closes the listening socket and every open
connection, so clients see "connection refused" and broken keep-alive sockets as
when the real server restarts; coming up binds the same port again. What a server
says (auth, faults, logs, routes) belongs to the app, not here.
"""
from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qsl, urlsplit

LOOPBACK = "127.0.0.1"
MAX_BODY = 64 * 1024 * 1024

# What a client leaving mid-request raises in the handler: a reset or a broken pipe
# (killed plugin, timed-out session, going down), a TLS handshake or record cut
# short, or a keep-alive socket idle past the timeout. None of it is a server bug.
CLIENT_GONE = (ConnectionError, ssl.SSLError, socket.timeout)


@dataclass
class Request:
    method: str
    path: str
    pairs: List[Tuple[str, str]]  # query parameters in order, repeats kept
    headers: Dict[str, str]  # lower-cased names
    body: bytes = b""
    received: float = 0.0  # time.monotonic() when the body began to be read

    @property
    def query(self) -> Dict[str, str]:
        """Query parameters by name; the last of repeated ones wins, as in Go and PMS."""
        return dict(self.pairs)

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (a hang's end)


App = Callable[[Request], Response]


class _BadRequest(Exception):
    """A body the server cannot frame: answered 400, then the connection closes."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects
    # Headers and body go out in separate writes; with Nagle on, the client's delayed
    # ACK holds every keep-alive response about 40 ms (Go servers such as Stash set
    # TCP_NODELAY on their sockets too).
    disable_nagle_algorithm = True
    server: "_Server"

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout  # read by StreamRequestHandler.setup
        super().setup()
        self.tls_failed = False
        if isinstance(self.connection, ssl.SSLSocket):
            # The TLS handshake runs here, in the connection's own thread, so a client
            # that never finishes it (plain http on this port) holds up no other.
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
                self.tls_failed = True

    def handle(self) -> None:
        if not self.tls_failed:
            super().handle()

    def version_string(self) -> str:
        return self.server.software

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass  # each emulator keeps its own request log; stderr stays for failures

    def _serve(self) -> None:
        try:
            req = _read_request(self)
        except _BadRequest as exc:
            self.close_connection = True
            self._write(Response(400, ("bad request: %s\n" % exc).encode("utf-8")))
            return
        try:
            resp = self.server.app(req)
        except Exception as exc:  # an emulator bug: answer 500 rather than hang, and show it
            traceback.print_exc()
            resp = Response(500, ("emulator error: %r\n" % (exc,)).encode("utf-8"))
        if resp.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._write(resp)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

    def _write(self, resp: Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in list(self.server.headers.items()) + list(resp.headers.items()):
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)


def _read_request(handler: _Handler) -> Request:
    received = time.monotonic()
    parts = urlsplit(handler.path)
    headers = {k.lower(): v for k, v in handler.headers.items()}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _read_chunked(handler)
    else:
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise _BadRequest("Content-Length is not a number") from None
        if length < 0 or length > MAX_BODY:
            raise _BadRequest("Content-Length out of range")
        body = handler.rfile.read(length) if length else b""
    return Request(method=handler.command, path=parts.path or "/",
                   pairs=parse_qsl(parts.query, keep_blank_values=True),
                   headers=headers, body=body, received=received)


def _read_chunked(handler: _Handler) -> bytes:
    chunks = []
    total = 0
    while True:
        line = handler.rfile.readline(1024)
        if not line:  # end of stream before the last chunk: the client left
            raise ConnectionAbortedError("client closed mid-body")
        try:
            size = int(line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            raise _BadRequest("bad chunk size") from None
        if size == 0:
            handler.rfile.readline(1024)  # the blank line after the last chunk
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise _BadRequest("body too large")
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline(1024)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, service: "LoopbackServer") -> None:
        self.app = service.app
        self.software = service.software
        self.headers = service.headers
        self.idle_timeout = service.idle_timeout
        self.tls = service.tls
        self.tracker = service.tracker
        super().__init__((LOOPBACK, service.port), _Handler)

    def get_request(self):
        conn, addr = super().get_request()
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        self.tracker.add(conn)
        return conn, addr

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], CLIENT_GONE):
            return  # the client went away; the test that made it go says what mattered
        super().handle_error(request, client_address)

    def shutdown_request(self, request) -> None:
        # Runs after handle_error, so a connection counts as open until its report is out.
        self.tracker.discard(request)
        super().shutdown_request(request)


class ConnectionTracker:
    """Open client sockets, so going down can drop them like a dead server would."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: Set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.discard(sock)

    def drop_all(self) -> None:
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def count(self) -> int:
        with self._lock:
            return len(self._socks)


class LoopbackServer:
    """One port on 127.0.0.1 plus its accept thread; start and stop can repeat on it.

    `headers` go out on every response (the server's own, such as a protocol version);
    `idle_timeout` ends keep-alive connections left idle that long (None: never); with
    `tls` the port speaks https.
    """

    def __init__(self, app: App, port: int = 0, name: str = "emulator",
                 software: str = "Emulator/1", headers: Optional[Dict[str, str]] = None,
                 idle_timeout: Optional[float] = None,
                 tls: Optional[ssl.SSLContext] = None) -> None:
        self.app = app
        self.port = port
        self.name = name
        self.software = software
        self.headers = dict(headers or {})
        self.idle_timeout = idle_timeout
        self.tls = tls
        self.tracker = ConnectionTracker()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    @property
    def open_connections(self) -> int:
        """Client connections open now, idle keep-alive ones included."""
        return self.tracker.count()

    def start(self) -> int:
        """Listen (again) and return the port; the first start picks a free one if 0."""
        with self._lock:
            if self._server is None:
                server = _Server(self)
                self.port = server.server_address[1]
                thread = threading.Thread(target=server.serve_forever,
                                          kwargs={"poll_interval": 0.05},
                                          name="%s-%d" % (self.name, self.port), daemon=True)
                thread.start()
                self._server, self._thread = server, thread
            return self.port

    def stop(self, join_timeout: float = 5.0) -> None:
        """Close the listening socket, then every open connection."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        self.tracker.drop_all()
        if thread is not None:
            thread.join(join_timeout)
