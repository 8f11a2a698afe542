"""Request handling: faults, authentication, the request log, GraphQL and images.

Fault rules (testbed/faults.py) see GraphQL requests under the path
"/graphql/<first top-level field>", so route="/graphql" hits every GraphQL call and
route="/graphql/findScenes" only findScenes. Parse and validation failures answer 422
like gqlgen; execution errors answer 200 with "errors" beside "data".
"""
from __future__ import annotations

import json
import re
import threading
import time
import traceback
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any, Dict, List, Optional, Tuple

from graphql import (DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode,
                     execute_sync, parse, validate)

from testbed import loopback
from testbed.loopback import Request
from testbed.stash import ui_host
from testbed.stash.resolvers import RequestContext, schema

IMAGE_ROUTES = [
    (re.compile(r"^/scene/(\d+)/screenshot$"), "scene", False),
    (re.compile(r"^/performer/(\d+)/image$"), "performer", False),
    (re.compile(r"^/studio/(\d+)/image$"), "studio", False),
    (re.compile(r"^/tag/(\d+)/image$"), "tag", False),
    (re.compile(r"^/group/(\d+)/frontimage$"), "group", False),
    (re.compile(r"^/group/(\d+)/backimage$"), "group", True),
]


@dataclass
class Response(loopback.Response):
    """Stash answers JSON unless a route says otherwise."""
    content_type: str = "application/json"


