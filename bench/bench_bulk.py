"""Bulk first sync beside the simplest correct client, both against the same emulators.

    python -m bench.bench_bulk [--sizes 1000,10000] [--latencies 0,5] [--memory 50000]

The floor is a plain sequential plexapi loop: one listing of the library to find each
file's item, then per scene exactly one batched edit (title, summary) and one poster
upload of the scene's screenshot fetched from Stash, one request after the other. The
engine is the real SceneSyncer in batches of BATCH_SIZE (100: what the drainer and Sync
All run), with plex_concurrency at its default. Each pair runs on freshly seeded
emulators in their own processes; floor and engine alternate, so both see the same
machine.

The memory figure is the peak resident set of a fresh process that runs only the
engine's first sync (the emulators, and their imports, live in their own processes),
printed in MB (10^6 bytes) beside MiB; see `peak_rss` for why it is not ru_maxrss.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

from bench.bench_sync import BATCH, TOKEN, _Bench
from bench.report import Table
from testbed.layout import PATH_MAP
from validation.pathmap import PathMap


def _floor(bench: _Bench) -> float:
    """Wall seconds of the sequential client over every scene of the bench's library."""
    from plexapi.server import PlexServer

    started = time.perf_counter()
    server = PlexServer(bench.plex.url(), TOKEN)
    section = server.library.sections()[0]
    items: Dict[str, object] = {}
    for item in section.all():
        for part in item.iterParts():
            items[part.file] = item
    reader = bench.syncer.stash
    mapper = PathMap(PATH_MAP)
    for start in range(0, len(bench.ids), BATCH):
        scenes = reader.find_scenes(bench.ids[start:start + BATCH])
        for scene in scenes.values():
            item = items[mapper.to_plex(scene["files"][0]["path"])]
            item.batchEdits()
            item.editTitle(scene.get("title") or "untitled").editSummary(scene.get("details") or "")
            item.saveEdits()
            image = reader.fetch_image(scene["paths"]["screenshot"])
            server.query(f"/library/metadata/{item.ratingKey}/posters", method=server._session.post, data=image)
    return time.perf_counter() - started


def _engine(bench: _Bench) -> float:
    """As the drainer calls it: every job queued before the run, the next batch's ids read ahead."""
    queued_at = time.time()
    started = time.perf_counter()
    for start in range(0, len(bench.ids), BATCH):
        bench.syncer.sync_batch(bench.ids[start:start + BATCH], read_after=queued_at,
                                next_ids=bench.ids[start + BATCH:start + 2 * BATCH])
    return time.perf_counter() - started


def _timed(n: int, latency: float, which) -> float:
    with tempfile.TemporaryDirectory() as data_dir:
        bench = _Bench(n, data_dir, "process", latency)
        try:
            return which(bench)
        finally:
            bench.close()


def pair(table: Table, n: int, latency_ms: float) -> None:
    floor = _timed(n, latency_ms / 1000, _floor)
    engine = _timed(n, latency_ms / 1000, _engine)
    table.row(f"bulk first sync, {n} scenes, {latency_ms:g} ms Plex latency: engine / sequential floor",
              f"{engine:.1f} s / {floor:.1f} s = {engine / floor:.2f}× ({n / engine:.0f} vs {n / floor:.0f} scenes/s)",
              "≤ 0.5× (2× faster)")


def peak_memory(table: Table, n: int) -> None:
    """Peak RSS of a process that runs the engine's first sync of n scenes (emulators elsewhere)."""
    if os.name == "nt":  # neither /proc nor getrusage: say so rather than sync for nothing
        table.row(f"peak memory, first sync of {n} scenes", "not measured on Windows (no VmHWM, no getrusage)")
        return
    out = subprocess.run([sys.executable, "-m", "bench.bench_bulk", "--child-memory", str(n)],
                         capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lines = [l for l in out.stdout.splitlines() if l.startswith("peak")]
    if not lines:
        table.row(f"peak memory, first sync of {n} scenes", f"failed: {out.stderr.strip()[-200:]}")
        return
    _, peak, took = lines[-1].split()
    table.row(f"peak memory (RSS) of the engine's process, first sync of {n} scenes",
              f"{int(peak) / 1e6:.0f} MB = {int(peak) / 2**20:.0f} MiB (sync took {float(took):.0f} s)",
              "≤ 150 MB (143 MiB)")


def peak_rss() -> int:
    """This process's own peak resident set, in bytes.

    On Linux this is VmHWM from /proc/self/status. getrusage's ru_maxrss is not used
    there: the kernel carries the high-water mark across exec, so a child started by a
    large parent (this bench, after its in-process runs) reports the parent's peak.
    Elsewhere ru_maxrss is all there is (kilobytes, bytes on macOS; POSIX only).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if os.name == "nt":
        raise OSError("no peak memory figure on Windows")
    else:
        import resource  # POSIX only, imported only there

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _child_memory(n: int) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        bench = _Bench(n, data_dir, "process", 0.0)
        try:
            took = _engine(bench)
        finally:
            bench.close()
    print(f"peak {peak_rss()} {took:.1f}", flush=True)


def run(table: Table, sizes: List[int], latencies: List[float], memory: int) -> None:
    for n in sizes:
        for latency in latencies:
            pair(table, n, latency)
    if memory:
        peak_memory(table, memory)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--latencies", default="0,5", help="added Plex latency, ms")
    parser.add_argument("--memory", type=int, default=50000, help="scenes in the peak-memory run (0: skip)")
    parser.add_argument("--child-memory", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_memory:
        _child_memory(args.child_memory)
        return 0
    table = Table("Bulk first sync (emulators in their own processes)")
    run(table, [int(s) for s in args.sizes.split(",") if s], [float(x) for x in args.latencies.split(",") if x],
        args.memory)
    table.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
