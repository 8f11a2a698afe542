"""The plugin as Stash runs it, against the emulated Stash and Plex.

`plugin_env` starts both emulators, registers the repository as a Stash plugin (so a
save in the Stash emulator fires the real hook) and saves working settings. Stash sees
files under /data/stash, Plex under /media/plex, joined by a path_map rule. Teardown
ends every drainer the plugin started for this test and checks that neither the Plex
token nor any session cookie reached an output, a log or a file in the data dir.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import sqlite3
import sys
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional

import pytest

from testbed.plex import PlexEmulator
from testbed.runner import PluginRunner, RunResult
from testbed.stash import StashEmulator
from tests.support import read_drainer_log, unused_port, wait_until  # noqa: F401 - re-exported to the tests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN_ID = "Stash2Plex"
STASH_PREFIX = "/data/stash"
PLEX_PREFIX = "/media/plex"
SECTION = "Scenes"
TASK_TIMEOUT = 90.0


def summary_logged(result: RunResult) -> bool:
    """The task's one-line summary reached Stash's log at info."""
    summary = (result.output or {}).get("summary")
    return bool(summary) and any(summary in text and "\n" not in text for text in result.messages("info"))


def assert_clean_run(result: RunResult) -> None:
    """What every run must look like to Stash: one JSON object, prefixed log lines only."""
    assert not result.timed_out, f"run timed out: {result.logs[-5:]}"
    assert result.stdout_is_json, f"stdout is not one JSON object: {result.raw_stdout!r}"
    assert result.stray_stderr == [], result.stray_stderr
    assert not result.stderr_overflow
    assert not any("Traceback" in text for _, text in result.logs), result.logs


class PluginEnv:
    """One test's Stash, Plex, plugin runner and data dir, with helpers to drive them."""

    def __init__(self, stash: StashEmulator, plex: PlexEmulator, token: str, config_dir: str):
        self.stash = stash
        self.plex = plex
        self.token = token
        self.section = plex.add_section(SECTION, locations=[PLEX_PREFIX])
        self.data_dir = os.path.join(config_dir, "plugin_data", PLUGIN_ID)
        self.runner = PluginRunner(ROOT, stash.server_connection(ROOT))
        self.results: List[RunResult] = []
        self.extra_secrets: List[str] = []
        self.settings: Dict[str, Any] = {}
        self.configure()

    # -- setup ---------------------------------------------------------------------
    def configure(self, **changes: Any) -> None:
        """Save settings in Stash (read-modify-write, as the settings page); None removes a key."""
        if not self.settings:
            self.settings = {"plex_url": self.plex.url, "plex_token": self.token,
                             "path_map": f"{STASH_PREFIX} => {PLEX_PREFIX}", "poll_interval": 0.2}
        for key, value in changes.items():
            if value is None:
                self.settings.pop(key, None)
            else:
                self.settings[key] = value
        self.stash.set_plugin_settings(PLUGIN_ID, dict(self.settings))

    def use_wrong_token(self) -> str:
        """Save a token Plex rejects (kept out of every output like the real one)."""
        wrong = "wrong-" + self.token[::-1]
        self.extra_secrets.append(wrong)
        self.configure(plex_token=wrong)
        return wrong

    def seed(self, n: int, rng_seed: int = 3, in_plex: bool = True) -> List[int]:
        """n scenes in Stash; with in_plex, each file is already scanned into Plex."""
        ids = self.stash.seed(n, rng_seed=rng_seed, path_prefix=STASH_PREFIX)
        if in_plex:
            for sid in ids:
                self.plex.add_movie(self.section, self.plex_path(sid))
        return ids

    # -- reading back --------------------------------------------------------------
    def plex_path(self, scene_id: int) -> str:
        return self.stash.scene(scene_id)["files"][0]["path"].replace(STASH_PREFIX, PLEX_PREFIX, 1)

    def plex_item(self, scene_id: int) -> Optional[Dict[str, Any]]:
        key = self.plex.find_by_file(self.plex_path(scene_id))
        return None if key is None else self.plex.item(key)

    def plex_title(self, scene_id: int) -> Optional[str]:
        item = self.plex_item(scene_id)
        return None if item is None else item["title"]

    def expected_title(self, scene_id: int) -> str:
        """The Stash title, or the file name without extension when it is empty."""
        scene = self.stash.scene(scene_id)
        if scene.get("title"):
            return scene["title"]
        return os.path.splitext(os.path.basename(scene["files"][0]["path"]))[0]

    def in_step(self, scene_ids: Iterable[int]) -> bool:
        return all(self.plex_title(sid) == self.expected_title(sid) for sid in scene_ids)

    def titles_in_plex(self, wanted: Dict[int, str]) -> bool:
        return all(self.plex_title(sid) == title for sid, title in wanted.items())

    def rows(self, sql: str, params: Iterable[Any] = ()) -> List[tuple]:
        """Read the plugin's SQLite file (read-only); [] before it exists or has the table."""
        path = os.path.join(self.data_dir, "stash2plex.sqlite3")
        if not os.path.exists(path):
            return []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            conn.close()

    def drainer_log(self) -> str:
        return read_drainer_log(self.data_dir)

    # -- running the plugin --------------------------------------------------------
    def task(self, name: str, args: Optional[Dict[str, Any]] = None, timeout: float = TASK_TIMEOUT) -> RunResult:
        result = self.runner.run_task(name, args, timeout=timeout)
        self.results.append(result)
        assert_clean_run(result)
        return result

    def ok_task(self, name: str, args: Optional[Dict[str, Any]] = None, timeout: float = TASK_TIMEOUT) -> Dict[str, Any]:
        result = self.task(name, args, timeout)
        assert result.error is None, f"{name} failed: {result.error}"
        assert isinstance(result.output, dict), result.raw_stdout
        return result.output

    def hook(self, scene_id: int, input: Optional[Dict[str, Any]] = None, **kwargs: Any) -> RunResult:
        """A hook run through the runner: an update with `input`, or a create when None."""
        hook_type = "Scene.Update.Post" if input is not None else "Scene.Create.Post"
        result = self.runner.run_hook(hook_type, scene_id, input, **kwargs)
        self.results.append(result)
        assert_clean_run(result)
        return result

    def status(self) -> Dict[str, Any]:
        return self.ok_task("Queue Status")

    def queue_directly(self, scene_ids: Iterable[int]) -> None:
        """Write inbox rows exactly as a hook does, without starting a drainer."""
        from sync_queue import inbox

        inbox.enqueue(self.data_dir, list(scene_ids), reason="Scene.Update.Post")

    # -- cleanup -------------------------------------------------------------------
    def drainer_pids(self) -> List[int]:
        """Live drainers of this data dir: on Linux every `--drain` process working in it,
        elsewhere the pid of a fresh heartbeat."""
        proc = "/proc"
        if not os.path.isdir(proc):
            fresh = time.time() - 2.0
            return [row[0] for row in self.rows("SELECT pid FROM drainer WHERE beat_at > ?", [fresh])]
        pids = []
        real = os.path.realpath(self.data_dir)
        for name in os.listdir(proc):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            try:
                with open(os.path.join(proc, name, "cmdline"), "rb") as fh:
                    argv = fh.read().split(b"\0")
                cwd = os.readlink(os.path.join(proc, name, "cwd"))
            except OSError:
                continue  # gone, or a zombie: nothing left to end
            if b"--drain" in argv and os.path.realpath(cwd) == real:
                pids.append(int(name))
        return sorted(pids)

    def lock_busy(self) -> bool:
        from worker.lock import DrainLock

        return os.path.isdir(self.data_dir) and DrainLock(self.data_dir).is_held_elsewhere()

    def stop_drainers(self, timeout: float = 20.0) -> None:
        """End every drainer this test's hooks and tasks started (bounded)."""
        deadline = time.monotonic() + timeout
        kill = getattr(signal, "SIGKILL", signal.SIGTERM)
        # /proc lists a drainer from the moment its hook or task could exit; a heartbeat
        # appears only once the drainer runs, so without /proc the lock must stay free a while.
        settle = 0.0 if os.path.isdir("/proc") else 1.0
        quiet_since = None
        while time.monotonic() < deadline:
            pids = self.drainer_pids()
            for pid in pids:
                try:
                    os.kill(pid, kill)
                except OSError:
                    pass
            if pids or self.lock_busy():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            if quiet_since is not None and time.monotonic() - quiet_since >= settle:
                return
            time.sleep(0.05)
        pytest.fail(f"drainers of {self.data_dir} still running after {timeout:.0f} s")

    def secrets(self) -> List[str]:
        """The Plex token(s) and every session cookie handed to a plugin process."""
        values = [self.token, self.stash.session_cookie] + self.extra_secrets
        for result in self.results + [run.result for run in self.stash.hook_runs]:
            cookie = ((result.stdin or {}).get("server_connection") or {}).get("SessionCookie") or {}
            values.append(cookie.get("Value"))
        return sorted({v for v in values if v})

    def assert_no_secrets(self) -> None:
        """No secret in any stdout, stderr line or file of the data dir (SQLite bytes included)."""
        secret_list = self.secrets()
        texts = []
        for result in self.results + [run.result for run in self.stash.hook_runs]:
            texts.append(result.raw_stdout)
            texts.extend(text for _, text in result.logs)
            texts.extend(result.stray_stderr)
        blob = "\n".join(texts)
        for secret in secret_list:
            assert secret not in blob, "a secret reached a plugin's stdout or stderr"
        scanned = 0
        for folder, _dirs, files in os.walk(self.data_dir):
            for name in files:
                with open(os.path.join(folder, name), "rb") as fh:
                    data = fh.read()
                scanned += 1
                for secret in secret_list:
                    assert secret.encode() not in data, f"a secret is stored in {name}"
        assert scanned or not os.path.isdir(self.data_dir)


