"""Sync engine benchmark: request budget, throughput and the 50,000-item path index.

    python -m bench.bench_sync [--scenes 300] [--throughput 2000] [--index 50000]

Runs the real SceneSyncer (stashapi + plexapi over HTTP) against the emulated servers
and prints; it asserts nothing. Figures:
  - Plex requests per scene for a first sync and an unchanged re-sync, not counting
    image uploads and rating calls (promise 2 budget: <= 1.5 and <= 0.05)
  - Stash requests per scene (GraphQL and image fetches)
  - scenes per second for a first sync at 0 ms and 5 ms of added Plex latency
  - the time and peak Python memory of building the index of a 50,000-item library
    (the emulator runs in its own process so its memory is not counted), and the
    Plex requests made by lookups (zero).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

import requests

from plex import client as plex_client
from plex.index import PathIndex
from plex.pathmap import PathMapper
from stash.client import StashReader
from sync_queue.db import open_db
from testbed.plex import PlexEmulator
from testbed.stash import StashEmulator
from validation.settings import Settings
from worker.scene_sync import SceneSyncer

TOKEN = "bench-token"
BATCH = 50  # the SyncWorker's default batch size


def _is_image_or_rating(entry: dict) -> bool:
    path = entry["path"]
    return path == "/:/rate" or (entry["method"] == "POST" and path.endswith(("/posters", "/arts")))


def _library(n: int, plex: PlexEmulator, stash: StashEmulator, sid: int):
    ids = stash.seed(n, path_prefix="/data/stash")
    mapper = PathMapper("/data => /media")
    seen = set()
    for scene_id in ids:
        path = mapper.to_plex(stash.scene(scene_id)["files"][0]["path"])
        if path not in seen:
            seen.add(path)
            plex.add_movie(sid, path)
    return ids


def _run(ids, syncer):
    started = time.perf_counter()
    outcomes = {}
    for start in range(0, len(ids), BATCH):
        outcomes.update(syncer.sync_batch(ids[start:start + BATCH]))
    return outcomes, time.perf_counter() - started


def _setup(n: int, data_dir: str, latency: float = 0.0, **options):
    plex = PlexEmulator(token=TOKEN).start()
    stash = StashEmulator().start()
    sid = plex.add_section("Movies", locations=["/media/stash"])
    ids = _library(n, plex, stash, sid)
    conn = open_db(data_dir)
    settings = Settings(plex_url=plex.url, plex_token=TOKEN, path_map="/data => /media", **options)
    reader = StashReader.from_server_connection(stash.server_connection(data_dir, host="0.0.0.0"))
    session = requests.Session()
    syncer = SceneSyncer(settings, reader, lambda: plex_client.connect(settings, conn, session), conn)
    if latency:
        plex.faults.latency(latency)
    plex.reset_log()
    stash.clear_requests()
    return plex, stash, conn, syncer, ids


def _outcome_summary(outcomes) -> str:
    kinds = {}
    for value in outcomes.values():
        name = getattr(value, "status", type(value).__name__)
        kinds[name] = kinds.get(name, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))


def budget(n: int) -> None:
    print(f"== request budget, {n} scenes, batches of {BATCH}")
    with tempfile.TemporaryDirectory() as data_dir:
        plex, stash, conn, syncer, ids = _setup(n, data_dir)
        try:
            outcomes, took = _run(ids, syncer)
            log = plex.requests
            counted = [e for e in log if not _is_image_or_rating(e)]
            graphql = sum(1 for r in stash.requests if r["path"] == "/graphql")
            images = len(stash.requests) - graphql
            print(f"first sync:      {_outcome_summary(outcomes)} in {took:.2f} s")
            print(f"  Plex requests/scene (excl. uploads and ratings): {len(counted) / n:.3f}"
                  f"  [{len(counted)} of {len(log)} total]")
            by_kind = {}
            for e in counted:
                path = "/library/metadata/…" if e["path"].startswith("/library/metadata/") else e["path"]
                key = f"{e['method']} {path}"
                by_kind[key] = by_kind.get(key, 0) + 1
            for key, count in sorted(by_kind.items(), key=lambda kv: -kv[1]):
                print(f"    {count:6d}  {key}")
            print(f"  Stash requests/scene: {(graphql + images) / n:.3f}"
                  f"  [GraphQL {graphql}, image fetches {images}]")

            plex.reset_log()
            stash.clear_requests()
            outcomes, took = _run(ids, syncer)
            counted = [e for e in plex.requests if not _is_image_or_rating(e)]
            print(f"unchanged resync: {_outcome_summary(outcomes)} in {took:.2f} s")
            print(f"  Plex requests/scene: {len(counted) / n:.3f}  [{len(plex.requests)} total]")
            print(f"  Stash requests/scene: {len(stash.requests) / n:.3f}")
        finally:
            conn.close()
            plex.stop()
            stash.stop()


def throughput(n: int, latency: float, **options) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        plex, stash, conn, syncer, ids = _setup(n, data_dir, latency, **options)
        try:
            outcomes, took = _run(ids, syncer)
            extra = "".join(f", {k}" for k in options)
            print(f"first sync of {n} scenes at {latency * 1000:.0f} ms Plex latency{extra}: "
                  f"{n / took:.1f} scenes/s ({took:.1f} s; {_outcome_summary(outcomes)})")
        finally:
            conn.close()
            plex.stop()
            stash.stop()


def _plex_process(n: int):
    proc = subprocess.Popen(
        [sys.executable, "-m", "testbed.plex", "--token", TOKEN, "--seed", str(n)],
        stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    url = proc.stdout.readline().strip()
    return proc, url


def index(n: int) -> None:
    print(f"== path index, {n} items (emulator in its own process)")
    started = time.perf_counter()
    proc, url = _plex_process(n)
    print(f"emulator seeded in {time.perf_counter() - started:.1f} s")
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            conn = open_db(data_dir)
            settings = Settings(plex_url=url, plex_token=TOKEN, plex_timeout=120)
            server = plex_client.connect(settings, conn)
            sections = plex_client.resolve_sections(server, settings)
            idx = PathIndex(conn)

            started = time.perf_counter()
            idx.build(server, sections)
            took = time.perf_counter() - started
            stats = idx.stats()
            print(f"build: {took:.2f} s for {stats['items']} items / {stats['size']} paths "
                  f"({stats['items'] / took:.0f} items/s)")

            tracemalloc.start()
            idx.build(server, sections)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"build peak Python memory (tracemalloc, second run): {peak / 2**20:.1f} MiB")

            paths = [row[0] for row in conn.execute("SELECT file_path FROM plex_index LIMIT 1000")]
            before = requests.get(f"{url}/__testbed__/requests").json()["count"]
            started = time.perf_counter()
            hits = sum(1 for p in paths if idx.lookup(p))
            took = time.perf_counter() - started
            after = requests.get(f"{url}/__testbed__/requests").json()["count"]
            print(f"lookups: {hits}/{len(paths)} found, {took / len(paths) * 1e6:.0f} µs each, "
                  f"Plex requests made: {after - before}")

            for attempt in ("first", "second"):
                started = time.perf_counter()
                changed = idx.refresh(server, sections)
                print(f"incremental refresh ({attempt}), nothing changed in Plex: "
                      f"{time.perf_counter() - started:.2f} s, {changed} items re-read")
            conn.close()
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--throughput", type=int, default=2000)
    parser.add_argument("--index", type=int, default=50000)
    args = parser.parse_args(argv)
    if args.scenes:
        budget(args.scenes)
    if args.throughput:
        print(f"== throughput, {args.throughput} scenes")
        for latency in (0.0, 0.005):
            throughput(args.throughput, latency)
        # The emulators run in this process and share its GIL; generating and decoding
        # screenshots is most of their work, as this run without posters shows.
        throughput(args.throughput, 0.0, skip_poster=True)
    if args.index:
        index(args.index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
