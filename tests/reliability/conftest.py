"""The reliability suite's testbed: both emulators, the real plugin, and a secrets scan.

`testbed` builds what testbed/demo.py builds: a seeded Stash emulator whose config dir
holds the plugin's data (`<config>/plugin_data/Stash2Plex`), a Plex emulator that holds
the same files under another prefix, the plugin's settings saved in Stash (so every
plugin process reads them as it would in a real install), and a PluginRunner that
starts the plugin as Stash does. Hooks fire through `stash.update_scene`, so detached
drainers really start.

Teardown kills every drainer the test left behind (found by its working directory, the
data dir, and by the `drainer` heartbeat row), stops both servers, and scans every log
line, task output and file the test produced for the Plex token, the Stash session
cookies and the API key (promise 11). A leaked secret fails the test at teardown.
"""

from __future__ import annotations

import ast
import os
import random
import secrets
import signal
import sqlite3
import subprocess
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Set

import pytest

from sync_queue.db import migrate
from sync_queue.inbox import DB_FILE_NAME
from sync_queue.store import QueueStore
from testbed.plex import PlexEmulator
from testbed.runner import PluginRunner, RunHandle, RunResult
from testbed.stash import StashEmulator
from tests.support import read_drainer_log, unused_port, wait_until  # noqa: F401 - re-exported to the tests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGIN_ID = "Stash2Plex"
STASH_PREFIX = "/data/stash"
PLEX_PREFIX = "/media/plex"
# Small backoffs keep the suite fast; every one of them is a real setting (the breaker
# ones are internal fields that load_settings accepts like any other).
FAST_SETTINGS: Dict[str, Any] = {
    "retry_base_seconds": 0.2,
    "retry_cap_seconds": 2,
    "not_found_base_seconds": 1,
    "not_found_cap_seconds": 4,
    "breaker_recovery_start": 0.5,
    "breaker_recovery_cap": 2,
    "poll_interval": 0.1,
    "skip_poster": True,
}
HEARTBEAT_STALE_SECONDS = 2.0  # what a hook treats as "no drainer" (sync_queue/inbox.py)
IS_POSIX = os.name == "posix"
HAS_PROC = os.path.isdir("/proc/self")

needs_kill9 = pytest.mark.skipif(not IS_POSIX or not hasattr(signal, "SIGKILL"),
                                 reason="kill -9 needs POSIX signals")


# -- processes --------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True for a live process (a zombie waiting to be reaped counts as dead)."""
    if pid <= 0 or pid == os.getpid():
        return False
    if HAS_PROC:
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"State:"):
                        return b"Z" not in line.split()[1]
        except OSError:
            return False
        return True
    if not IS_POSIX:
        return False  # no cheap, safe probe: os.kill(pid, 0) terminates on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _proc_drainers(data_dir: str) -> Set[int]:
    """Drainer processes of this data dir: `--drain` on the command line, cwd = data dir."""
    found: Set[int] = set()
    if not HAS_PROC:
        return found
    real = os.path.realpath(data_dir)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.path.realpath(f"/proc/{name}/cwd") != real:
                continue
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if b"--drain" in argv and pid_alive(int(name)):
            found.add(int(name))
    return found


def kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
    except OSError:
        pass


# -- the testbed ----------------------------------------------------------------------


