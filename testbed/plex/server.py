"""HTTP plumbing: a threaded loopback server, token checks, faults and the request log.

Every request goes: read → control endpoint? → fault decision → token check →
route → write, and is logged with its status and duration. The listening socket
can be closed and reopened on the same port (`go_down`/`come_up`), and every open
connection is tracked so that going down really refuses and drops clients.
"""
from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Set
from urllib.parse import parse_qsl, urlsplit

from testbed.faults import Action, Faults
from testbed.plex.routes import PlexRoutes, Request, Response, error

CONTROL_PREFIX = "/__testbed__"
MAX_BODY = 64 * 1024 * 1024
NO_TOKEN_PATHS = ("/identity",)


class RequestLog:
    """Thread-safe list of finished requests, for counting and asserting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: List[Dict[str, Any]] = []

    def add(self, entry: Dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def count(self, method: Optional[str] = None, path_prefix: Optional[str] = None) -> int:
        with self._lock:
            return sum(1 for e in self._entries
                       if (method is None or e["method"] == method.upper())
                       and (path_prefix is None or e["path"].startswith(path_prefix)))

    def reset(self) -> None:
        with self._lock:
            self._entries = []


class PlexApp:
    """Everything a request handler needs; shared by every listening socket we open."""

    def __init__(self, routes: PlexRoutes, token: str, faults: Faults,
                 control: Optional[Callable[[Request], Response]] = None) -> None:
        self.routes = routes
        self.token = token
        self.faults = faults
        self.control = control
        self.log = RequestLog()

    def serve(self, handler: "_Handler") -> None:
        started = time.monotonic()
        req = _read_request(handler)
        if req is None:
            return
        if req.path.startswith(CONTROL_PREFIX) and self.control is not None:
            _write(handler, self.control(req))
            return
        action = self.faults.check(req.method, req.path)
        entry = {"method": req.method, "path": req.path, "query": req.query,
                 "headers": _plex_headers(req), "time": time.time(), "status": None,
                 "duration": 0.0, "fault": None, "body_length": len(req.body)}
        resp = self._answer(req, action, entry)
        entry["duration"] = time.monotonic() - started
        if resp is None:
            handler.close_connection = True  # dropped unanswered
            return
        entry["status"] = resp.status
        # Logged before the reply is written, so a client that has its answer
        # always finds its request in the log.
        self.log.add(entry)
        _write(handler, resp)

    def _answer(self, req: Request, action: Action, entry: Dict[str, Any]) -> Optional[Response]:
        if action.delay and not self.faults.sleep(action.delay):
            entry["fault"] = "released"
            self.log.add(entry)
            return None
        if action.hang:
            # Hold the connection past the client's timeout, then drop it unanswered.
            # The entry is visible while the request hangs.
            entry["fault"] = "hang"
            self.log.add(entry)
            self.faults.sleep(action.hang)
            return None
        if action.status is not None:
            entry["fault"] = "status"
            resp = error(action.status)
            if action.status in (429, 503):
                resp.headers["Retry-After"] = "1"
            return resp
        if not self._authorised(req):
            return error(401)
        try:
            return self.routes.dispatch(req)
        except Exception:  # an emulator bug: answer 500 and keep the trace
            entry["error"] = traceback.format_exc()
            return error(500)

    def _authorised(self, req: Request) -> bool:
        if req.path in NO_TOKEN_PATHS:
            return True
        given = req.header("X-Plex-Token") or req.query.get("X-Plex-Token")
        return given is not None and given == self.token


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PlexMediaServer/testbed"
    timeout = 60  # idle keep-alive connections end on their own
    # Headers and body go out in separate writes; with Nagle on, the client's
    # delayed ACK adds about 40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        try:
            self.server.app.serve(self)  # type: ignore[attr-defined]
        except (ConnectionError, OSError):
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            # The TLS handshake runs here, in the connection's own thread, so a client
            # that never finishes it (plain http on this port) holds up no other.
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True
                self.tls_failed = True

    def handle(self) -> None:
        if not getattr(self, "tls_failed", False):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces stderr noise


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, port: int, app: PlexApp, tracker: "ConnectionTracker",
                 tls: Optional[ssl.SSLContext] = None) -> None:
        self.app = app
        self.tracker = tracker
        self.tls = tls
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self):
        conn, addr = super().get_request()
        if self.tls is not None:
            conn = self.tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        self.tracker.add(conn)
        return conn, addr

    def handle_error(self, request, client_address) -> None:
        # A client that went away mid-request, or failed the TLS handshake, is no emulator bug.
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request) -> None:
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
            socks, self._socks = list(self._socks), set()
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def count(self) -> int:
        with self._lock:
            return len(self._socks)


class Listener:
    """One listening socket plus its accept thread; can stop and restart on a port."""

    def __init__(self, app: PlexApp, port: int = 0, tls: Optional[ssl.SSLContext] = None) -> None:
        self.app = app
        self.port = port
        self.tls = tls
        self.tracker = ConnectionTracker()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def open(self) -> int:
        if self._server is not None:
            return self.port
        server = _Server(self.port, self.app, self.tracker, self.tls)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="plex-emulator-%d" % self.port, daemon=True)
        self._thread.start()
        return self.port

    def close(self, join_timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        self.tracker.drop_all()
        if thread is not None:
            thread.join(join_timeout)


def _plex_headers(req: Request) -> Dict[str, str]:
    """The X-Plex-* request headers worth asserting on (never the token)."""
    return {k.title(): v for k, v in req.headers.items()
            if k.startswith("x-plex-") and k != "x-plex-token"}


def _read_request(handler: _Handler) -> Optional[Request]:
    parts = urlsplit(handler.path)
    headers = {k.lower(): v for k, v in handler.headers.items()}
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _read_chunked(handler)
    else:
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = MAX_BODY + 1
        if length > MAX_BODY or length < 0:
            _write(handler, error(400))
            handler.close_connection = True
            return None
        if length:
            body = handler.rfile.read(length)
    return Request(method=handler.command, path=parts.path or "/",
                   pairs=parse_qsl(parts.query, keep_blank_values=True),
                   headers=headers, body=body)


def _read_chunked(handler: _Handler) -> bytes:
    chunks = []
    total = 0
    while True:
        size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            handler.rfile.readline()
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise ConnectionError("body too large")
        chunks.append(handler.rfile.read(size))
        handler.rfile.readline()


def _write(handler: _Handler, resp: Response) -> None:
    handler.send_response(resp.status)
    handler.send_header("Content-Type", resp.content_type)
    handler.send_header("Content-Length", str(len(resp.body)))
    handler.send_header("X-Plex-Protocol", "1.0")
    for key, value in resp.headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(resp.body)
