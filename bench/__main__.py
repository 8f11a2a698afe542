"""Run every benchmark: `python -m bench [--quick]`. Prints figures and ratios; never asserts.

Each figure stands beside its reference measured in the same run (bare Python beside the
hook, the hook beside save → Plex, the sequential plexapi client beside the bulk sync),
so the ratios carry over to other machines and to a busy one. `--quick` (for CI) runs
smaller sizes and skips the 50,000-scene memory run; the full run is what the README
quotes. docs/performance.md records the latest run.
"""

from __future__ import annotations

import argparse
import os
import sys

from bench import bench_activity, bench_bulk, bench_collections, bench_hook, bench_queue, bench_save, bench_sync
from bench.report import Table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Stash2Plex benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes, no 50,000-scene runs (CI)")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# Stash2Plex benchmarks{' (quick)' if args.quick else ''}: {os.cpu_count()} CPUs, "
          f"load average {load:.1f} at the start\n", flush=True)
    tables = [Table("Hook (what Stash waits for)"), Table("Save → Plex"), Table("Bulk first sync")]
    bench_hook.run(tables[0], 20 if args.quick else bench_hook.RUNS)
    bench_save.run(tables[1], *((8, 3) if args.quick else (30, 8)))
    bench_bulk.run(tables[2], [300] if args.quick else [1000, 10000], [0.0, 5.0], 0 if args.quick else 50000)
    for table in tables:
        table.print()
    if not args.quick:
        print("\n## Queue", flush=True)
        bench_queue.main()
        print("\n## Sync engine", flush=True)
        bench_sync.main(["--throughput", "0"])
        print("\n## Collection artwork", flush=True)
        bench_collections.main([])
        print("\n## Plex activity import", flush=True)
        bench_activity.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
