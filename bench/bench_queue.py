"""Queue benchmark: enqueue throughput, a burst of hooks' drops merged, and drain-cycle cost.

Prints, never asserts: the numbers are this machine's. The ratio is the point: a drain
cycle (promote + claim of one ready job) must cost the same whether 0 or 10,000 jobs
wait in the retry schedule (promise 5).

Run from the repository root: python bench/bench_queue.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

# A script's own folder is what Python puts on sys.path; the packages live one level up.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sync_queue import db, drops, inbox  # noqa: E402
from sync_queue.store import QueueStore  # noqa: E402

ENQUEUE_JOBS = 50_000
DEFERRED_JOBS = 10_000
BURST_DROPS = 10_000
CYCLES = 300


def bench_enqueue(data_dir: str) -> float:
    start = time.perf_counter()
    inbox.enqueue(data_dir, range(1, ENQUEUE_JOBS + 1), "sync all")
    return time.perf_counter() - start


def bench_burst(data_dir: str) -> "tuple[float, float]":
    """(seconds to drop BURST_DROPS jobs as hooks do, seconds for the drainer to merge them all)."""
    store = QueueStore(data_dir)
    start = time.perf_counter()
    for n in range(BURST_DROPS):
        drops.drop(data_dir, n + 1, "Scene.Update.Post")
    dropped = time.perf_counter() - start
    start = time.perf_counter()
    merged = store.merge_hook_writes()
    seconds = time.perf_counter() - start
    store.close()
    assert merged == BURST_DROPS, merged
    return dropped, seconds


def drain_cycle_seconds(store: QueueStore, data_dir: str) -> float:
    """Median time of promote (which merges the hook's drop) + claim for one freshly saved scene."""
    samples = []
    for n in range(CYCLES):
        drops.drop(data_dir, 10_000_000 + n, "Scene.Update.Post")
        now = time.time()
        start = time.perf_counter()
        store.promote(now)
        jobs = store.claim(1, now)
        samples.append(time.perf_counter() - start)
        for job in jobs:
            store.ack(job)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as enqueue_dir:
        seconds = bench_enqueue(enqueue_dir)
    print(f"enqueue {ENQUEUE_JOBS} jobs in one call: {seconds:.3f} s ({ENQUEUE_JOBS / seconds:,.0f} jobs/s, this machine)")

    with tempfile.TemporaryDirectory() as burst_dir:
        dropped, merged = bench_burst(burst_dir)
    print(f"a burst of {BURST_DROPS} hooks' drops: created in {dropped:.2f} s in one process "
          f"(each with its folder fsync), merged into the inbox in {merged:.2f} s")

    with tempfile.TemporaryDirectory() as data_dir:
        store = QueueStore(data_dir)
        drain_cycle_seconds(store, data_dir)  # warm up: creates the ready queue, fills caches
        empty = drain_cycle_seconds(store, data_dir)
        now = time.time()
        with db.transaction(store.conn):
            store.conn.executemany(
                "INSERT INTO retry_schedule (scene_id, attempts, not_before, error_kind, last_error, first_failed_at) "
                "VALUES (?, 1, ?, 'not_found', 'not in Plex yet', ?)",
                [(i, now + 3600 + i, now) for i in range(1, DEFERRED_JOBS + 1)],
            )
        loaded = drain_cycle_seconds(store, data_dir)
        store.close()
    print(f"drain cycle, 0 deferred jobs:      {empty * 1000:.3f} ms (median of {CYCLES}, this machine)")
    print(f"drain cycle, {DEFERRED_JOBS} deferred jobs: {loaded * 1000:.3f} ms (median of {CYCLES}, this machine)")
    print(f"ratio (with / without waiting jobs): {loaded / empty:.2f}")


if __name__ == "__main__":
    main()
