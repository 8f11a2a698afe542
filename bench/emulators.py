"""Where the sync benchmark's emulated servers run: in its process, or each in its own.

The emulators are pure Python. Run as threads of the benchmark's process they share
its GIL, so their work (encoding screenshots, parsing edits, writing XML) is timed as
if it were the engine's, and every switch between engine and server thread waits its
turn. Real Stash and Plex are separate programs, so by default each emulator is hosted
in a process of its own (a multiprocessing manager, which works the same on Linux,
macOS and Windows) and driven through the small facades below; "thread" keeps the old
in-process arrangement for comparison. The emulators are imported where they are
hosted, so the engine's process does not hold their code (the graphql library, the
HTTP server) when they run elsewhere, and its memory figure is the engine's.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.managers import BaseManager
from typing import Any, Dict, List, Optional

PLACES = ("process", "thread")


class _Host:
    """What both emulator hosts share: their process's CPU time, and stopping."""

    emu: Any

    def cpu_seconds(self) -> float:
        """CPU time of the hosting process (the engine's too when hosted in-process)."""
        return time.process_time()

    def stop(self) -> None:
        self.emu.stop()


class StashHost(_Host):
    """The Stash emulator behind the few calls the benchmark needs (picklable results)."""

    def __init__(self) -> None:
        from testbed.stash import StashEmulator

        self.emu = StashEmulator().start()
        self._files: List[str] = []

    def url(self) -> str:
        return self.emu.url

    def seed(self, n: int, path_prefix: str) -> List[int]:
        """Seed `n` scenes; their ids (the distinct paths of their first files: `files`).

        Each screenshot is encoded here, before anything is timed: real Stash makes
        screenshots when it scans and serves them as files, while the emulator would
        otherwise encode each one on its first fetch.
        """
        ids = self.emu.seed(n, path_prefix=path_prefix)
        for scene_id in ids:
            self.emu.image_bytes("scene", scene_id)
        self._files = list(dict.fromkeys(self.emu.scene(i)["files"][0]["path"] for i in ids))
        return ids

    def files(self, start: int, count: int) -> List[str]:
        """A page of the seeded scenes' distinct first-file paths (a page at a time: the
        engine's process never holds them all)."""
        return self._files[start:start + count]

    def server_connection(self, data_dir: str, host: str) -> Dict[str, Any]:
        return self.emu.server_connection(data_dir, host=host)

    def request_paths(self) -> List[str]:
        return [r["path"] for r in self.emu.requests]

    def clear_requests(self) -> None:
        self.emu.clear_requests()



class PlexHost(_Host):
    """The Plex emulator behind the few calls the benchmark needs (picklable results)."""

    def __init__(self, token: str) -> None:
        from testbed.plex import PlexEmulator

        self.emu = PlexEmulator(token=token).start()

    def url(self) -> str:
        return self.emu.url

    def add_section(self, title: str, locations: List[str]) -> int:
        return self.emu.add_section(title, locations=locations)

    def add_movies(self, section_id: int, paths: List[str]) -> int:
        for path in paths:
            self.emu.add_movie(section_id, path)
        return len(paths)

    def latency(self, seconds: float) -> None:
        self.emu.faults.latency(seconds)

    def requests(self) -> List[Dict[str, str]]:
        return [{"method": e["method"], "path": e["path"]} for e in self.emu.requests]

    def reset_log(self) -> None:
        self.emu.reset_log()



class _Manager(BaseManager):
    """One manager (one server process) per emulator, so the two do not share a GIL."""


_Manager.register("StashHost", StashHost)
_Manager.register("PlexHost", PlexHost)


class Hosted:
    """A facade plus the manager process holding it (None when hosted in this process)."""

    def __init__(self, name: str, where: str, *args: Any) -> None:
        if where not in PLACES:
            raise ValueError(f"emulators run in one of {PLACES}, not {where!r}")
        self.where = where
        self._manager: Optional[_Manager] = None
        if where == "thread":
            self.host = {"StashHost": StashHost, "PlexHost": PlexHost}[name](*args)
        else:
            self._manager = _Manager(ctx=multiprocessing.get_context("spawn"))
            self._manager.start()
            self.host = getattr(self._manager, name)(*args)

    def close(self) -> None:
        try:
            self.host.stop()
        finally:
            if self._manager is not None:
                self._manager.shutdown()
