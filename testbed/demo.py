"""The demo: the real plugin against the emulated Stash and Plex, start to finish.

1. Start both emulators on 127.0.0.1 and seed a library: Stash sees the files under
   /data/stash, Plex under /media/plex (a path_map rule joins them), and Plex holds
   only what its agent guessed from the file names.
2. Save the plugin's settings in Stash, as a user would on the settings page.
3. Press "Sync All Scenes" (the runner starts the plugin exactly as Stash does).
4. Edit scenes through Stash's GraphQL API: Stash fires the plugin's hook for each
   save, and the detached drainer brings Plex up to date with no button pressed.
5. Press "Process Queue" and "Queue Status", then print a before/after table.

Exit status 0 means every scene reached Plex with the right fields.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time

from testbed.runner import PluginRunner
from testbed.world import PLEX_PREFIX, STASH_PREFIX, World


def say(text: str = "") -> None:
    print(text, flush=True)


def run_task(runner: PluginRunner, name: str, timeout: float = 600.0):
    """Start a task like the Stash button does, and draw its progress bar as it moves."""
    say(f"▶ {name}")
    handle = runner.start_task(name)
    shown = -1
    deadline = time.monotonic() + timeout
    while handle.running() and time.monotonic() < deadline:
        if handle.progress:
            pct = int(handle.progress[-1] * 100)
            if pct // 5 != shown // 5:
                shown = pct
                bar = "#" * (pct // 5)
                sys.stdout.write(f"\r  [{bar:<20}] {pct:3d}%")
                sys.stdout.flush()
        time.sleep(0.1)
    result = handle.wait(max(1.0, deadline - time.monotonic()))
    if shown >= 0:
        sys.stdout.write(f"\r  [{'#' * 20}] 100%\n")
    for level, text in result.logs:
        if level in ("info", "warning", "error"):
            say(f"  {level}: {text}")
    if result.error:
        raise SystemExit(f"{name} failed: {result.error}")
    return result.output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=300, help="how many scenes to seed (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the demo's data folder and print where it is")
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="stash2plex-demo-")
    started = time.monotonic()
    world = World(workdir)
    stash, plex, runner = world.stash, world.plex, world.runner
    try:
        say(f"Stash emulator at {stash.url}, Plex emulator at {plex.url}")
        scene_ids = world.seed(args.scenes, rng_seed=1)
        say(f"Seeded {len(scene_ids)} scenes in Stash ({STASH_PREFIX}/…) and their files in Plex ({PLEX_PREFIX}/…)")
        sample = scene_ids[:5]
        before = {sid: dict(world.plex_item(sid)) for sid in sample}

        plex.reset_log()
        t0 = time.monotonic()
        out = run_task(runner, "Sync All Scenes")
        first_sync = time.monotonic() - t0
        first_requests = plex.count()
        say(f"  {out['summary']}")

        say("▶ Editing 20 scenes in Stash (each save fires the plugin's hook)")
        plex.reset_log()
        edited = scene_ids[:20]
        hook_times = []
        for n, sid in enumerate(edited):
            stash.update_scene(sid, title=f"Edited in Stash #{n + 1}")
            runs = stash.hook_runs
            if runs:
                hook_times.append(runs[-1].result.duration)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and world.problems(edited):
            time.sleep(0.2)
        say(f"  the background drainer synced the edits {time.monotonic() - t0 - first_sync:.1f} s after the first save")
        out = run_task(runner, "Process Queue")
        say(f"  {out['summary']}")
        status = run_task(runner, "Queue Status")
        say(f"  {status['summary']}")

        problems = world.problems(scene_ids)
        say("\nBefore → after (Plex)")
        say(f"{'scene':>5}  {'Plex title before':<34} {'Plex title after':<34} {'studio after':<22} genres")
        for sid in sample:
            after = world.plex_item(sid)
            say(f"{sid:>5}  {before[sid]['title'][:34]:<34} {after['title'][:34]:<34} "
                f"{(after.get('studio') or '')[:22]:<22} {len(before[sid]['genres'])} → {len(after['genres'])}")
        say("")
        say(f"scenes synced          {len(scene_ids) - len({p.split(':')[0] for p in problems})} of {len(scene_ids)}")
        say(f"Plex requests / scene  {first_requests / len(scene_ids):.2f} on the first sync (images included)")
        if hook_times:
            say(f"hook time (Stash waits) median {sorted(hook_times)[len(hook_times) // 2] * 1000:.0f} ms")
        say(f"first sync             {first_sync:.1f} s ({len(scene_ids) / first_sync:.0f} scenes/s, this machine)")
        say(f"whole demo             {time.monotonic() - started:.1f} s")
        if problems:
            say("PROBLEMS:\n  " + "\n  ".join(problems[:20]))
            return 1
        say("OK: every scene reached Plex with its Stash metadata, locked.")
        return 0
    finally:
        world.stop()
        if args.keep:
            say(f"data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
