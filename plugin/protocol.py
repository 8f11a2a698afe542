"""Stash's plugin protocol: one JSON document on stdin, one JSON object on stdout.

Standard library only: the hook path parses its input here.
"""

from __future__ import annotations

# No json, typing or dataclasses import: annotations stay strings (postponed), and the
# hook path saves the ~20 ms those modules cost to import (json: below).

MAX_SCENE_ID = 2 ** 63 - 1  # the largest id a SQLite INTEGER (and Stash's Go int) holds
MAX_STDIN_BYTES = 8 * 1024 * 1024  # a hook input is a few KB; anything near this is not Stash


class ProtocolError(Exception):
    """Stdin is not what Stash sends; the message says what was wrong."""


class HookContext:
    """What Stash tells a hook: which scene, which event, and which fields changed."""

    __slots__ = ("scene_id", "hook_type", "input_fields", "input")

    def __init__(self, scene_id: int, hook_type: str, input_fields: "list[str] | None", input: "dict | None"):
        self.scene_id = scene_id
        self.hook_type = hook_type
        self.input_fields = input_fields  # None for creates and scan-triggered updates
        self.input = input


class PluginInput:
    """One run's stdin: the connection to Stash and the task args or hook context."""

    __slots__ = ("server_connection", "args", "hook")

    def __init__(self, server_connection: dict, args: "dict | None" = None, hook: "HookContext | None" = None):
        self.server_connection = server_connection
        self.args = args or {}
        self.hook = hook

    @property
    def mode(self) -> str:
        """The task's `mode` arg; Stash sends task defaultArgs as strings."""
        value = self.args.get("mode")
        return str(value).strip() if value is not None else ""


def _scene_id(value: object) -> int:
    if isinstance(value, bool):
        raise ProtocolError(f"hookContext.id must be a scene id, got {value!r}")
    if isinstance(value, int):
        scene_id = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        # isascii: str.isdigit() also accepts '²' (int() rejects it) and '٣' (int() reads 3).
        scene_id = int(value.strip())
    else:
        shown = repr(value)[:40]
        raise ProtocolError(f"hookContext.id must be a numeric scene id, got {shown}")
    if not 0 < scene_id <= MAX_SCENE_ID:
        raise ProtocolError(f"hookContext.id must be a positive scene id, got {str(scene_id)[:40]}")
    return scene_id


# server_connection field -> the JSON types Stash sends for it (null is always allowed).
_CONNECTION_TYPES = {
    "Scheme": (str,),
    "Host": (str,),
    "Port": (int, str),
    "Dir": (str,),
    "PluginDir": (str,),
    "SessionCookie": (dict,),
}


def _check_connection(conn: dict) -> None:
    """Every field the plugin reads has the type Stash gives it, or is absent.

    Read later by code that trusts them (paths, the cookie), a wrong type would be a
    traceback in this process and in every drainer started from it.
    """
    for name, types in _CONNECTION_TYPES.items():
        value = conn.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            shown = type(value).__name__
            raise ProtocolError(f"server_connection.{name} must be a {types[0].__name__}, got a {shown}")
    port = conn.get("Port")
    if isinstance(port, str) and not (port.strip().isascii() and port.strip().isdigit()):
        raise ProtocolError(f"server_connection.Port must be a port number, got {port[:20]!r}")
    cookie = conn.get("SessionCookie")
    if isinstance(cookie, dict):
        for key in ("Name", "Value"):
            if cookie.get(key) is not None and not isinstance(cookie.get(key), str):
                raise ProtocolError(f"server_connection.SessionCookie.{key} must be a string")
    for name in ("Dir", "PluginDir"):
        if "\x00" in (conn.get(name) or ""):
            raise ProtocolError(f"server_connection.{name} contains a NUL character")


