"""Plex in trouble mid-sync: down, flapping, answering 503 or 429, hanging (promises 6, 7).

Each test starts Sync All Scenes against a Plex that answers every request 10 ms late,
injects the trouble once the sync is under way, and then checks that transient trouble
produced no dead letter, that the circuit breaker opened, held the work and closed
again, that Plex was not hammered while it was in trouble, and that every scene
reached Plex afterwards.

A refused connection never reaches the emulator's request log, so the down and
flapping tests bound the attempts through the worker's own tally and the outage
rows; the 503/429 and hanging tests keep Plex listening and count every request it
received during the trouble.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

import pytest

from tests.reliability.conftest import wait_until
from worker.scene_sync import EDIT_THREADS

SCENES = 60
BATCH = 50  # worker.sync_worker batch size: one batch may be in flight when trouble starts


def _start_sync(tb, min_edits: int = 15):
    tb.plex.faults.latency(0.01)
    handle = tb.start_task("Sync All Scenes")
    wait_until(lambda: tb.plex.count("PUT") >= min_edits or not handle.running(), 60, "the sync to get going",
               interval=0.01)
    assert handle.running(), "the sync finished before the trouble started; slow Plex down more"
    return handle


def _outages(tb) -> List[Dict[str, Any]]:
    with tb.db() as conn:
        rows = conn.execute("SELECT started_at, ended_at, jobs_held, reason FROM outages ORDER BY id").fetchall()
    return [dict(zip(("started_at", "ended_at", "jobs_held", "reason"), row)) for row in rows]


def _breaker_state(tb) -> str:
    return tb.scalar("SELECT state FROM breaker WHERE id = 1")


def _finish_and_check(tb, handle) -> Dict[str, Any]:
    """Everything synced, nothing dead, nothing waiting, the circuit closed again."""
    tb.plex.faults.clear()  # the trouble is over; no need to keep Plex slow
    result = tb.finish(handle, 120)
    assert result.error is None, result.error
    counts = tb.wait_idle(60)
    assert tb.problems() == []
    assert counts["dead_letters"] == 0 and tb.scalar("SELECT count(*) FROM dead_letters") == 0
    assert _breaker_state(tb) == "closed"
    outages = _outages(tb)
    assert outages, "the breaker never opened"
    assert all(o["ended_at"] is not None for o in outages), outages
    return result.output


@pytest.mark.slow
def test_plex_down_mid_sync_holds_the_work_and_recovers_with_one_probe(make_testbed):
    tb = make_testbed(scenes=SCENES)
    handle = _start_sync(tb)
    tb.plex.go_down()
    down_at = time.time()
    time.sleep(3.0)
    tb.plex.reset_log()
    tb.plex.come_up()
    up_at = time.time()
    output = _finish_and_check(tb, handle)

    outages = _outages(tb)
    assert len(outages) == 1, outages  # failed probes extend the outage, they do not start new ones
    outage = outages[0]
    assert down_at <= outage["started_at"] <= up_at
    assert outage["jobs_held"] > 0
    # Recovery: the first probe after Plex came back closes the circuit, at most one
    # recovery wait (capped at breaker_recovery_cap = 2 s) after it came back.
    assert up_at <= outage["ended_at"] <= up_at + 2.0 + 1.5, (up_at, outage)
    # One probe: until the circuit closed, Plex saw the requests of a single scene's
    # sync (its item fetch, its edit, perhaps its rating) and nothing else.
    probe = [e for e in tb.plex.requests if e["time"] <= outage["ended_at"]]
    assert 1 <= len(probe) <= 3, [(e["method"], e["path"]) for e in probe]
    assert all(e["status"] == 200 for e in probe), probe
    # While Plex was down: one batch failed (each scene counted once), then only probes,
    # about one per recovery wait (0.5 s doubling to 2 s over a 3 s outage).
    failed = output["errors_by_kind"].get("transient", 0)
    assert failed <= BATCH + 6, output
    assert output["dead_lettered"] == 0


def test_a_flapping_plex_loses_nothing(make_testbed, rng):
    tb = make_testbed(scenes=SCENES)
    handle = _start_sync(tb)
    for _ in range(4):
        tb.plex.go_down()
        time.sleep(rng.uniform(0.3, 1.0))
        tb.plex.come_up()
        time.sleep(rng.uniform(0.3, 1.0))
    output = _finish_and_check(tb, handle)
    assert output["dead_lettered"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("status", [503, 429])
def test_an_error_window_costs_few_requests(make_testbed, status):
    tb = make_testbed(scenes=SCENES)
    handle = _start_sync(tb)
    window = 3.0
    tb.plex.faults.fail_window(window, status)
    started = time.time()
    wait_until(lambda: time.time() >= started + window, window + 1, "the window to close", interval=0.1)
    in_window = [e for e in tb.plex.requests if e.get("fault") == "status"]
    output = _finish_and_check(tb, handle)

    # The batch in flight stops at its first refused request: the scenes already being
    # sent (one per edit thread) fail once, the rest of the batch is held, not sent.
    # After that only probes, one per recovery wait: 0.5 s, 1 s, 2 s.
    assert 1 <= len(in_window) <= EDIT_THREADS + 3, [(e["method"], e["path"]) for e in in_window]
    assert output["dead_lettered"] == 0


@pytest.mark.slow
def test_hanging_responses_time_out_and_trip_the_breaker(make_testbed):
    tb = make_testbed(scenes=SCENES, settings={"plex_timeout": 1})
    handle = _start_sync(tb)
    window = 4.0
    tb.plex.faults.hang(seconds=window, hold=3.0)
    started = time.time()
    wait_until(lambda: time.time() >= started + window, window + 1, "the window to close", interval=0.1)
    hung = [e for e in tb.plex.requests if e.get("fault") == "hang"]
    output = _finish_and_check(tb, handle)

    # The first timeouts (1 s, one per edit thread in flight) stop the batch and open the
    # breaker; after that only probes go out, each costing a timeout.
    assert 1 <= len(hung) <= EDIT_THREADS + 3, [(e["method"], e["path"]) for e in hung]
    assert output["errors_by_kind"].get("transient", 0) >= 1
    assert output["dead_lettered"] == 0
