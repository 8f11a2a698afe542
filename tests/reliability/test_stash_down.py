"""Stash down, failing or slow while the drainer runs: jobs wait, nothing is lost.

Every sync reads the scene's current state from Stash first, so while Stash cannot
answer nothing can be synced: the jobs must wait (the breaker holds them, their
attempts are not used up) and all of them must reach Plex once Stash answers again.
Hooks need no Stash request (they only write the queue file), so Stash keeps firing
them while its API is unreachable, as it does when only the network path from the
plugin to Stash's API is broken.
"""

from __future__ import annotations


import pytest

from tests.reliability.conftest import wait_until
from tests.support import holds_for

SCENES = 40


def _edit(tb, scene_ids, label: str) -> None:
    for sid in scene_ids:
        tb.edit(sid, title=f"{label} {sid}")


def _assert_all_synced(tb, scene_ids, timeout: float = 60.0) -> None:
    tb.wait_synced(scene_ids, timeout)
    counts = tb.wait_idle(30)
    assert counts["dead_letters"] == 0 and tb.scalar("SELECT count(*) FROM dead_letters") == 0
    assert tb.scalar("SELECT state FROM breaker WHERE id = 1") in (None, "closed")


@pytest.mark.slow
def test_stash_down_while_the_drainer_runs(make_testbed):
    tb = make_testbed(scenes=SCENES)
    tb.plex.faults.latency(0.02)  # keep the drainer busy long enough to be caught mid-drain
    first = tb.scene_ids[:30]
    _edit(tb, first, "Before the outage")
    pid = wait_until(tb.live_drainer, 10, "the background drainer")
    wait_until(lambda: tb.plex.count("PUT") >= 5, 30, "the drainer to start editing", interval=0.01)

    tb.stash.go_down()
    later = tb.scene_ids[30:36]
    _edit(tb, later, "During the outage")  # hooks still queue: no Stash request on that path
    wait_until(lambda: "Stash cannot be reached" in tb.drainer_log(), 30, "the drainer to meet the Stash outage")
    # It asks again every 2 s (worker/loop.py STASH_RETRY_SECONDS): still there after two asks.
    holds_for(lambda: tb.live_drainer() == pid, 4.5, "the drainer to stay while Stash is down")
    counts = tb.counts()
    assert counts["pending"] + counts["deferred"] > 0 and counts["dead_letters"] == 0, counts
    tb.stash.come_up()
    tb.plex.faults.clear()

    _assert_all_synced(tb, first + later)


def test_slow_and_failing_stash(make_testbed):
    tb = make_testbed(scenes=SCENES)
    tb.stash.faults.latency(0.3, route="/graphql")
    scenes = tb.scene_ids[:20]
    _edit(tb, scenes[:10], "Slow Stash")
    wait_until(lambda: tb.plex.count("PUT") >= 1, 30, "the drainer to get going", interval=0.02)
    tb.stash.faults.fail_window(1.5, 503, route="/graphql")
    _edit(tb, scenes[10:], "Failing Stash")
    _assert_all_synced(tb, scenes)


@pytest.mark.slow
def test_jobs_queued_while_stash_is_down_wait_and_sync_when_it_is_back(make_testbed):
    tb = make_testbed(scenes=SCENES)
    tb.stash.go_down()
    scenes = tb.scene_ids[:8]
    _edit(tb, scenes, "Saved while the API was down")
    wait_until(lambda: "cannot reach Stash" in tb.drainer_log(), 30, "the drainer to find Stash down")
    counts = tb.counts()
    assert counts["pending"] == len(scenes) and counts["dead_letters"] == 0, counts
    assert tb.scalar("SELECT count(*) FROM sync_state") == 0
    assert "cannot reach Stash" in tb.drainer_log()

    tb.stash.come_up()  # no further save or button press: the waiting drainer carries on
    _assert_all_synced(tb, scenes, timeout=20.0)
