"""Start the background drainer so that Stash never waits for it.

Stash waits for a hook process and everything that inherits its stdout/stderr, so
the drainer gets its own session (POSIX) or a detached process group (Windows), and
fresh pipes: stdin carries the launch document (which holds the session cookie, so
it never appears on a command line), stdout and stderr go nowhere; the drainer logs
to its own rotating file. `subprocess` is imported only here, only when needed.
"""

from __future__ import annotations

import os
import sys

DRAIN_FLAG = "--drain"


def start_drainer(launch: dict) -> bool:
    """Start `Stash2Plex.py --drain` detached; True when a process was started.

    `launch` holds script (the entry point's path), server_connection and data_dir.
    A second drainer started by a racing hook finds the drain lock taken and exits.
    """
    import subprocess  # deliberately lazy: most hooks find a drainer already running

    argv = [sys.executable, launch["script"], DRAIN_FLAG]
    kwargs: dict = {
        "stdin": subprocess.PIPE,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "close_fds": True,
        "cwd": launch["data_dir"],
    }
    if os.name == "nt":
        kwargs["creationflags"] = (
            getattr(subprocess, "DETACHED_PROCESS", 0x00000008)
            | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x00000200)
            | getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000)
        )
    else:
        kwargs["start_new_session"] = True
    try:
        proc = subprocess.Popen(argv, **kwargs)
    except OSError:
        return False  # the job is queued; the next hook or Process Queue will drain it
    from plugin.protocol import dumps  # json's output, without importing json on the hook path

    payload = dumps(launch).encode("utf-8")
    try:
        proc.stdin.write(payload)  # small enough for the pipe buffer: never blocks
        proc.stdin.close()
    except OSError:
        pass
    return True
