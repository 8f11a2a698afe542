"""Run every benchmark: `python -m bench`. Prints figures and ratios; never asserts.

Absolute times are this machine's; the request counts and ratios are what carry over.
docs/performance.md records the latest run.
"""

from __future__ import annotations

import sys

from bench import bench_activity, bench_collections, bench_hook, bench_queue, bench_sync
from bench.report import Table


def main() -> int:
    print("# Stash2Plex benchmarks\n", flush=True)
    hook = Table("Hook (what Stash waits for)")
    bench_hook.run(hook)
    hook.print()
    print("\n## Queue", flush=True)
    bench_queue.main()
    print("\n## Sync engine", flush=True)
    bench_sync.main([])
    print("\n## Collection artwork", flush=True)
    bench_collections.main([])
    print("\n## Plex activity import", flush=True)
    bench_activity.main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
