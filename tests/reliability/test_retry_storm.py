"""The seed's retry storm, as a regression test (promise 5, and the debug report).

A Stash scan creates scenes whose files Plex has not scanned yet and fires hook after
hook for them. The old plugin re-attempted every such scene on every hook and every
button press. Here each attempt of a scene is one Stash read of it (a sync reads the
scene's current state first), so the Stash emulator's request log gives every attempt
with its time. Between attempt k and k+1 of a scene there must be at least the lower
bound of the not-found backoff, half of min(cap, base·2^(k-1)), whichever consumer
made the attempt: the background drainer woken by hooks, Process Queue, or Sync All.

Consumers are switched by killing the current one (kill -9, or Stash's Stop), but only
while it is provably between attempts: nothing claimed, nothing ready, and the next
retry more than half a second away. A kill mid-attempt would rightly repeat that
attempt at once and blur the measurement.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Dict, List

import pytest

from sync_queue import drops, lock_probe
from tests.reliability.conftest import kill_pid, needs_kill9, wait_until
from worker.backoff import window

BASE, CAP = 1.0, 4.0  # not_found_base_seconds / not_found_cap_seconds for this test
MISSING = 4
HOOKS_PER_SCENE = 8
SLACK = 0.05  # the clocks of two processes, and request timing


def _first_edit(tb, scene_id: int) -> float:
    """When Plex received the scene's first edit (its attempt that succeeded), or infinity."""
    key = tb.plex.find_by_file(tb.plex_path(scene_id))
    edits = [e["time"] for e in tb.plex.requests
             if key is not None and e["method"] == "PUT" and e["query"].get("id") == str(key)]
    return min(edits, default=float("inf"))


def _attempts(tb, scene_ids: List[int]) -> Dict[int, List[float]]:
    """When each waiting scene was read from Stash for a sync, up to the attempt that succeeded.

    Sync All's id listing names no scene. Once a scene's edit reached Plex it no longer
    waits: a later read (Sync All's own job for it, found unchanged) is not a retry.
    """
    found: Dict[int, List[float]] = defaultdict(list)
    for entry in tb.stash.requests:
        if "findScenes" not in entry["fields"]:
            continue
        for sid in (entry.get("variables") or {}).get("scene_ids") or []:
            if int(sid) in scene_ids:
                found[int(sid)].append(entry["time"])
    return {sid: sorted(t for t in times if t < _first_edit(tb, sid)) for sid, times in found.items()}


def _too_early(attempts: Dict[int, List[float]]) -> List[str]:
    out = []
    for sid, times in attempts.items():
        for k, (a, b) in enumerate(zip(times, times[1:]), start=1):
            least = window(k - 1, BASE, CAP) / 2.0
            if b - a < least - SLACK:
                out.append(f"scene {sid}: attempt {k + 1} came {b - a:.2f} s after attempt {k} (< {least:.2f} s)")
    return out


def _kill_between_attempts(tb, kill) -> None:
    def quiet() -> bool:
        counts = tb.counts()
        due = counts["next_retry_at"]
        return (counts["in_flight"] == 0 and counts["inbox"] == 0 and counts["ready"] == 0
                and not drops.waiting(tb.data_dir)
                and due is not None and due - time.time() > 0.6)
    wait_until(quiet, 15, "a moment between two attempts", interval=0.02)
    kill()


def _scan_hooks(tb, scene_ids: List[int], per_scene: int) -> int:
    fired = 0
    for _ in range(per_scene):
        for sid in scene_ids:
            tb.stash.fire_hook("Scene.Create.Post", sid)  # a scan's hook: no input, no inputFields
            fired += 1
    return fired


@pytest.mark.slow
@needs_kill9
def test_hooks_buttons_and_sync_all_never_retry_a_waiting_scene_early(make_testbed):
    tb = make_testbed(scenes=12, in_plex=False, settings={
        "not_found_base_seconds": BASE, "not_found_cap_seconds": CAP, "not_found_max_attempts": 40})
    missing, present = tb.scene_ids[:MISSING], tb.scene_ids[MISSING:]
    for sid in present:
        tb.plex.add_movie(tb.section, tb.plex_path(sid))

    # 1. A scan fires hook after hook for files Plex does not have; the hooks wake the
    #    background drainer, which attempts each scene once and then waits.
    fired = _scan_hooks(tb, missing, HOOKS_PER_SCENE)
    for sid in present:
        tb.edit(sid, title=f"Edited scene {sid}")
    tb.wait_synced(present, 30)
    pid = wait_until(tb.live_drainer, 10, "the background drainer")
    # A spare drainer still trying the lock would take over from the killed one at once.
    wait_until(lambda: tb.drainer_pids() <= {pid}, 15, "the spare drainers to leave")
    _kill_between_attempts(tb, lambda: kill_pid(pid))
    wait_until(lambda: pid not in tb.drainer_pids(), 10, "the drainer to die")

    # 2. Process Queue takes over the waiting jobs (more hooks arrive meanwhile: their
    #    drainers find the lock taken); it runs for a while and is stopped from the UI.
    handle = tb.start_task("Process Queue")
    # The task takes the free lock first; the hooks then find it held and start nothing.
    wait_until(lambda: lock_probe.drainer_running(tb.data_dir), 20, "Process Queue to take the drain lock")
    fired += _scan_hooks(tb, missing, 2)
    # It attempts what is due and waits for retries due within its short horizon; a
    # jittered retry beyond that ends it (its background drainer takes over). Stop it
    # from the UI between two attempts if it is still at work.
    reads = len(tb.stash.requests)
    wait_until(lambda: len(tb.stash.requests) > reads or not handle.running(), 20, "Process Queue to work")
    if handle.running():
        _kill_between_attempts(tb, handle.kill)
    handle.proc.wait(10)

    # 3. Sync All queues every scene again, the waiting ones included. While it runs,
    #    Plex finishes scanning, and each waiting scene syncs at its next attempt.
    handle = tb.start_task("Sync All Scenes")
    tried = sum(len(times) for times in _attempts(tb, missing).values())
    wait_until(lambda: sum(len(times) for times in _attempts(tb, missing).values()) > tried, 20,
               "Sync All to try a waiting scene again", interval=0.05)
    for sid in missing:
        tb.plex.add_movie(tb.section, tb.plex_path(sid))
    result = tb.finish(handle, 60)
    assert result.error is None, result.error
    assert result.output["queued"] == len(tb.scene_ids)
    tb.wait_synced(timeout=30)
    counts = tb.wait_idle(30)

    attempts = _attempts(tb, missing)
    assert _too_early(attempts) == []
    # About eight seconds of waiting allow a handful of attempts per scene, not one per hook.
    assert fired == MISSING * (HOOKS_PER_SCENE + 2)
    assert all(3 <= len(times) <= 8 for times in attempts.values()), {s: len(t) for s, t in attempts.items()}
    assert counts["dead_letters"] == 0 and tb.scalar("SELECT count(*) FROM dead_letters") == 0
