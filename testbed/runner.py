"""Start a Stash plugin exactly as Stash does and report what Stash would see.

Mirrors stashapp/stash pkg/plugin (config.go getExecCommand, raw.go, plugins.go,
args.go) and pkg/logger/plugin.go: argv from the yml `exec` (+ a task's `execArgs`),
`python`/`python3` swapped for the configured interpreter, the plugins root appended to
PYTHONPATH, a working directory that is not the plugin's, one JSON document on stdin,
stderr read as Stash's log protocol, and stdout decoded whole as {"output", "error"}.
Like Stash, a run is over only when stdout reaches EOF and the process has exited: a
child that keeps stdout open keeps Stash (and this runner) waiting.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

import yaml

# Keys Stash's strict yml decoder accepts; any other key makes it reject the plugin.
MANIFEST_KEYS = {"name", "description", "version", "url", "exec", "interface", "errLog",
                 "tasks", "hooks", "settings", "ui", "requires"}
LEVELS = {"t": "trace", "d": "debug", "i": "info", "w": "warning", "e": "error"}
# bufio.Scanner's default token limit: a longer stderr line makes Stash stop reading.
MAX_LOG_LINE = 64 * 1024
# Every SceneUpdateInput field in schema order: Stash marshals the whole Go struct
# (pkg/models.SceneUpdateInput, no omitempty), deprecated `movies` included.
SCENE_UPDATE_INPUT_FIELDS = (
    "clientMutationId", "id", "title", "code", "details", "director", "url", "urls",
    "date", "rating100", "o_counter", "organized", "studio_id", "gallery_ids",
    "performer_ids", "groups", "movies", "tag_ids", "cover_image", "stash_ids",
    "resume_time", "play_duration", "play_count", "primary_file_id")


@dataclass
class Operation:
    name: str
    description: str = ""
    exec_args: List[str] = field(default_factory=list)
    default_args: Dict[str, str] = field(default_factory=dict)
    triggered_by: List[str] = field(default_factory=list)


@dataclass
class Manifest:
    """The parts of a plugin's yml that decide how Stash runs it."""

    plugin_id: str
    path: str
    name: str
    exec: List[str]
    interface: str
    err_log: str
    tasks: List[Operation]
    hooks: List[Operation]
    raw: Dict[str, Any]

    @property
    def plugin_dir(self) -> str:
        return os.path.dirname(self.path)

    def task(self, name: str) -> Operation:
        for op in self.tasks:
            if op.name == name:
                return op
        raise KeyError("no task named %r in plugin %s" % (name, self.plugin_id))

    def hooks_for(self, hook_type: str) -> List[Operation]:
        return [h for h in self.hooks if hook_type in h.triggered_by]


def _scalar_texts(node: Any) -> Dict[str, str]:
    """defaultArgs as yaml.v2 decodes into map[string]string: each value's source text."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: ("" if v.tag.endswith(":null") else str(v.value)) for k, v in node.value
            if isinstance(v, yaml.ScalarNode)}


def load_manifest(plugin_dir: str) -> Manifest:
    """Read the one .yml in plugin_dir, rejecting what Stash's strict decoder rejects."""
    ymls = sorted(n for n in os.listdir(plugin_dir) if n.endswith(".yml"))
    if len(ymls) != 1:
        raise ValueError("expected one .yml in %s, found %s" % (plugin_dir, ymls))
    path = os.path.abspath(os.path.join(plugin_dir, ymls[0]))
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    raw = yaml.safe_load(text) or {}
    unknown = set(raw) - MANIFEST_KEYS
    if unknown:
        raise ValueError("Stash rejects %s: unknown keys %s" % (ymls[0], sorted(unknown)))
    interface = raw.get("interface") or "raw"
    if interface not in ("raw", "rpc", "js"):
        raise ValueError("invalid interface type %s" % interface)
    # An unknown errLog name falls back to error, as PluginLogLevelFromName does.
    err_log = str(raw.get("errLog") or "error")
    err_log = err_log if err_log in set(LEVELS.values()) | {"none"} else "error"
    root = yaml.compose(text)
    nodes = {k.value: v for k, v in root.value} if isinstance(root, yaml.MappingNode) else {}

    def operations(key: str) -> List[Operation]:
        out = []
        seq = nodes.get(key)
        for item, node in zip(raw.get(key) or [], getattr(seq, "value", []) or []):
            sub = {k.value: v for k, v in node.value}
            out.append(Operation(
                name=str(item.get("name", "")), description=str(item.get("description") or ""),
                exec_args=[str(a) for a in item.get("execArgs") or []],
                default_args=_scalar_texts(sub.get("defaultArgs")),
                triggered_by=[str(t) for t in item.get("triggeredBy") or []]))
        return out

    return Manifest(plugin_id=os.path.splitext(ymls[0])[0], path=path,
                    name=str(raw.get("name") or ""), exec=[str(a) for a in raw.get("exec") or []],
                    interface=interface, err_log=err_log,
                    tasks=operations("tasks"), hooks=operations("hooks"), raw=raw)


