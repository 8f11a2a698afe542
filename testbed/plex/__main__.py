"""Run the Plex emulator as a process: `python -m testbed.plex --port 0 --token T --seed N`.

The first stdout line is the base URL, so a parent process can read it and connect.
Control it from outside through the JSON endpoints in testbed/plex/control.py.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from testbed.plex.emulator import PlexEmulator
from testbed.serve import serve_until_signalled


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
    return serve_until_signalled(emu)

if __name__ == "__main__":
    sys.exit(main())