def parse_input(raw: str) -> PluginInput:
    """Validate Stash's stdin document; raise ProtocolError with a one-line reason."""
    if len(raw) > MAX_STDIN_BYTES:
        raise ProtocolError(f"stdin is {len(raw)} bytes; Stash sends a small JSON document")
    if not raw.strip():
        raise ProtocolError("stdin is empty: Stash2Plex.py must be started by Stash, which sends a JSON document")
    try:
        doc = loads(raw)
    except ValueError as exc:
        raise ProtocolError(f"stdin is not JSON ({exc.msg} at position {exc.pos})") from None
    except RecursionError:
        raise ProtocolError("stdin JSON is nested too deeply to be Stash's plugin input") from None
    if not isinstance(doc, dict):
        raise ProtocolError("stdin JSON must be an object with server_connection and args")
    conn = doc.get("server_connection")
    if not isinstance(conn, dict):
        raise ProtocolError("stdin JSON has no server_connection object")
    _check_connection(conn)
    args = doc.get("args")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ProtocolError("stdin JSON args must be an object")
    ctx = args.get("hookContext")
    hook = _hook_context(ctx) if ctx is not None else None
    return PluginInput(server_connection=conn, args=args, hook=hook)


def _hook_context(ctx: object) -> HookContext:
    """args.hookContext, present when a hook (not a task button) started the plugin."""
    if not isinstance(ctx, dict):
        raise ProtocolError("args.hookContext must be an object")
    fields = ctx.get("inputFields")
    if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
        raise ProtocolError("hookContext.inputFields must be a list of field names")
    # A list for scenesUpdate (every scene's input, not this one's); the bulk input
    # for bulkSceneUpdate. Only id and inputFields are read on the hook path.
    hook_input = ctx.get("input")
    return HookContext(
        scene_id=_scene_id(ctx.get("id")),
        hook_type=str(ctx.get("type") or ""),
        input_fields=fields,
        input=hook_input if isinstance(hook_input, dict) else None,
    )


def reply(output: object = None, error: "str | None" = None) -> str:
    """The one line Stash reads from stdout."""
    if error is not None:
        return dumps({"error": error})
    return dumps({"output": output})


# -- JSON without the json package ---------------------------------------------------
# `import json` pulls in re and enum: about a third of a hook's import time. The hook
# parses its stdin with the json package's own C scanner (`_json`, what json.loads runs
# underneath) and writes its small reply with `_json`'s string encoder. Anything these
# cannot take (an error, a value that is not plain) goes through json itself, so the
# messages and the output are json's. Where `_json` is missing (not CPython), json is used.
_WHITESPACE = " \t\n\r"  # json's own WHITESPACE set


class _Strict:
    """The settings json.loads gives its scanner by default."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


try:
    from _json import encode_basestring as _quote, make_scanner as _make_scanner

    _scan = _make_scanner(_Strict())
except ImportError:  # not CPython: json is fine there
    _scan = _quote = None


def loads(text: str) -> object:
    """json.loads(text), without importing json unless the text is not plain JSON."""
    if _scan is not None:
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = _scan(text, start)
        except Exception:  # noqa: BLE001 - any trouble (even the C scanner's own error path,
            value, end = None, -1  # which needs json.decoder loaded): json.loads below decides
        if end >= 0 and not text[end:].strip(_WHITESPACE):
            return value
    import json  # for json's own error message (or a text the fast path did not take)

    return json.loads(text)


def dumps(value: object) -> str:
    """json.dumps(value, ensure_ascii=False, default=str) for plain dicts of plain values."""
    text = _plain(value) if _quote is not None else None
    if text is not None:
        return text
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _plain(value: object) -> "str | None":
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is str:
        return _quote(value)
    if type(value) is dict and all(type(k) is str for k in value):
        parts = [(_quote(k), _plain(v)) for k, v in value.items()]
        if all(text is not None for _, text in parts):
            return "{" + ", ".join(f"{k}: {v}" for k, v in parts) + "}"
    return None

