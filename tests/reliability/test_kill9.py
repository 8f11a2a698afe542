"""kill -9 at random points of a few-hundred-scene sync, again and again (promise 1).

The consumer is killed the way it dies in real life: Stash's Stop button on a running
Sync All or Sync Recent task (the process is killed outright), and SIGKILL of the
detached background drainer. Between kills scenes are edited in Stash, so the queue
keeps changing under the dead consumers. After the last restart every scene must be
in Plex with its newest metadata, and nothing may be queued, waiting or dead.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.reliability.conftest import kill_pid, needs_kill9, wait_until

SCENES = 300
ROUNDS = 6  # one killed Sync All, then alternately a killed drainer and a killed Sync Recent
EDITS_PER_ROUND = 6


def _in_flight(tb) -> int:
    """Jobs the dead consumer had claimed and not finished (persist-queue status 2)."""
    try:
        return int(tb.scalar("SELECT count(*) FROM ack_queue_ready WHERE status = 2") or 0)
    except sqlite3.OperationalError:  # no consumer has created the ready queue yet
        return 0


def _kill_after_progress(tb, rng, victim_running, kill, at_least: int) -> int:
    """Let the victim make `at_least`…+40 Plex edits, then kill it at a random instant."""
    start = tb.plex.count("PUT")
    goal = start + rng.randint(at_least, at_least + 40)
    wait_until(lambda: tb.plex.count("PUT") >= goal or not victim_running(), 60, "the victim to make progress",
               interval=0.005)
    time.sleep(rng.uniform(0.0, 0.04))
    kill()
    return _in_flight(tb)


def _edit_some(tb, rng, round_no: int, hooks: bool) -> None:
    tag_ids = list(tb.stash.store.tags)
    for sid in rng.sample(tb.scene_ids, EDITS_PER_ROUND):
        tb.stash.update_scene(sid, hooks=hooks, title=f"Round {round_no} edit of scene {sid}",
                              tag_ids=rng.sample(tag_ids, rng.randint(0, 4)))


@pytest.mark.slow
@needs_kill9
def test_kill9_at_random_points_loses_nothing(make_testbed, rng):
    tb = make_testbed(scenes=SCENES)
    tb.plex.faults.latency(0.01)  # 10 ms per Plex request: the sync lasts long enough to be hit
    killed_mid_batch = 0

    # Round 0: Sync All Scenes, stopped from Stash's UI part way through.
    handle = tb.start_task("Sync All Scenes")
    killed_mid_batch += bool(_kill_after_progress(tb, rng, handle.running, handle.kill, 20))
    handle.proc.wait(10)

    for round_no in range(1, ROUNDS):
        tb.wait_heartbeat_stale()
        if round_no % 2:
            # Saves in Stash: each hook queues its scene and wakes a background drainer,
            # which resumes the dead consumer's claimed jobs. Kill it.
            _edit_some(tb, rng, round_no, hooks=True)
            pid = wait_until(tb.live_drainer, 15, "a background drainer to start")
            # Spares started by the burst of hooks try the lock for a moment; one still
            # trying would take over at once from the killed drainer (as it should), so
            # the kill comes after they have left.
            wait_until(lambda: tb.drainer_pids() <= {pid}, 15, "the spare drainers to leave")
            killed_mid_batch += bool(_kill_after_progress(
                tb, rng, lambda: tb.live_drainer() == pid, lambda: kill_pid(pid), 1))
            wait_until(lambda: tb.live_drainer() != pid, 10, "the drainer to die")
        else:
            # Saves without hooks (a bulk edit by another tool), then Sync Recent Scenes
            # picks them up from Stash; stop that task part way through as well.
            _edit_some(tb, rng, round_no, hooks=False)
            handle = tb.start_task("Sync Recent Scenes")
            killed_mid_batch += bool(_kill_after_progress(tb, rng, handle.running, handle.kill, 1))
            handle.proc.wait(10)

    # The last restart: Process Queue finishes what every dead consumer left behind.
    tb.wait_heartbeat_stale()
    result = tb.run_task("Process Queue", timeout=120)
    assert result.error is None, result.error
    counts = tb.wait_idle(60)

    assert killed_mid_batch >= 3, f"only {killed_mid_batch} of {ROUNDS} kills hit claimed jobs"
    assert tb.problems() == []
    assert counts["dead_letters"] == 0 and tb.scalar("SELECT count(*) FROM dead_letters") == 0
    assert (counts["pending"], counts["in_flight"], counts["deferred"]) == (0, 0, 0), counts
    assert tb.scalar("SELECT count(*) FROM sync_state") == SCENES