class Testbed:
    """Both emulators, the plugin's settings saved in Stash, and a runner for tasks."""

    def __init__(self, workdir: str, scenes: int = 50, settings: Optional[Dict[str, Any]] = None,
                 in_plex: bool = True, auth: bool = False, seed: int = 3):
        self.workdir = workdir
        self.token = "plex-" + secrets.token_hex(12)
        self.stash = StashEmulator(config_dir=os.path.join(workdir, "stash-config"), auth=auth).start()
        self.plex = PlexEmulator(token=self.token).start()
        self.data_dir = os.path.join(self.stash.config_dir, "plugin_data", PLUGIN_ID)
        self.section = self.plex.add_section("Scenes", locations=[PLEX_PREFIX])
        self.scene_ids: List[int] = self.stash.seed(scenes, rng_seed=seed, path_prefix=STASH_PREFIX) if scenes else []
        if in_plex:
            for sid in self.scene_ids:
                self.plex.add_movie(self.section, self.plex_path(sid))
        self.settings: Dict[str, Any] = {"plex_url": self.plex.url, "plex_token": self.token,
                                         "path_map": f"{STASH_PREFIX} => {PLEX_PREFIX}"}
        self.settings.update(FAST_SETTINGS)
        self.settings.update(settings or {})
        self.stash.set_plugin_settings(PLUGIN_ID, self.settings)
        self.stash.register_plugin(ROOT)
        self.runner = PluginRunner(ROOT, self.stash.server_connection(ROOT))
        self.handles: List[RunHandle] = []
        self.results: List[RunResult] = []
        self.extra_texts: List[str] = []  # anything else a test wants scanned for secrets
        self.helpers: List[subprocess.Popen] = []  # other processes a test started (killed at teardown)
        self.pids_seen: Set[int] = set()

    # -- settings and plugin runs ---------------------------------------------------

    def configure(self, **values: Any) -> None:
        """Change saved settings, as the user does on the settings page."""
        self.settings.update(values)
        self.stash.set_plugin_settings(PLUGIN_ID, self.settings)

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

    # -- Stash and Plex side by side --------------------------------------------------

    def stash_path(self, scene_id: int) -> str:
        return self.stash.scene(scene_id)["files"][0]["path"]

    def plex_path(self, scene_id: int) -> str:
        return self.stash_path(scene_id).replace(STASH_PREFIX, PLEX_PREFIX, 1)

    def plex_item(self, scene_id: int) -> Optional[Dict[str, Any]]:
        rk = self.plex.find_by_file(self.plex_path(scene_id))
        return None if rk is None else self.plex.item(rk)

    def expected(self, scene_id: int) -> Dict[str, Any]:
        """What Plex must show for the scene's current Stash state (the fields we compare)."""
        scene = self.stash.scene(scene_id)
        title = (scene.get("title") or "").strip()
        if not title:
            base = os.path.basename(scene["files"][0]["path"])
            title = os.path.splitext(base)[0]
        studio = self.stash.store.studios[scene["studio_id"]]["name"] if scene.get("studio_id") else ""
        tags = sorted({self.stash.store.tags[t]["name"].casefold() for t in scene["tag_ids"]})
        return {"title": " ".join(title.split()), "studio": studio, "genres": tags}

    def problems(self, scene_ids: Optional[List[int]] = None) -> List[str]:
        """Scenes whose Plex item does not show their newest Stash metadata, locked."""
        out = []
        for sid in self.scene_ids if scene_ids is None else scene_ids:
            item = self.plex_item(sid)
            if item is None:
                out.append(f"scene {sid}: no Plex item")
                continue
            want = self.expected(sid)
            got = {"title": item["title"], "studio": item.get("studio") or "",
                   "genres": sorted(g.casefold() for g in item["genres"])}
            if got != want:
                out.append(f"scene {sid}: Plex has {got!r}, Stash has {want!r}")
            elif "title" not in item["locked"]:
                out.append(f"scene {sid}: title not locked")
        return out

    def wait_synced(self, scene_ids: Optional[List[int]] = None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        left = self.problems(scene_ids)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self.problems(scene_ids)
        assert not left, f"{len(left)} scenes not in step after {timeout:.0f} s: {left[:5]}"

    # -- the queue file ----------------------------------------------------------------

    @property
    def db_path(self) -> str:
        return os.path.join(self.data_dir, DB_FILE_NAME)

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
            migrate(conn)  # a hook alone creates only its own tables
            return QueueStore(conn).counts()

    def scalar(self, sql: str, params: tuple = ()) -> Any:
        with self.db() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def heartbeat(self) -> Optional[tuple]:
        """(pid, beat_at) of the drainer heartbeat row, or None."""
        if not os.path.exists(self.db_path):
            return None
        try:
            with self.db() as conn:
                return conn.execute("SELECT pid, beat_at FROM drainer WHERE id = 1").fetchone()
        except sqlite3.Error:
            return None

    def live_drainer(self) -> Optional[int]:
        """The pid of a drainer that is beating now (fresh heartbeat, process alive)."""
        row = self.heartbeat()
        if row and row[0] and time.time() - row[1] < HEARTBEAT_STALE_SECONDS and pid_alive(row[0]):
            self.pids_seen.add(row[0])
            return row[0]
        return None

    def drainer_pids(self) -> Set[int]:
        pids = _proc_drainers(self.data_dir)
        beating = self.live_drainer()
        if beating is not None:
            pids.add(beating)
        self.pids_seen |= pids
        return pids

    def drainer_log(self) -> str:
        return read_drainer_log(self.data_dir)

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
            return row is None or row[1] is None or time.time() - row[1] > HEARTBEAT_STALE_SECONDS + 0.1
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

    def kill_drainers(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            pids = self.drainer_pids()
            if not pids:
                return
            for pid in pids:
                kill_pid(pid)
            time.sleep(0.1)

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
        self.kill_drainers()
        self.stash.stop()
        self.plex.stop()
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
