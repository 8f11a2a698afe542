"""Run an emulator in the foreground until SIGTERM or SIGINT (both command lines use this).

The first stdout line is the base URL, so a parent process can read it and connect.
"""

from __future__ import annotations

import signal
import sys
import threading


def serve_until_signalled(emu, extra_lines=()) -> int:
    """Start `emu`, print its URL (and any extra lines), and stop cleanly on a signal."""
    stop = threading.Event()

    def on_signal(_signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    emu.start()
    try:
        sys.stdout.write(emu.url + "\n")
        for line in extra_lines:
            sys.stdout.write(line() + "\n")  # callables: they may need the started server
        sys.stdout.flush()
        while not stop.wait(0.2):  # wake now and then so signals are handled on every platform
            pass
    finally:
        emu.stop()
    return 0