def go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it: compact, UTF-8, HTML characters escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode("utf-8")


def full_input(given: Optional[Dict[str, Any]], fields=SCENE_UPDATE_INPUT_FIELDS) -> Dict[str, Any]:
    """Every input field, null unless given (how the Go struct reaches the plugin)."""
    given = given or {}
    extra = [k for k in given if k not in fields]
    if extra:
        raise KeyError("not SceneUpdateInput fields: %s" % extra)
    return {name: given.get(name) for name in fields}


def parse_output(stdout: bytes) -> Tuple[Any, Optional[str], bool]:
    """(output, error, is_json) the way Stash decodes a raw plugin's stdout."""
    text = stdout.decode("utf-8", errors="replace")

    def no_constants(name: str) -> Any:
        raise ValueError("Go rejects %s" % name)

    try:
        doc = json.loads(text, parse_constant=no_constants)
    except ValueError:
        return text, None, False
    if doc is None:
        return None, None, True
    if not isinstance(doc, dict):
        return text, None, False
    # Go matches struct fields case-insensitively; a non-string "error" fails decoding.
    found = {k.lower(): v for k, v in doc.items() if k.lower() in ("output", "error")}
    err = found.get("error")
    if err is not None and not isinstance(err, str):
        return text, None, False
    return found.get("output"), err, True


@dataclass
class RunResult:
    """What Stash saw of one plugin process."""

    returncode: Optional[int]
    output: Any
    error: Optional[str]
    raw_stdout: str
    stdout_is_json: bool
    logs: List[Tuple[str, str]]
    progress: List[float]
    stray_stderr: List[str]
    duration: float
    argv: List[str]
    stdin: Any
    timed_out: bool = False
    killed: bool = False
    stderr_overflow: bool = False
    stdout_held_open: bool = False

    def messages(self, level: Optional[str] = None) -> List[str]:
        return [text for lvl, text in self.logs if level is None or lvl == level]