@contextlib.contextmanager
def emulated_world(tmp_path, make_env) -> Iterator["PluginEnv"]:
    """Stash and Plex emulators around the env `make_env(stash, plex, token, config_dir)`
    builds; teardown ends its drainers, stops both and checks no secret leaked."""
    token = secrets.token_hex(12)
    config_dir = str(tmp_path / "stash-config")
    os.makedirs(config_dir)
    stash = StashEmulator(config_dir=config_dir).start()
    plex = PlexEmulator(token=token).start()
    env = None
    try:
        env = make_env(stash, plex, token, config_dir)
        yield env
    finally:
        try:
            if env is not None:
                env.stop_drainers()
        finally:
            stash.stop()
            plex.stop()
    env.assert_no_secrets()


@pytest.fixture
def plugin_env(tmp_path):
    """Stash and Plex emulators with the repository registered as the Stash2Plex plugin."""
    def make(stash, plex, token, config_dir):
        stash.register_plugin(ROOT, python=sys.executable)
        return PluginEnv(stash, plex, token, config_dir)

    with emulated_world(tmp_path, make) as env:
        yield env


def lock_intervals(log_text: str) -> List[tuple]:
    """(pid, line number) of each drainer's lock take and release, in file order."""
    events = []
    for n, line in enumerate(log_text.splitlines()):
        match = re.match(r"\S+ \S+ (\d+) \w+ drainer (started|exiting)", line)
        if match:
            events.append((int(match.group(1)), match.group(2), n))
    return events
