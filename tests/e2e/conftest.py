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
import sys
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import pytest

from testbed.runner import RunResult
from testbed.world import PLEX_PREFIX, PLUGIN_ID, ROOT, SECTION, STASH_PREFIX, World  # noqa: F401 - re-exported
from tests.support import unused_port, wait_until  # noqa: F401 - re-exported to the tests

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


class PluginEnv(World):
    """One test's Stash, Plex, plugin runner and data dir, with helpers to drive them."""

    def __init__(self, workdir: str, with_plugin: bool = True):
        super().__init__(workdir, settings={"poll_interval": 0.2, "drainer_linger_seconds": 3}, python=sys.executable, with_plugin=with_plugin)
        self.results: List[RunResult] = []
        self.extra_secrets: List[str] = []

    def use_wrong_token(self) -> str:
        """Save a token Plex rejects (kept out of every output like the real one)."""
        wrong = "wrong-" + self.token[::-1]
        self.extra_secrets.append(wrong)
        self.configure(plex_token=wrong)
        return wrong

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
        """Drop the jobs exactly as a hook does, without starting a drainer."""
        from sync_queue import drops

        for scene_id in scene_ids:
            drops.drop(self.data_dir, scene_id, "Scene.Update.Post")

    def synced_pair_then_edit(self, title: str) -> Tuple[int, int, str]:
        """Two scenes synced, then the first retitled in Stash (no hook) and Plex's log cleared.

        Returns (edited, untouched, the edited scene's Plex title before the edit).
        """
        scene, other = self.seed(2)
        self.queue_directly([scene, other])
        self.ok_task("Process Queue")
        before = self.plex_title(scene)
        self.stash.update_scene(scene, hooks=False, title=title)
        self.plex.reset_log()
        return scene, other, before

    # -- cleanup -------------------------------------------------------------------
    def stop_drainers(self, timeout: float = 20.0) -> bool:
        """End every drainer this test's hooks and tasks started (bounded); fail the test if one stays."""
        if not super().stop_drainers(timeout):
            pytest.fail(f"drainers of {self.data_dir} still running after {timeout:.0f} s")
        return True

    def secrets(self) -> List[str]:
        """The Plex token(s) and every session cookie handed to a plugin process."""
        values = [self.token, self.stash.session_cookie] + self.extra_secrets
        for result in self.results + [run.result for run in self.stash.hook_runs] + self.stash.operation_runs:
            cookie = ((result.stdin or {}).get("server_connection") or {}).get("SessionCookie") or {}
            values.append(cookie.get("Value"))
        return sorted({v for v in values if v})

    def assert_no_secrets(self) -> None:
        """No secret in any stdout, stderr line or file of the data dir (SQLite bytes included)."""
        secret_list = self.secrets()
        texts = []
        for result in self.results + [run.result for run in self.stash.hook_runs] + self.stash.operation_runs:
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
def torn_down(env: "PluginEnv") -> Iterator["PluginEnv"]:
    """Yield `env`; then end its drainers, stop both emulators and check no secret leaked."""
    try:
        yield env
    finally:
        try:
            env.stop_drainers()
        finally:
            env.stop()
    env.assert_no_secrets()


@pytest.fixture
def plugin_env(tmp_path):
    """Stash and Plex emulators with the repository registered as the Stash2Plex plugin."""
    with torn_down(PluginEnv(str(tmp_path))) as env:
        yield env


def lock_intervals(log_text: str) -> List[tuple]:
    """(pid, line number) of each drainer's lock take and release, in file order."""
    events = []
    for n, line in enumerate(log_text.splitlines()):
        match = re.match(r"\S+ \S+ (\d+) \w+ drainer (started|exiting)", line)
        if match:
            events.append((int(match.group(1)), match.group(2), n))
    return events
