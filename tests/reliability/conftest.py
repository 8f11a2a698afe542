"""The reliability suite's testbed: a World (testbed/world.py) with fast backoffs.

`make_testbed` builds the same install the demo and the end-to-end tests use: a seeded
Stash emulator whose config dir holds the plugin's data, a Plex emulator holding the
same files under another prefix, the plugin's settings saved in Stash, and a
PluginRunner that starts the plugin as Stash does. Hooks fire through
`stash.update_scene`, so detached drainers really start.

Teardown kills every drainer the test left behind (found by its working directory, the
data dir, and by the `drainer` heartbeat row), stops both servers, and scans every log
line, task output and file the test produced for the Plex token, the Stash session
cookies and the API key (promise 11). A leaked secret fails the test at teardown.
"""

from __future__ import annotations

import ast
import os
import random
import signal
import sqlite3
import subprocess
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from worker.database import migrate
from sync_queue.store import QueueStore
from testbed.runner import RunHandle, RunResult
from testbed.world import HEARTBEAT_FRESH_SECONDS, PLEX_PREFIX, PLUGIN_ID, STASH_PREFIX, World
from testbed.world import kill as kill_pid
from tests.support import unused_port, wait_until  # noqa: F401 - re-exported to the tests

__all__ = ["PLEX_PREFIX", "STASH_PREFIX", "kill_pid", "unused_port", "wait_until"]

# Small backoffs keep the suite fast; every one of them is a real setting (the breaker
# ones are internal fields that load_settings accepts like any other).
FAST_SETTINGS: Dict[str, Any] = {
    "drainer_linger_seconds": 3,  # as before the setting: drainers leave soon after the queue empties
    "retry_base_seconds": 0.2,
    "retry_cap_seconds": 2,
    "not_found_base_seconds": 1,
    "not_found_cap_seconds": 4,
    "breaker_recovery_start": 0.5,
    "breaker_recovery_cap": 2,
    "poll_interval": 0.1,
    "skip_poster": True,
}
IS_POSIX = os.name == "posix"
HAS_PROC = os.path.isdir("/proc/self")

needs_kill9 = pytest.mark.skipif(not IS_POSIX or not hasattr(signal, "SIGKILL"),
                                 reason="kill -9 needs POSIX signals")


# -- the testbed ----------------------------------------------------------------------


