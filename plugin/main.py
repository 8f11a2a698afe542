"""Dispatch one plugin run: a hook, a task, or the detached drainer.

The hook branch imports only the standard library; tasks and the drainer import the
heavy clients lazily, after the dependency check can still answer with a clear error.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import List

from plugin import stashlog
from plugin.datadir import resolve_data_dir
from plugin.protocol import ProtocolError, parse_input, reply
from plugin.spawn import DRAIN_FLAG


def read_stdin() -> str:
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    return data.decode("utf-8", errors="replace")


def answer(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(argv: List[str], script: str) -> int:
    raw = read_stdin()
    if DRAIN_FLAG in argv:
        from plugin import drainer  # deliberately lazy: only the drainer needs the clients

        return drainer.main(raw)
    try:
        request = parse_input(raw)
    except ProtocolError as exc:
        stashlog.emit("error", f"Stash2Plex: {exc}")
        answer(reply(error=str(exc)))
        return 0
    data_dir = resolve_data_dir(request.server_connection)
    if request.hook is not None:
        from plugin import hook

        launch = {"script": script, "data_dir": data_dir, "server_connection": request.server_connection}
        try:
            answer(reply(hook.handle(request.hook, data_dir, launch)))
        except (OSError, sqlite3.Error) as exc:
            message = f"could not queue scene {request.hook.scene_id} in {data_dir}: {exc}"
            stashlog.emit("error", f"Stash2Plex: {message}")
            answer(reply(error=message))
        return 0
    from plugin.deps import missing_dependencies_message

    problem = missing_dependencies_message(request.server_connection.get("PluginDir") or "")
    if problem:
        stashlog.emit("error", f"Stash2Plex: {problem}")
        answer(reply(error=problem))
        return 0
    from tasks.dispatch import run_task  # deliberately lazy: keeps plexapi off the hook path

    answer(run_task(request, data_dir, script))
    return 0
