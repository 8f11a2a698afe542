"""Stash's plugin protocol: one JSON document on stdin, one JSON object on stdout.

Standard library only: the hook path parses its input here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

MAX_STDIN_BYTES = 8 * 1024 * 1024  # a hook input is a few KB; anything near this is not Stash


class ProtocolError(Exception):
    """Stdin is not what Stash sends; the message says what was wrong."""


@dataclass
class HookContext:
    scene_id: int
    hook_type: str
    input_fields: Optional[List[str]]  # None for creates and scan-triggered updates
    input: Optional[Dict[str, Any]]


@dataclass
class PluginInput:
    server_connection: Dict[str, Any]
    args: Dict[str, Any] = field(default_factory=dict)
    hook: Optional[HookContext] = None

    @property
    def mode(self) -> str:
        """The task's `mode` arg; Stash sends task defaultArgs as strings."""
        value = self.args.get("mode")
        return str(value).strip() if value is not None else ""


def _scene_id(value: Any) -> int:
    if isinstance(value, bool):
        raise ProtocolError(f"hookContext.id must be a scene id, got {value!r}")
    if isinstance(value, int):
        scene_id = value
    elif isinstance(value, str) and value.strip().isdigit():
        scene_id = int(value.strip())
    else:
        shown = repr(value)[:40]
        raise ProtocolError(f"hookContext.id must be a numeric scene id, got {shown}")
    if scene_id <= 0:
        raise ProtocolError(f"hookContext.id must be positive, got {scene_id}")
    return scene_id


def parse_input(raw: str) -> PluginInput:
    """Validate Stash's stdin document; raise ProtocolError with a one-line reason."""
    if len(raw) > MAX_STDIN_BYTES:
        raise ProtocolError(f"stdin is {len(raw)} bytes; Stash sends a small JSON document")
    if not raw.strip():
        raise ProtocolError("stdin is empty: Stash2Plex.py must be started by Stash, which sends a JSON document")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"stdin is not JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(doc, dict):
        raise ProtocolError("stdin JSON must be an object with server_connection and args")
    conn = doc.get("server_connection")
    if not isinstance(conn, dict):
        raise ProtocolError("stdin JSON has no server_connection object")
    args = doc.get("args")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ProtocolError("stdin JSON args must be an object")
    hook = None
    ctx = args.get("hookContext")
    if ctx is not None:
        if not isinstance(ctx, dict):
            raise ProtocolError("args.hookContext must be an object")
        fields = ctx.get("inputFields")
        if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
            raise ProtocolError("hookContext.inputFields must be a list of field names")
        hook_input = ctx.get("input")
        hook = HookContext(
            scene_id=_scene_id(ctx.get("id")),
            hook_type=str(ctx.get("type") or ""),
            input_fields=fields,
            input=hook_input if isinstance(hook_input, dict) else None,
        )
    return PluginInput(server_connection=conn, args=args, hook=hook)


def reply(output: Any = None, error: Optional[str] = None) -> str:
    """The one line Stash reads from stdout."""
    if error is not None:
        return json.dumps({"error": error}, ensure_ascii=False)
    return json.dumps({"output": output}, ensure_ascii=False, default=str)