class Testbed(World):
    """A World with fast backoffs, 50 seeded scenes by default, and runs kept for the secrets scan."""

    def __init__(self, workdir: str, scenes: int = 50, settings: Optional[Dict[str, Any]] = None,
                 in_plex: bool = True, auth: bool = False, seed: int = 3):
        super().__init__(workdir, scenes=scenes, settings={**FAST_SETTINGS, **(settings or {})},
                         in_plex=in_plex, auth=auth, rng_seed=seed)
        self.handles: List[RunHandle] = []
        self.results: List[RunResult] = []
        self.extra_texts: List[str] = []  # anything else a test wants scanned for secrets
        self.helpers: List[subprocess.Popen] = []  # other processes a test started (killed at teardown)

    # -- settings and plugin runs ---------------------------------------------------

    def start_task(self, name: str, args: Optional[Dict[str, Any]] = None) -> RunHandle:
        handle = self.runner.start_task(name, args)
        self.handles.append(handle)
        return handle

    def finish(self, handle: RunHandle, timeout: float = 90.0) -> RunResult:
        result = handle.wait(timeout)
        self.results.append(result)
        return result

    def run_task(self, name: str, args: Optional[Dict[str, Any]] = None, timeout: float = 90.0) -> RunResult:
        return self.finish(self.start_task(name, args), timeout)

    def run_raw(self, stdin, timeout: float = 30.0) -> RunResult:
        result = self.runner.run_raw(stdin, timeout)
        self.results.append(result)
        return result

    def start_hook(self, scene_id: int, **kwargs: Any) -> RunHandle:
        handle = self.runner.start_hook("Scene.Update.Post", scene_id, **kwargs)
        self.handles.append(handle)
        return handle

    def edit(self, scene_id: int, **fields: Any) -> None:
        """Save a scene in Stash; its hook runs (and this waits for it, as Stash does)."""
        self.stash.update_scene(scene_id, **fields)

    # -- waiting ---------------------------------------------------------------------

    def wait_synced(self, scene_ids: Optional[List[int]] = None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        left = self.problems(scene_ids)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self.problems(scene_ids)
        assert not left, f"{len(left)} scenes not in step after {timeout:.0f} s: {left[:5]}"

    # -- the queue file ----------------------------------------------------------------

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """A plain connection for reading state (never creates, migrates or repairs)."""
        conn = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    def counts(self) -> Dict[str, Any]:
        with self.db() as conn:
            migrate(conn)  # before the first drainer, the file may not exist yet
            return QueueStore(conn).counts()

    def scalar(self, sql: str, params: tuple = ()) -> Any:
        with self.db() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def drain_summaries(self) -> List[Dict[str, Any]]:
        """The worker summaries the background drainers logged ("drain finished: {...}")."""
        found = []
        for line in self.drainer_log().splitlines():
            head, sep, tail = line.partition(" drain finished: ")
            if sep:
                found.append(ast.literal_eval(tail))
        return found

    def wait_heartbeat_stale(self, timeout: float = 10.0) -> None:
        """After a kill -9 the dead drainer's beat looks fresh for 2 s; hooks start no drainer until it is stale."""
        def stale() -> bool:
            row = self.heartbeat()
            return row is None or row[1] is None or time.time() - row[1] > HEARTBEAT_FRESH_SECONDS + 0.1
        wait_until(stale, timeout, "the dead drainer's heartbeat to go stale", interval=0.1)

    def wait_idle(self, timeout: float = 60.0, until_exit: bool = False) -> Dict[str, Any]:
        """Until nothing is queued, claimed or waiting (and, with until_exit, no drainer runs).

        An idle drainer lingers a few seconds before it exits; teardown kills it, so most
        tests need not wait for that.
        """
        def idle():
            counts = self.counts()
            if counts["pending"] or counts["deferred"] or (until_exit and self.drainer_pids()):
                return None
            return counts
        return wait_until(idle, timeout, "the queue to drain", interval=0.1)

    # -- secrets -----------------------------------------------------------------------

    def all_results(self) -> List[RunResult]:
        return list(self.results) + [run.result for run in self.stash.hook_runs]

    def secrets(self) -> Dict[str, str]:
        """Every secret the plugin was given: the Plex token, session cookies, the API key."""
        found = {"plex token": self.token}
        if self.stash.api_key:
            found["Stash API key"] = self.stash.api_key
        cookies = {self.stash.session_cookie}
        for result in self.all_results():
            doc = result.stdin if isinstance(result.stdin, dict) else {}
            cookie = (doc.get("server_connection") or {}).get("SessionCookie") or {}
            if cookie.get("Value"):
                cookies.add(cookie["Value"])
        for n, value in enumerate(sorted(cookies)):
            found[f"session cookie {n}"] = value
        return found

    def leaks(self) -> List[str]:
        """Where a secret shows up: task/hook logs and output, and every file in the work dir."""
        wanted = {name: value for name, value in self.secrets().items() if value}
        texts: List[tuple] = []
        for n, result in enumerate(self.all_results()):
            body = "\n".join([result.raw_stdout, *result.stray_stderr, *(t for _, t in result.logs)])
            texts.append((f"run {n} ({' '.join(result.argv[-1:])})", body.encode("utf-8", "replace")))
        for n, text in enumerate(self.extra_texts):
            texts.append((f"extra text {n}", text.encode("utf-8", "replace")))
        # The work dir (Stash's config dir, so the plugin's data dir) and the working
        # directories Stash starts the plugin in: nothing the plugin writes may hold a secret.
        roots = [self.workdir, self.runner.cwd, self.stash.plugins.runner(PLUGIN_ID).cwd]
        for root in roots:
            for folder, _dirs, files in os.walk(root):
                for name in files:
                    path = os.path.join(folder, name)
                    try:
                        with open(path, "rb") as fh:
                            texts.append((os.path.relpath(path, root), fh.read()))
                    except OSError:
                        pass
        out = []
        for where, blob in texts:
            for name, value in wanted.items():
                if value.encode("utf-8") in blob:
                    out.append(f"{name} found in {where}")
        return out

    # -- teardown ------------------------------------------------------------------------

    def close(self) -> List[str]:
        for proc in self.helpers:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        for handle in self.handles:
            handle.kill()
        for handle in self.handles:
            try:
                handle.proc.wait(10)
            except Exception:  # noqa: BLE001 - teardown keeps going
                pass
        self.stop_drainers()
        self.stop()
        return self.leaks()


@pytest.fixture
def make_testbed(tmp_path) -> Iterator[Callable[..., Testbed]]:
    """Factory: make_testbed(scenes=…, settings={…}, in_plex=…, auth=…)."""
    beds: List[Testbed] = []

    def make(**kwargs: Any) -> Testbed:
        bed = Testbed(str(tmp_path / f"bed{len(beds)}"), **kwargs)
        beds.append(bed)
        return bed

    yield make
    leaks: List[str] = []
    for bed in beds:
        leaks.extend(bed.close())
    assert not leaks, f"secrets leaked: {leaks[:10]}"


@pytest.fixture
def rng() -> random.Random:
    """A random source seeded from the test's name, printed so a failure can be replayed."""
    seed = os.environ.get("RELIABILITY_SEED") or str(random.SystemRandom().randrange(10 ** 6))
    print(f"random seed {seed} (set RELIABILITY_SEED to replay)")
    return random.Random(int(seed))
