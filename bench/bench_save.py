"""Save → Plex: from a save in Stash to the new title in Plex, through the real hook and drainer.

The Stash emulator fires the plugin's hook exactly as Stash does (and waits for it);
the time runs from the save to the moment the Plex emulator holds the new title. Warm:
a drainer is already running (lingering idle, woken by the hook). Cold: none runs, so
the hook starts one (Python, the clients, the settings read, the Plex connection).
Saves are spaced a few tenths of a second apart, as a person's are at best. Beside
them, the hook's own wall time from the same saves (what Stash waits for).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from bench.bench_hook import pcts
from bench.report import Table

SPACING = 0.3


def _save(env, scene_id: int, title: str):
    started = time.perf_counter()
    env.stash.update_scene(scene_id, title=title)
    hook = env.stash.hook_runs[-1].result.duration
    deadline = started + 30
    while env.plex_title(scene_id) != title:
        if time.perf_counter() > deadline:
            return None, hook
        time.sleep(0.002)
    return time.perf_counter() - started, hook


def measure(warm: int = 20, cold: int = 5):
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # Stash does not set it: hooks use bytecode
    from testbed.world import World

    with tempfile.TemporaryDirectory() as workdir:
        env = World(workdir, python=sys.executable)
        try:
            ids = env.seed(max(warm, cold) + 1)
            cold_s, warm_s, hooks = [], [], []
            for i in range(cold):
                env.stop_drainers()
                took, hook = _save(env, ids[i], f"cold {i}")
                cold_s.append(took if took is not None else float("inf"))
                hooks.append(hook)
            _save(env, ids[-1], "start a drainer")
            for i in range(warm):
                time.sleep(SPACING)  # between two saves; not part of any figure
                took, hook = _save(env, ids[i], f"warm {i}")
                warm_s.append(took if took is not None else float("inf"))
                hooks.append(hook)
        finally:
            env.stop_drainers()
            env.stop()
    return warm_s, cold_s, hooks


def run(table: Table, warm: int = 20, cold: int = 5) -> None:
    warm_s, cold_s, hooks = measure(warm, cold)
    w50, w95 = pcts(warm_s)
    c50, c95 = pcts(cold_s)
    a50, a95 = pcts(warm_s + cold_s)
    h50, h95 = pcts(hooks)
    table.row("save → Plex, drainer running (woken by the hook), p50 / p95",
              f"{w50*1000:.0f} / {w95*1000:.0f} ms ({len(warm_s)} saves)")
    table.row("save → Plex, cold start (no drainer), p50 / p95",
              f"{c50*1000:.0f} / {c95*1000:.0f} ms ({len(cold_s)} saves)")
    table.row("save → Plex, all saves above, p50 / p95", f"{a50*1000:.0f} / {a95*1000:.0f} ms", "p95 ≤ 500 ms")
    table.row("save → Plex: the hook itself in those saves, p50 / p95 (reference)",
              f"{h50*1000:.0f} / {h95*1000:.0f} ms")


if __name__ == "__main__":
    t = Table("Save → Plex")
    run(t)
    t.print()
