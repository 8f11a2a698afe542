"""Run the Plex emulator as a process: `python -m testbed.plex --port 0 --token T --seed N`.

The first stdout line is the base URL, so a parent process can read it and connect.
Control it from outside through the JSON endpoints in testbed/plex/control.py.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import List, Optional

from testbed.plex.emulator import PlexEmulator


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.plex",
                                     description="Plex Media Server emulator (loopback only)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default="T", help="the X-Plex-Token to accept")
    parser.add_argument("--seed", type=int, default=0, help="number of movies to create")
    parser.add_argument("--section-path", default="/data/movies",
                        help="location of the Movies section")
    parser.add_argument("--section-title", default="Movies")
    parser.add_argument("--machine-id", default=None)
    args = parser.parse_args(argv)

    emu = PlexEmulator(token=args.token, port=args.port, machine_id=args.machine_id)
    section = emu.add_section(args.section_title, locations=[args.section_path])
    if args.seed:
        emu.seed(args.seed, section_id=section)
    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    emu.start()
    try:
        sys.stdout.write(emu.url + "\n")
        sys.stdout.flush()
        # Wake now and then so signals are handled promptly on every platform.
        while not stop.wait(0.2):
            pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
