"""One Stash install with Plex beside it, emulated: the setup the demo and the tests share.

A World starts both emulators on 127.0.0.1, gives Plex a movie library, registers this
repository as the Stash2Plex plugin (so a save in Stash fires the real hook) and saves
working settings in Stash, as a user does on the settings page. Stash sees the files
under STASH_PREFIX and Plex under PLEX_PREFIX, joined by a path_map rule, because that
is how most real installs look (Stash in Docker, Plex on the host or a NAS).

It also reads the world back: which Plex item holds a scene's file, what Plex must show
for the scene's current Stash state, and which drainer processes are alive.
"""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import time
from typing import Any, Dict, Iterable, List, Optional, Set

from sync_queue import drops
from sync_queue.inbox import DB_FILE_NAME
from testbed.layout import PATH_MAP, PLEX_PREFIX, SECTION, STASH_PREFIX  # noqa: F401 (re-exported)
from testbed.plex import PlexEmulator
from testbed.runner import PluginRunner
from testbed.stash import StashEmulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN_ID = "Stash2Plex"
HEARTBEAT_FRESH_SECONDS = 2.0


def plex_path_of(stash_path: str) -> str:
    """Where Plex sees a file that Stash sees at `stash_path` (the PATH_MAP rule)."""
    return stash_path.replace(STASH_PREFIX, PLEX_PREFIX, 1)


