"""JSON control endpoints under /__testbed__/, for tests that run the emulator in
another process (the CLI). Loopback only, no token, never logged or faulted, so
request counts reflect client traffic alone.

    GET  /__testbed__/state                    sections, item count, request count
    GET  /__testbed__/items/{rk}               item snapshot
    GET  /__testbed__/find?path=P              {"ratingKey": rk or null}
    GET  /__testbed__/requests?method=&path_prefix=   {"count": n, "requests": [...]}
    POST /__testbed__/reset_log
    POST /__testbed__/faults                   {"op": "fail", "n": 2, "status": 503, ...}
    DELETE /__testbed__/faults
    POST /__testbed__/token                    {"token": "new"}
    POST /__testbed__/sections                 add_section kwargs -> {"id": sid}
    POST /__testbed__/movies                   {"section_id", "file_path", ...} -> {"ratingKey"}
    POST /__testbed__/stage                    {"section_id", "file_path"}
    DELETE /__testbed__/items/{rk}             delete the item; its files stay staged for a rescan
    POST /__testbed__/scan                     {"section_id", "path"} (as a scan request)
    POST /__testbed__/refresh/{rk}             agent refresh
    POST /__testbed__/accounts                 {"name"} -> {"id"}: another local account
    POST /__testbed__/plays                    {"rating_key", "viewed_at", "account_id"} -> {"historyID"}
    POST /__testbed__/view_offset              {"rating_key", "offset_ms"}: in progress (null: not)
    POST /__testbed__/rate                     {"rating_key", "rating"}: a user rating set in Plex
"""
from __future__ import annotations

import json
import re
from typing import Any

from testbed.loopback import Request
from testbed.plex.routes import Response
from testbed.plex.store import NotFoundError

_ITEM = re.compile(r"^/__testbed__/items/(\d+)$")
_REFRESH = re.compile(r"^/__testbed__/refresh/(\d+)$")


def _json(value: Any, status: int = 200) -> Response:
    body = json.dumps(value, default=_plain, sort_keys=True).encode("utf-8")
    return Response(status, body, "application/json")


def _plain(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError("not JSON: %r" % (value,))


class Control:
    def __init__(self, emulator: Any) -> None:  # the PlexEmulator that owns this control
        self.emu = emulator

    def __call__(self, req: Request) -> Response:
        try:
            return self._handle(req)
        except NotFoundError as exc:
            return _json({"error": str(exc)}, 404)
        except (ValueError, TypeError, KeyError) as exc:
            return _json({"error": "%s: %s" % (type(exc).__name__, exc)}, 400)

    def _handle(self, req: Request) -> Response:
        emu, path, method = self.emu, req.path.rstrip("/"), req.method
        body = json.loads(req.body.decode("utf-8")) if req.body else {}
        m = _ITEM.match(path)
        if m and method == "GET":
            return _json(emu.item(int(m.group(1))))
        if m and method == "DELETE":
            return _json({"files": emu.delete_item(int(m.group(1)))})
        m = _REFRESH.match(path)
        if m and method == "POST":
            emu.agent_refresh(int(m.group(1)))
            return _json({"ok": True})
        q = req.query
        if path == "/__testbed__/state" and method == "GET":
            return _json(emu.state())
        if path == "/__testbed__/find" and method == "GET":
            return _json({"ratingKey": emu.find_by_file(q.get("path", ""))})
        if path == "/__testbed__/requests" and method == "GET":
            method_filter, prefix = q.get("method") or None, q.get("path_prefix") or None
            entries = [e for e in emu.requests
                       if (method_filter is None or e["method"] == method_filter.upper())
                       and (prefix is None or e["path"].startswith(prefix))]
            return _json({"count": len(entries), "requests": entries})
        if path == "/__testbed__/reset_log" and method == "POST":
            emu.reset_log()
            return _json({"ok": True})
        if path == "/__testbed__/faults":
            if method == "DELETE":
                emu.faults.clear()
                return _json({"ok": True})
            if method == "POST":
                emu.faults.configure(body)
                return _json({"faults": emu.faults.snapshot()})
            if method == "GET":
                return _json({"faults": emu.faults.snapshot()})
        if path == "/__testbed__/token" and method == "POST":
            emu.rotate_token(str(body["token"]))
            return _json({"ok": True})
        if path == "/__testbed__/sections" and method == "POST":
            return _json({"id": emu.add_section(**body)})
        if path == "/__testbed__/movies" and method == "POST":
            return _json({"ratingKey": emu.add_movie(**body)})
        if path == "/__testbed__/scan" and method == "POST":
            emu.scan(body.get("section_id"), body.get("path"))
            return _json({"ok": True})
        if method == "POST" and path in ("/__testbed__/accounts", "/__testbed__/plays",
                                         "/__testbed__/view_offset", "/__testbed__/rate"):
            return self._activity(path.rsplit("/", 1)[1], body)
        if path == "/__testbed__/stage" and method == "POST":
            emu.stage_file(**body)
            return _json({"ok": True})
        return _json({"error": "unknown control endpoint"}, 404)

    def _activity(self, what: str, body: Any) -> Response:
        emu = self.emu
        if what == "accounts":
            return _json({"id": emu.add_account(str(body["name"]))})
        if what == "plays":
            return _json({"historyID": emu.add_play(body["rating_key"], body.get("viewed_at"),
                                                    int(body.get("account_id", 1)))})
        if what == "view_offset":
            emu.set_view_offset(body["rating_key"], body.get("offset_ms"))
        else:
            emu.rate(body["rating_key"], float(body["rating"]))
        return _json({"ok": True})
