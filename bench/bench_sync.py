"""Sync engine benchmark: request budget, throughput and the 50,000-item path index.

    python -m bench.bench_sync [--scenes 300] [--throughput 2000] [--index 50000]
                               [--emulators process|thread]

Runs the real SceneSyncer (stashapi + plexapi over HTTP) against the emulated servers
and prints; it asserts nothing. The emulators are pure Python: by default each runs in
a process of its own (bench/emulators.py says why), so the figures time the engine
rather than the emulators' turns on its GIL. Figures:
  - Plex requests per scene for a first sync and an unchanged re-sync, not counting
    image uploads and rating calls (promise 2 budget: <= 1.5 and <= 0.05)
  - Stash requests per scene: GraphQL (budget <= 0.02) and image fetches
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
from array import array

import requests

from bench.emulators import PLACES, Hosted
from plex import client as plex_client
from plex.tls import PlexSession
from plex.index import PathIndex
from validation.pathmap import PathMap
from stash.client import StashReader
from worker.database import open_db
from testbed.layout import PATH_MAP, PLEX_PREFIX, SECTION, STASH_PREFIX
from validation.settings import Settings
from worker.batch import BATCH_SIZE
from worker.batch.lanes import EDIT_THREADS
from worker.batch.syncer import SceneSyncer

TOKEN = "bench-token"
BATCH = BATCH_SIZE  # the SyncWorker's default batch size
SEED_PAGE = 1000  # file paths handed from the Stash emulator to the Plex one per call


def _is_image_or_rating(entry: dict) -> bool:
    path = entry["path"]
    return path == "/:/rate" or (entry["method"] == "POST" and path.endswith(("/posters", "/arts")))


def _library(n: int, plex, stash, sid: int) -> "array[int]":
    """Seed `n` scenes in Stash and an item for each distinct file in Plex; the scene ids.

    The paths cross from one emulator to the other a page at a time and the ids are
    kept as a compact array, so the engine's process holds no per-scene strings or
    objects of the benchmark's own beyond 8 bytes an id (the memory run measures it).
    """
    ids = array("q", stash.seed(n, STASH_PREFIX))
    mapper = PathMap(PATH_MAP)
    start = 0
    while True:
        page = stash.files(start, SEED_PAGE)
        if not page:
            return ids
        plex.add_movies(sid, [mapper.to_plex(path) for path in page])
        start += SEED_PAGE


def _run(ids, syncer):
    started = time.perf_counter()
    outcomes = {}
    for start in range(0, len(ids), BATCH):
        outcomes.update(syncer.sync_batch(ids[start:start + BATCH]))
    return outcomes, time.perf_counter() - started


class _Bench:
    """Emulators seeded with one library, and a SceneSyncer pointed at them."""

    def __init__(self, n: int, data_dir: str, where: str, latency: float = 0.0,
                 edit_threads: int = EDIT_THREADS, **options):
        self._hosted = []
        try:
            self.plex = self._host("PlexHost", where, TOKEN)
            self.stash = self._host("StashHost", where)
            sid = self.plex.add_section(SECTION, [PLEX_PREFIX])
            self.ids = _library(n, self.plex, self.stash, sid)
            self.conn = open_db(data_dir)
            settings = Settings(plex_url=self.plex.url(), plex_token=TOKEN, path_map=PATH_MAP,
                                **options)
            reader = StashReader.from_server_connection(self.stash.server_connection(data_dir, "0.0.0.0"))
            session = PlexSession()  # the drainer's own session class
            self.syncer = SceneSyncer(settings, reader,
                                      lambda: plex_client.connect(settings, self.conn, session), self.conn,
                                      edit_threads=edit_threads)
            if latency:
                self.plex.latency(latency)
            self.plex.reset_log()
            self.stash.clear_requests()
        except BaseException:
            self.close()
            raise

    def _host(self, name: str, where: str, *args):
        hosted = Hosted(name, where, *args)
        self._hosted.append(hosted)
        return hosted.host

    def close(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()
        for hosted in reversed(self._hosted):
            hosted.close()


def _where(where: str) -> str:
    if where == "process":
        return "Plex and Stash emulators each in their own process, engine in this one"
    return "Plex and Stash emulators as threads of this process (one GIL with the engine)"


def _outcome_summary(outcomes) -> str:
    kinds = {}
    for value in outcomes.values():
        name = getattr(value, "status", type(value).__name__)
        kinds[name] = kinds.get(name, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))


def budget(n: int, where: str, edit_threads: int = EDIT_THREADS) -> None:
    print(f"== request budget, {n} scenes, batches of {BATCH}")
    with tempfile.TemporaryDirectory() as data_dir:
        bench = _Bench(n, data_dir, where, edit_threads=edit_threads)
        plex, stash = bench.plex, bench.stash
        try:
            outcomes, took = _run(bench.ids, bench.syncer)
            log = plex.requests()
            counted = [e for e in log if not _is_image_or_rating(e)]
            paths = stash.request_paths()
            graphql = sum(1 for p in paths if p == "/graphql")
            images = len(paths) - graphql
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
            print(f"  Stash requests/scene: GraphQL {graphql / n:.3f}, image fetches {images / n:.3f}"
                  f"  [GraphQL {graphql}, image fetches {images}]")

            plex.reset_log()
            stash.clear_requests()
            outcomes, took = _run(bench.ids, bench.syncer)
            log = plex.requests()
            counted = [e for e in log if not _is_image_or_rating(e)]
            print(f"unchanged resync: {_outcome_summary(outcomes)} in {took:.2f} s")
            print(f"  Plex requests/scene: {len(counted) / n:.3f}  [{len(log)} total]")
            print(f"  Stash requests/scene: {len(stash.request_paths()) / n:.3f}")
        finally:
            bench.close()


def throughput(n: int, latency: float, where: str, edit_threads: int = EDIT_THREADS, **options) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        bench = _Bench(n, data_dir, where, latency, edit_threads, **options)
        try:
            cpu = [time.process_time(), bench.plex.cpu_seconds(), bench.stash.cpu_seconds()]
            outcomes, took = _run(bench.ids, bench.syncer)
            cpu = [(after - before) / n * 1000 for before, after in
                   zip(cpu, [time.process_time(), bench.plex.cpu_seconds(), bench.stash.cpu_seconds()])]
            extra = "".join(f", {k}" for k in options)
            # CPU per scene says where the time goes; in thread mode all three are one process.
            spent = (f"CPU ms/scene: engine {cpu[0]:.1f}, Plex emulator {cpu[1]:.1f}, Stash emulator {cpu[2]:.1f}"
                     if where == "process" else f"CPU ms/scene, engine and emulators together: {cpu[0]:.1f}")
            print(f"first sync of {n} scenes at {latency * 1000:.0f} ms Plex latency{extra}: "
                  f"{n / took:.1f} scenes/s ({took:.1f} s; {_outcome_summary(outcomes)}; {spent})", flush=True)
        finally:
            bench.close()


def _plex_process(n: int):
    proc = subprocess.Popen(
        [sys.executable, "-m", "testbed.plex", "--token", TOKEN, "--seed", str(n)],
        stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    url = proc.stdout.readline().strip()
    return proc, url


def _request_count(url: str) -> int:
    """Requests the emulator has logged (its control endpoints are not logged)."""
    return requests.get(f"{url}/__testbed__/requests").json()["count"]


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

            before = _request_count(url)
            started = time.perf_counter()
            idx.build(server, sections)
            took = time.perf_counter() - started
            pages = _request_count(url) - before
            stats = idx.stats()
            print(f"build: {took:.2f} s for {stats['items']} items / {stats['size']} paths "
                  f"({stats['items'] / took:.0f} items/s), {pages} Plex requests (one paged pass)")

            tracemalloc.start()
            idx.build(server, sections)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"build peak Python memory (tracemalloc, second run): {peak / 2**20:.1f} MiB")

            paths = [row[0] for row in conn.execute("SELECT file_path FROM plex_index LIMIT 1000")]
            before = _request_count(url)
            started = time.perf_counter()
            hits = sum(1 for p in paths if idx.lookup(p))
            took = time.perf_counter() - started
            after = _request_count(url)
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
    parser.add_argument("--scenes", type=int, default=300, help="scenes in the request-budget run (0: skip)")
    parser.add_argument("--throughput", type=int, default=2000, help="scenes per throughput run (0: skip)")
    parser.add_argument("--index", type=int, default=50000, help="items in the path-index run (0: skip)")
    parser.add_argument("--emulators", choices=PLACES, default="process",
                        help="where the emulated servers run (default: each in its own process)")
    parser.add_argument("--edit-threads", type=int, default=EDIT_THREADS,
                        help=f"scenes of a batch sent at once (default: the engine's {EDIT_THREADS})")
    args = parser.parse_args(argv)
    print(f"where: {_where(args.emulators)}; {os.cpu_count()} CPUs; "
          f"{args.edit_threads} scene(s) of a batch in flight at once", flush=True)
    if args.scenes:
        budget(args.scenes, args.emulators, args.edit_threads)
    if args.throughput:
        print(f"== throughput, {args.throughput} scenes")
        for latency in (0.0, 0.005):
            throughput(args.throughput, latency, args.emulators, args.edit_threads)
        # Without posters: what the metadata path alone costs (no Stash image fetch,
        # no upload), to see how much of a first sync the images take.
        throughput(args.throughput, 0.0, args.emulators, args.edit_threads, skip_poster=True)
    if args.index:
        index(args.index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