def expected_title(scene: Dict[str, Any]) -> str:
    """The title Plex must show: Stash's, or the file name without its extension."""
    title = " ".join((scene.get("title") or "").split())
    if title:
        return title
    return os.path.splitext(os.path.basename(scene["files"][0]["path"]))[0]


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie waiting to be reaped counts as dead."""
    if pid <= 0 or pid == os.getpid():
        return False
    if os.path.isdir("/proc/self"):
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"State:"):
                        return b"Z" not in line.split()[1]
        except OSError:
            return False
        return True
    if os.name != "posix":
        return False  # no cheap, safe probe: os.kill(pid, 0) terminates on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill(pid: int) -> None:
    """kill -9 where there is one (Stash's Stop, a crash); terminate elsewhere."""
    try:
        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    except OSError:
        pass


def drainer_processes(data_dir: str) -> List[int]:
    """Drainers of this data dir found in /proc: `--drain` in argv, working in the data dir.

    Listed from the moment the hook or task that spawned one could exit, before it
    writes a heartbeat. Empty where there is no /proc.
    """
    if not os.path.isdir("/proc/self"):
        return []
    real = os.path.realpath(data_dir)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.path.realpath(f"/proc/{name}/cwd") != real:
                continue
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if b"--drain" in argv and pid_alive(int(name)):
            found.append(int(name))
    return sorted(found)


class World:
    """Both emulators, one Plex library, the plugin registered and its settings saved."""

    def __init__(self, workdir: str, scenes: int = 0, settings: Optional[Dict[str, Any]] = None,
                 in_plex: bool = True, auth: bool = False, rng_seed: int = 3, token: Optional[str] = None,
                 python: Optional[str] = None, with_plugin: bool = True):
        self.workdir = workdir
        self.token = token or "plex-" + secrets.token_hex(12)
        self.stash = StashEmulator(config_dir=os.path.join(workdir, "stash-config"), auth=auth).start()
        try:
            self.plex = PlexEmulator(token=self.token).start()
        except BaseException:
            self.stash.stop()
            raise
        self.data_dir = os.path.join(self.stash.config_dir, "plugin_data", PLUGIN_ID)
        self.section = self.plex.add_section(SECTION, locations=[PLEX_PREFIX])
        self.settings: Dict[str, Any] = {"plex_url": self.plex.url, "plex_token": self.token, "path_map": PATH_MAP}
        self.settings.update(settings or {})
        if with_plugin:  # without: a bare Stash, where a test installs the plugin as a user does
            self.stash.set_plugin_settings(PLUGIN_ID, dict(self.settings))
            if python:
                self.stash.register_plugin(ROOT, python=python)
            else:
                self.stash.register_plugin(ROOT)
        self.runner = PluginRunner(ROOT, self.stash.server_connection(ROOT))
        self.scene_ids: List[int] = self.seed(scenes, rng_seed=rng_seed, in_plex=in_plex) if scenes else []

    # -- setting up --------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Save settings in Stash (read-modify-write, as the settings page does); None removes a key."""
        for key, value in changes.items():
            if value is None:
                self.settings.pop(key, None)
            else:
                self.settings[key] = value
        self.stash.set_plugin_settings(PLUGIN_ID, dict(self.settings))

    def seed(self, n: int, rng_seed: int = 3, in_plex: bool = True) -> List[int]:
        """n scenes in Stash; with in_plex, each file is already scanned into Plex."""
        ids = self.stash.seed(n, rng_seed=rng_seed, path_prefix=STASH_PREFIX)
        if in_plex:
            for sid in ids:
                self.plex.add_movie(self.section, self.plex_path(sid))
        return ids

    # -- Stash and Plex side by side -----------------------------------------------------

    def stash_path(self, scene_id: int) -> str:
        return self.stash.scene(scene_id)["files"][0]["path"]

    def plex_path(self, scene_id: int) -> str:
        return plex_path_of(self.stash_path(scene_id))

    def plex_item(self, scene_id: int) -> Optional[Dict[str, Any]]:
        key = self.plex.find_by_file(self.plex_path(scene_id))
        return None if key is None else self.plex.item(key)

    def plex_title(self, scene_id: int) -> Optional[str]:
        item = self.plex_item(scene_id)
        return None if item is None else item["title"]

    def expected_title(self, scene_id: int) -> str:
        return expected_title(self.stash.scene(scene_id))

    def in_step(self, scene_ids: Iterable[int]) -> bool:
        return all(self.plex_title(sid) == self.expected_title(sid) for sid in scene_ids)

    def titles_in_plex(self, wanted: Dict[int, str]) -> bool:
        return all(self.plex_title(sid) == title for sid, title in wanted.items())

    def expected(self, scene_id: int) -> Dict[str, Any]:
        """What Plex must show for the scene's current Stash state (the fields compared)."""
        scene = self.stash.scene(scene_id)
        store = self.stash.store
        studio = store.studios[scene["studio_id"]]["name"] if scene.get("studio_id") else ""
        tags = sorted({store.tags[t]["name"].casefold() for t in scene["tag_ids"]})
        return {"title": expected_title(scene), "studio": studio, "genres": tags}

    def problems(self, scene_ids: Optional[Iterable[int]] = None) -> List[str]:
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

    # -- the plugin's own state ------------------------------------------------------------

    @property
    def db_path(self) -> str:
        return os.path.join(self.data_dir, DB_FILE_NAME)

    def waiting_scene_ids(self) -> List[int]:
        """Scenes queued and not yet taken by a drainer: the hooks' drops and the inbox rows."""
        dropped = [job[0] for _path, job in drops.pending(self.data_dir)]
        return sorted(set(dropped) | {row[0] for row in self.rows("SELECT scene_id FROM inbox")})

    def rows(self, sql: str, params: Iterable[Any] = ()) -> List[tuple]:
        """Read the plugin's SQLite file (read-only); [] before it exists or has the table."""
        if not os.path.exists(self.db_path):
            return []
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            conn.close()

    def heartbeat(self) -> Optional[tuple]:
        """(pid, beat_at) of the drainer's heartbeat row, or None."""
        try:
            found = self.rows("SELECT pid, beat_at FROM drainer WHERE id = 1")
        except sqlite3.Error:
            return None
        return found[0] if found else None

    def live_drainer(self) -> Optional[int]:
        """The pid of a drainer beating now (fresh heartbeat, process alive)."""
        row = self.heartbeat()
        if row and row[0] and row[1] and time.time() - row[1] < HEARTBEAT_FRESH_SECONDS and pid_alive(row[0]):
            return row[0]
        return None

    def drainer_pids(self) -> Set[int]:
        """Live drainers of this data dir: from /proc, plus the one beating now."""
        pids = set(drainer_processes(self.data_dir))
        beating = self.live_drainer()
        if beating is not None:
            pids.add(beating)
        return pids

    def lock_busy(self) -> bool:
        from worker.lock import DrainLock  # the product's own lock: filelock, same file

        return os.path.isdir(self.data_dir) and DrainLock(self.data_dir).is_held_elsewhere()

    def stop_drainers(self, timeout: float = 20.0) -> bool:
        """Kill every drainer of this data dir until none runs and the lock is free; False on timeout."""
        deadline = time.monotonic() + timeout
        # /proc lists a drainer from the moment its hook or task could exit; a heartbeat
        # appears only once the drainer runs, so without /proc the lock must stay free a while.
        settle = 0.0 if os.path.isdir("/proc/self") else 1.0
        quiet_since = None
        while time.monotonic() < deadline:
            pids = self.drainer_pids()
            for pid in pids:
                kill(pid)
            if pids or self.lock_busy():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            if quiet_since is not None and time.monotonic() - quiet_since >= settle:
                return True
            time.sleep(0.05)
        return False

    def drainer_log(self) -> str:
        """The detached drainer's log (plugin/logsetup.py), or '' before it wrote one."""
        path = os.path.join(self.data_dir, "logs", "drainer.log")
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def stop(self) -> None:
        try:
            self.stash.stop()
        finally:
            self.plex.stop()