def _json(status: int, doc: Any) -> Response:
    return Response(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"))


def _error(message: str, code: Optional[str] = None) -> Dict[str, Any]:
    err: Dict[str, Any] = {"message": message}
    if code:
        err["extensions"] = {"code": code}
    return err


def _operation(doc: DocumentNode, name: Optional[str]) -> Optional[OperationDefinitionNode]:
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        ops = [o for o in ops if o.name is not None and o.name.value == name]
    return ops[0] if len(ops) == 1 else None


class Gateway:
    """Turns HTTP requests into emulator work; `app` is the StashEmulator."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._docs: Dict[str, Tuple[Optional[DocumentNode], List[Dict[str, Any]]]] = {}
        self._docs_lock = threading.Lock()

    # -- entry ---------------------------------------------------------------------

    def dispatch(self, req: Request) -> Response:
        started = time.monotonic()
        entry: Dict[str, Any] = {"method": req.method, "path": req.path, "query": dict(req.query),
                                 "host": req.header("host"), "operation": None, "fields": [],
                                 "kind": None, "variables": None, "auth": self._auth_kind(req),
                                 "time": time.time()}
        parsed = None
        fault_path = req.path
        if req.path == "/graphql" and req.method == "POST":
            parsed = self._parse_body(req, entry)
            if entry["fields"]:
                fault_path = "/graphql/" + entry["fields"][0]
        try:
            resp = self._with_faults(req, fault_path, parsed, entry)
        except Exception:  # an emulator bug: answer 500 and keep the traceback for tests
            entry["error"] = traceback.format_exc()
            resp = Response(500, b"emulator error\n", "text/plain")
        entry["status"] = None if resp.drop else resp.status
        entry["duration"] = time.monotonic() - started
        self.app.log_request(entry)
        return resp

    def _with_faults(self, req: Request, fault_path: str, parsed: Any,
                     entry: Dict[str, Any]) -> Response:
        faults = self.app.faults
        action = faults.check(req.method, fault_path)
        if action.delay and not faults.sleep(action.delay):
            return Response(drop=True)
        if action.hang:
            faults.sleep(action.hang)
            entry["hung"] = True
            return Response(drop=True)
        if action.status is not None:
            entry["fault"] = action.status
            return Response(action.status, b'{"errors":[{"message":"injected fault"}]}')
        if self.app.auth and entry["auth"] is None:
            return Response(401, b"Unauthorized\n", "text/plain; charset=utf-8")
        if req.path == "/graphql":
            if req.method != "POST":
                return Response(405, b"use POST\n", "text/plain")
            return self._graphql(req, parsed, entry)
        return self._image(req)

    # -- authentication ------------------------------------------------------------

    def _cookie(self, req: Request) -> Optional[str]:
        raw = req.header("cookie")
        if not raw:
            return None
        try:
            jar = SimpleCookie(raw)
        except CookieError:
            return None
        morsel = jar.get("session")
        return morsel.value if morsel is not None else None

    def _auth_kind(self, req: Request) -> Optional[str]:
        """How the request authenticated ("cookie", "apikey"), or None."""
        key = self.app.api_key
        if key and (req.header("apikey") == key or req.query.get("apikey") == key):
            return "apikey"
        cookie = self._cookie(req)
        if cookie is not None and self.app.session_visited(cookie) is not None:
            return "cookie"
        return None

    # -- GraphQL -------------------------------------------------------------------

    def _parse_body(self, req: Request, entry: Dict[str, Any]) -> Any:
        try:
            body = json.loads(req.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return None
        doc, errors = self._document(body["query"])
        entry["operation"] = body.get("operationName")
        entry["variables"] = body.get("variables")
        if doc is not None and not errors:
            op = _operation(doc, body.get("operationName"))
            if op is not None:
                entry["operation"] = entry["operation"] or (op.name.value if op.name else None)
                entry["kind"] = op.operation.value
                entry["fields"] = [s.name.value for s in op.selection_set.selections
                                   if isinstance(s, FieldNode)]
        return body, doc, errors

    def _document(self, query: str):
        with self._docs_lock:
            cached = self._docs.get(query)
        if cached is not None:
            return cached
        try:
            doc = parse(query)
        except GraphQLError as exc:
            result = (None, [_error(exc.message, "GRAPHQL_PARSE_FAILED")])
        else:
            errs = validate(schema(), doc)
            result = (doc, [_error(e.message, "GRAPHQL_VALIDATION_FAILED") for e in errs])
        with self._docs_lock:
            if len(self._docs) > 512:
                self._docs.clear()
            self._docs[query] = result
        return result

    def _graphql(self, req: Request, parsed: Any, entry: Dict[str, Any]) -> Response:
        if parsed is None:
            return _json(400, {"errors": [_error("json request body could not be decoded")]})
        body, doc, errors = parsed
        if errors:
            return _json(422, {"errors": errors, "data": None})
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return _json(400, {"errors": [_error("variables must be an object")]})
        cookie = self._cookie(req)
        visited = (self.app.session_visited(cookie) if entry["auth"] == "cookie" else None) or []
        host = req.header("host") or "127.0.0.1:%d" % self.app.port
        ctx = RequestContext(self.app, "http://" + host, list(visited))
        result = execute_sync(schema(), doc, context_value=ctx, variable_values=variables,
                              operation_name=body.get("operationName"))
        out: Dict[str, Any] = {}
        status = 200
        if result.errors:
            out["errors"] = [dict(e.formatted) for e in result.errors]
            if result.data is None and all(not e.path for e in result.errors):
                status = 422  # variable coercion failed before execution, as in gqlgen
        out["data"] = result.data
        # Post-commit hooks: the mutation answers only after every hook process exits.
        for hook_type, scene_id, value, fields in ctx.events:
            self.app.plugins.fire(hook_type, scene_id, value, fields, ctx.visited)
        return _json(status, out)

    # -- images --------------------------------------------------------------------

    def _image(self, req: Request) -> Response:
        ui = self._ui(req)
        if ui is not None:
            return ui
        if req.path in ("/", ""):
            return Response(200, b"<html><body>Stash emulator</body></html>", "text/html")
        for pattern, kind, back in IMAGE_ROUTES:
            match = pattern.match(req.path)
            if match:
                data = self.app.store.image(kind, int(match.group(1)), back=back)
                if data is None:
                    return Response(404, b"not found\n", "text/plain")
                return Response(200, data, "image/jpeg",
                                headers={"Cache-Control": "private, max-age=604800"})
        return Response(404, b"not found\n", "text/plain")

    def _ui(self, req: Request) -> Optional[Response]:
        """Plugin UI files, the pinned React builds, and the host page for the app's routes."""
        answer = ui_host.plugin_file(self.app.plugins.ui_of, req.path) or ui_host.react_file(req.path)
        if answer is None and req.method == "GET" and re.match(r"^/(scenes/\d+|plugin/[^/]+)/?$", req.path):
            answer = ui_host.host_page(self.app.plugins.ui_blocks())
        if answer is None:
            return None
        status, body, content_type = answer
        return Response(status, body, content_type)
