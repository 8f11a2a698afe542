"""Fixtures for the Stash emulator and plugin runner tests.

The sample plugin is written into tmp_path at test time: a second .yml committed to
the repository would show up in Stash as another plugin.
"""
from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from testbed.stash import StashEmulator

# The scene query the conformance tests page and filter with.
FIND = """query FindScenes($filter: FindFilterType, $scene_filter: SceneFilterType,
                            $scene_ids: [Int!]) {
  findScenes(filter: $filter, scene_filter: $scene_filter, scene_ids: $scene_ids) {
    count scenes { id updated_at } } }"""

SAMPLE_YML = """\
name: Sample Plugin
description: Exercises the plugin protocol in tests.
version: "1.0"
url: https://example.invalid/sample
exec:
  - python3
  - "{pluginDir}/sample.py"
  - --from-exec
interface: raw
errLog: error
tasks:
  - name: Process Queue
    description: Runs the sample work.
    execArgs:
      - --task
    defaultArgs:
      mode: process
      days: 30
      flag: yes
  - name: Other
    description: No default args.
hooks:
  - name: Scene hook
    description: Reports its hook context.
    triggeredBy:
      - Scene.Update.Post
      - Scene.Create.Post
      - Scene.Destroy.Post
"""

SAMPLE_PY = textwrap.dedent('''\
    """Sample plugin: behaviour chosen by args.mode or by the hook input's details."""
    import json
    import os
    import subprocess
    import sys
    import time
    import urllib.request


    def log(level, text):
        sys.stderr.write("\\x01%s\\x02%s\\n" % (level, text))
        sys.stderr.flush()


    def mutate(conn, scene_id, details):
        url = "%s://%s:%s/graphql" % (conn["Scheme"], conn["Host"], conn["Port"])
        body = json.dumps({"query": "mutation($i: SceneUpdateInput!){ sceneUpdate(input: $i){ id } }",
                           "variables": {"i": {"id": scene_id, "details": details}}}).encode()
        req = urllib.request.Request(url, data=body, headers={
            "Content-Type": "application/json",
            "Cookie": "session=" + conn["SessionCookie"]["Value"]})
        urllib.request.urlopen(req, timeout=60).read()


    doc = json.loads(sys.stdin.read())
    args = doc["args"]
    conn = doc["server_connection"]
    report = {"args": args, "argv": sys.argv[1:], "cwd": os.getcwd(),
              "pythonpath": os.environ.get("PYTHONPATH", "")}
    hook = args.get("hookContext")
    mode = args.get("mode", "")
    if hook is not None:
        given = hook.get("input")  # a list for scenesUpdate, null for creates
        details = (given.get("details") if isinstance(given, dict) else "") or ""
        log("i", "hook %s for scene %s" % (hook["type"], hook.get("id")))
        if details.startswith("sleep"):
            time.sleep(float(details.split()[1]))
        if details == "recurse":
            mutate(conn, hook["id"], "recurse")
        print(json.dumps({"output": report}))
    elif mode == "process":
        for level in "tdiwe":
            log(level, "message at %s" % level)
        for p in (0, 0.5, 1):
            log("p", str(p))
        sys.stderr.write("a stray line without prefix\\n")
        print(json.dumps({"output": report}))
    elif mode == "raw":
        print("this is not json")
    elif mode == "error":
        print(json.dumps({"error": "it broke", "output": None}))
    elif mode == "exit3":
        sys.exit(3)
    elif mode == "sleep":
        open(os.path.join(conn["Dir"], "sleep-started"), "w").close()
        time.sleep(float(args.get("seconds", 30)))
        print(json.dumps({"output": "woke"}))
    elif mode == "longline":
        log("i", "x" * 70000)
        log("i", "after the long line")
        print(json.dumps({"output": "done"}))
    elif mode == "inherit":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(%s)" % args["seconds"]])
        print(json.dumps({"output": "spawned"}))
    elif mode == "detach":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(%s)" % args["seconds"]],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        print(json.dumps({"output": "spawned"}))
    else:
        print(json.dumps({"output": report}))
''')


def write_sample_plugin(root: Path) -> Path:
    """Create plugins/Sample/{Sample.yml,sample.py} under root; return the plugin dir."""
    plugin_dir = root / "plugins" / "Sample"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "Sample.yml").write_text(SAMPLE_YML, encoding="utf-8")
    (plugin_dir / "sample.py").write_text(SAMPLE_PY, encoding="utf-8")
    return plugin_dir


def quiet_logger() -> logging.Logger:
    """stashapi logs through conn["Logger"]; keep test output clean."""
    logger = logging.getLogger("stash-emulator-tests")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def stashapi_conn(emu: StashEmulator, **extra: Any) -> Dict[str, Any]:
    """The connection dict a plugin builds from server_connection for stashapi."""
    conn: Dict[str, Any] = {"Scheme": "http", "Host": "127.0.0.1", "Port": emu.port,
                            "SessionCookie": emu.cookie_dict(), "Logger": quiet_logger()}
    conn.update(extra)
    return conn


def running(emu) -> Iterator[Any]:
    """Start an emulator, yield it, stop it, and fail if it crashed on any request."""
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()
    crashes = [r["error"] for r in emu.requests if r.get("error")]
    assert not crashes, f"the {type(emu).__name__} failed on a request:\n" + crashes[0]


@pytest.fixture
def stash_emu() -> Iterator[StashEmulator]:
    """A running Stash emulator, auth off, empty library."""
    yield from running(StashEmulator(port=0))


@pytest.fixture
def stash_auth_emu() -> Iterator[StashEmulator]:
    """A running Stash emulator that requires the session cookie or ApiKey."""
    yield from running(StashEmulator(port=0, auth=True))


@pytest.fixture
def sample_plugin(tmp_path: Path) -> Path:
    """A tiny raw-interface plugin (one task set, one hook) in tmp_path/plugins/Sample."""
    return write_sample_plugin(tmp_path)


@pytest.fixture
def plugin_data_dir(tmp_path: Path) -> Path:
    """An empty directory to pass as server_connection "Dir"."""
    path = tmp_path / "stash-config"
    path.mkdir()
    return path
