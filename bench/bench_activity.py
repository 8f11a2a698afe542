"""Plex activity import benchmark: a long Plex play history, a few new plays.

    python -m bench.bench_activity [--history 50000] [--new 100] [--items 500]

The real importer (plexapi and stashapi over HTTP) against the emulated servers, in
this process. `--history` plays are spread over `--items` synced items; a first import
brings them all; then `--new` plays are added and imported again, then once more with
nothing new. Prints requests and seconds per run; asserts nothing. The figure that
carries over is the request count of the second run: O(new plays), not O(history).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Tuple

from bench.report import Table
from sync_queue.sync_state import ItemState
from testbed.plex import PlexEmulator
from testbed.stash import StashEmulator
from testbed.world import PLEX_PREFIX, SECTION, STASH_PREFIX
from validation.settings import Settings
from worker.activity_import import import_activity
from worker.composition_root import App

TOKEN = "bench-token"
START = 1_600_000_000


def _library(plex, stash, app, items: int):
    sid = plex.add_section(SECTION, locations=[PLEX_PREFIX])
    keys = []
    for n in range(items):
        scene = stash.store.add_scene(files=[f"{STASH_PREFIX}/clip {n}.mp4"], title=f"Clip {n}")
        rk = plex.add_movie(sid, f"{PLEX_PREFIX}/clip {n}.mp4", title=f"Clip {n}")
        app.sync_state.record_item(ItemState(scene, str(rk), str(sid), written={}))
        keys.append(rk)
    return keys


def _add_plays(plex, keys, count: int, first: int) -> int:
    """`count` plays, one a minute from `first`, round-robin over the items; returns the next time."""
    with plex.store.lock:
        for n in range(count):
            rk = keys[n % len(keys)]
            item = plex.store.item(rk)
            plex.store.history.add(rk, item.section_id, item.title(), first + 60 * n)
    return first + 60 * count


def _measure(app, plex, stash) -> Tuple[dict, int, int, float]:
    plex.reset_log()
    stash.clear_requests()
    started = time.perf_counter()
    out = import_activity(app)
    return out, plex.count(), len(stash.requests), time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, default=50_000)
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--items", type=int, default=500)
    opts = parser.parse_args(argv)
    table = Table(f"Plex activity import ({opts.history} plays in the history, {opts.new} new)")
    with PlexEmulator(token=TOKEN) as plex, StashEmulator() as stash, tempfile.TemporaryDirectory() as tmp:
        data_dir = os.path.join(tmp, "data")
        settings = Settings(plex_url=plex.url, plex_token=TOKEN, path_map=f"{STASH_PREFIX} => {PLEX_PREFIX}")
        app = App(stash.server_connection(tmp), data_dir, settings=settings)
        try:
            keys = _library(plex, stash, app, opts.items)
            app.stash  # noqa: B018 - connect first: stashapi's three start-up requests are not the import's
            app.sections()
            later = _add_plays(plex, keys, opts.history, START)
            for label, new in (("first import (whole history)", 0), (f"{opts.new} new plays", opts.new),
                               ("nothing new", 0)):
                _add_plays(plex, keys, new, later)
                later += 60 * new
                out, plex_requests, stash_requests, seconds = _measure(app, plex, stash)
                table.row(f"{label}: plays imported", str(out["plays"]))
                table.row(f"{label}: Plex requests", str(plex_requests))
                table.row(f"{label}: Stash requests", str(stash_requests))
                table.row(f"{label}: seconds", f"{seconds:.2f}")
        finally:
            app.close()
    table.print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
