"""What the Plex emulator does with a request: control, faults, token check, route, log.

Every request goes: control endpoint? → fault decision → token check → route, and
is logged with its status and duration. The socket side (reading, writing, going
down and up, TLS) is testbed/loopback.py's; this is the app it calls.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional

from testbed.faults import Action, Faults
from testbed.plex.routes import PlexRoutes, Request, Response, error

CONTROL_PREFIX = "/__testbed__"
NO_TOKEN_PATHS = ("/identity",)
# How the emulator's sockets present themselves: PMS sends X-Plex-Protocol on every
# response, and closes keep-alive connections that sit idle.
HEADERS = {"X-Plex-Protocol": "1.0"}
SOFTWARE = "PlexMediaServer/testbed"
IDLE_TIMEOUT = 60.0


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

    def __call__(self, req: Request) -> Response:
        if req.path.startswith(CONTROL_PREFIX) and self.control is not None:
            return self.control(req)
        action = self.faults.check(req.method, req.path)
        entry = {"method": req.method, "path": req.path, "query": req.query,
                 "headers": _plex_headers(req), "time": time.time(), "status": None,
                 "duration": 0.0, "fault": None, "body_length": len(req.body)}
        resp = self._answer(req, action, entry)
        entry["duration"] = time.monotonic() - req.received
        if resp.drop:
            return resp
        entry["status"] = resp.status
        # Logged before the reply is written, so a client that has its answer
        # always finds its request in the log.
        self.log.add(entry)
        return resp

    def _answer(self, req: Request, action: Action, entry: Dict[str, Any]) -> Response:
        if action.delay and not self.faults.sleep(action.delay):
            entry["fault"] = "released"
            self.log.add(entry)
            return Response(drop=True)
        if action.hang:
            # Hold the connection past the client's timeout, then drop it unanswered.
            # The entry is visible while the request hangs.
            entry["fault"] = "hang"
            self.log.add(entry)
            self.faults.sleep(action.hang)
            return Response(drop=True)
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


def _plex_headers(req: Request) -> Dict[str, str]:
    """The X-Plex-* request headers worth asserting on (never the token)."""
    return {k.title(): v for k, v in req.headers.items()
            if k.startswith("x-plex-") and k != "x-plex-token"}