class RunHandle:
    """A started plugin process: poll it, read its logs so far, kill it like Stop."""

    def __init__(self, argv: List[str], stdin: bytes, cwd: str, env: Dict[str, str],
                 err_log: str, stdin_doc: Any) -> None:
        self.argv = argv
        self.stdin_doc = stdin_doc
        self.logs: List[Tuple[str, str]] = []
        self.progress: List[float] = []
        self.stray_stderr: List[str] = []
        self.stderr_overflow = False
        self.killed = False
        self._err_level = err_log
        self._stdout = b""
        self._started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._out_done = threading.Event()
        threading.Thread(target=self._feed, args=(stdin,), daemon=True).start()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self._err_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._err_thread.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _feed(self, data: bytes) -> None:
        try:
            self.proc.stdin.write(data)
        except OSError:
            pass  # the plugin exited without reading stdin; Stash only logs this
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def _read_stdout(self) -> None:
        self._stdout = self.proc.stdout.read()
        self._out_done.set()

    def _read_stderr(self) -> None:
        stream = self.proc.stderr
        while True:
            line = stream.readline(MAX_LOG_LINE + 1)
            if not line:
                break
            if len(line.rstrip(b"\r\n")) >= MAX_LOG_LINE:
                self.stderr_overflow = True  # Stash stops reading and closes the pipe
                break
            self._handle_line(line.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace"))
        try:
            stream.close()
        except OSError:
            pass

    def _handle_line(self, line: str) -> None:
        if not line:
            return
        if len(line) >= 4 and line[0] == "\x01" and line[2] == "\x02" and \
                (line[1] in LEVELS or line[1] == "p"):
            text = line[3:].strip()
            if line[1] == "p":
                try:
                    self.progress.append(float(text))
                except ValueError:
                    self.logs.append(("error", "Error parsing progress value '%s'" % text))
                return
            self.logs.append((LEVELS[line[1]], text))
            return
        self.stray_stderr.append(line)
        if self._err_level != "none":
            self.logs.append((self._err_level, line))

    def poll(self) -> Optional[int]:
        return self.proc.poll()

    def running(self) -> bool:
        return self.proc.poll() is None or not self._out_done.is_set()

    def kill(self) -> None:
        """Stash's Stop: kill the process outright; no cleanup code runs."""
        if self.proc.poll() is None:
            self.killed = True
            self.proc.kill()

    def wait(self, timeout: Optional[float] = 60.0) -> RunResult:
        deadline = None if timeout is None else self._started + timeout
        timed_out = False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._out_done.wait(left):
            timed_out = True
        try:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.proc.wait(left)
        except subprocess.TimeoutExpired:
            timed_out = True
        if timed_out:
            self.kill()
            self.proc.wait(10)
            self._out_done.wait(2.0)
        held = not self._out_done.is_set()
        duration = time.monotonic() - self._started
        self._err_thread.join(0.5)  # Stash does not wait for stderr after exit
        output, error, is_json = parse_output(self._stdout)
        code = self.proc.returncode
        if code and error is None:
            error = ("signal: killed" if code < 0 and -code == 9
                     else "exit status %d" % code)
        return RunResult(returncode=code, output=output, error=error,
                         raw_stdout=self._stdout.decode("utf-8", "replace"),
                         stdout_is_json=is_json, logs=list(self.logs),
                         progress=list(self.progress), stray_stderr=list(self.stray_stderr),
                         duration=duration, argv=list(self.argv), stdin=self.stdin_doc,
                         timed_out=timed_out, killed=self.killed,
                         stderr_overflow=self.stderr_overflow, stdout_held_open=held)


class PluginRunner:
    """Runs one plugin's tasks and hooks the way Stash's raw interface does."""

    def __init__(self, plugin_dir: str, server_connection: Dict[str, Any],
                 python: Optional[str] = sys.executable, env: Optional[Dict[str, str]] = None,
                 cwd: Optional[str] = None) -> None:
        self.manifest = load_manifest(plugin_dir)
        self.plugin_dir = self.manifest.plugin_dir
        self.server_connection = server_connection
        self.python = python
        self.env = env
        if cwd is None:
            # Stash's working directory is its own, never the plugin's.
            cwd = tempfile.mkdtemp(prefix="stash-cwd-")
            weakref.finalize(self, shutil.rmtree, cwd, True)
        self.cwd = cwd

    def argv(self, operation: Optional[Operation] = None) -> List[str]:
        """getExecCommand, then raw.go's python substitution."""
        cmd = list(self.manifest.exec) + (list(operation.exec_args) if operation else [])
        if not cmd:
            raise ValueError("empty exec value")
        if shutil.which(cmd[0]) is None:
            cmd[0] = os.path.join(self.plugin_dir, cmd[0])
        cmd = cmd[:1] + [a.replace("{pluginDir}", self.plugin_dir) for a in cmd[1:]]
        if cmd[0] in ("python", "python3") and self.python:
            cmd[0] = self.python
        return cmd

    def environment(self) -> Dict[str, str]:
        env = dict(os.environ if self.env is None else self.env)
        root = os.path.dirname(self.plugin_dir)
        current = env.get("PYTHONPATH")
        env["PYTHONPATH"] = root if current is None else current + os.pathsep + root
        return env

    def _start(self, operation: Optional[Operation], args: Dict[str, Any],
               connection: Optional[Dict[str, Any]]) -> RunHandle:
        conn = dict(connection or self.server_connection)
        conn["PluginDir"] = self.plugin_dir
        doc = {"server_connection": conn, "args": {k: args[k] for k in sorted(args)}}
        return RunHandle(self.argv(operation), go_json(doc), self.cwd, self.environment(),
                         self.manifest.err_log, doc)

    def start_task(self, name: str, args: Optional[Dict[str, Any]] = None,
                   server_connection: Optional[Dict[str, Any]] = None) -> RunHandle:
        """A task button: defaultArgs (as strings) fill in what args leaves out."""
        op = self.manifest.task(name)
        merged = dict(args or {})
        for key, value in op.default_args.items():
            merged.setdefault(key, value)
        return self._start(op, merged, server_connection)

    def run_task(self, name: str, args: Optional[Dict[str, Any]] = None,
                 timeout: float = 60.0) -> RunResult:
        return self.start_task(name, args).wait(timeout)

    def start_hook(self, hook_type: str, scene_id: int, input: Optional[Dict[str, Any]] = None,
                   input_fields: Optional[List[str]] = None, hook_name: Optional[str] = None,
                   server_connection: Optional[Dict[str, Any]] = None,
                   full: bool = False) -> RunHandle:
        """A hook firing. `input` None (and no input_fields) is a create or scan.

        With `full`, `input` is passed as is; otherwise it is expanded into the whole
        SceneUpdateInput and input_fields defaults to "id" plus the keys given.
        """
        hooks = self.manifest.hooks_for(hook_type)
        if hook_name is not None:
            hooks = [h for h in hooks if h.name == hook_name]
        if len(hooks) != 1:
            raise ValueError("%d hooks in %s fire on %s" % (len(hooks), self.manifest.plugin_id,
                                                            hook_type))
        ctx: Dict[str, Any] = {"id": int(scene_id)} if scene_id else {}
        ctx["type"] = hook_type
        if input is not None and not full:
            given = dict(input)
            given.setdefault("id", str(scene_id))
            if input_fields is None:
                input_fields = ["id"] + [k for k in input if k != "id"]
            input = full_input(given)
        ctx["input"] = input
        if input_fields:
            ctx["inputFields"] = list(input_fields)
        args: Dict[str, Any] = dict(hooks[0].default_args)
        args["hookContext"] = ctx
        return self._start(hooks[0], args, server_connection)

    def run_hook(self, hook_type: str, scene_id: int, input: Optional[Dict[str, Any]] = None,
                 input_fields: Optional[List[str]] = None, timeout: float = 30.0,
                 **kwargs: Any) -> RunResult:
        return self.start_hook(hook_type, scene_id, input, input_fields, **kwargs).wait(timeout)

    def start_operation(self, args: Optional[Dict[str, Any]] = None,
                        server_connection: Optional[Dict[str, Any]] = None) -> RunHandle:
        """runPluginOperation: no task, no defaultArgs, args keep their JSON types."""
        return self._start(None, dict(args or {}), server_connection)

    def run_operation(self, args: Optional[Dict[str, Any]] = None,
                      timeout: float = 60.0) -> RunResult:
        return self.start_operation(args).wait(timeout)

    def start_raw(self, stdin: Union[bytes, str], argv: Optional[List[str]] = None) -> RunHandle:
        data = stdin.encode("utf-8") if isinstance(stdin, str) else bytes(stdin)
        return RunHandle(argv or self.argv(), data, self.cwd, self.environment(),
                         self.manifest.err_log, None)

    def run_raw(self, stdin: Union[bytes, str], timeout: float = 30.0,
                argv: Optional[List[str]] = None) -> RunResult:
        """Feed arbitrary bytes on stdin, for malformed-input tests."""
        return self.start_raw(stdin, argv).wait(timeout)
