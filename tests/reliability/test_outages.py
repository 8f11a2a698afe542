"""Plex in trouble mid-sync: down, flapping, answering 503 or 429, hanging (promises 6, 7).

Each test queues every scene (as Sync All does) and lets the background drainer sync
them against a Plex that answers every request 10 ms late, injects the trouble once
the sync is under way, and then checks that transient trouble
produced no dead letter, that the circuit breaker opened, held the work and closed
again, that Plex was not hammered while it was in trouble, and that every scene
reached Plex afterwards.

A refused connection never reaches the emulator's request log, so the down and
flapping tests bound the attempts through the worker's own tally (the drainer logs it)
and the outage rows; the 503/429 and hanging tests keep Plex listening and count every request it
received during the trouble.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

import pytest

from sync_queue import inbox
from tests.reliability.conftest import wait_until
from worker.batch import BATCH_SIZE
from worker.batch.lanes import EDIT_THREADS

SCENES = BATCH_SIZE + 30  # more than one batch, so work is still queued when trouble starts
BATCH = BATCH_SIZE  # one batch may be in flight when trouble starts


def _start_sync(tb, min_edits: int = 15) -> None:
    """A backlog of every scene (as Sync All queues it), and a save that wakes the drainer."""
    tb.plex.faults.latency(0.01)
    inbox.enqueue(tb.data_dir, tb.scene_ids[1:], reason="sync_all")
    tb.edit(tb.scene_ids[0], title="The save that wakes the drainer")
    wait_until(lambda: tb.plex.count("PUT") >= min_edits, 60, "the sync to get going", interval=0.01)
    assert tb.counts()["pending"] > 20, "the sync nearly finished before the trouble started"


def _outages(tb) -> List[Dict[str, Any]]:
    with tb.db() as conn:
        rows = conn.execute("SELECT started_at, ended_at, jobs_held, reason FROM outages ORDER BY id").fetchall()
    return [dict(zip(("started_at", "ended_at", "jobs_held", "reason"), row)) for row in rows]


def _breaker_row(tb) -> Dict[str, Any]:
    tb.counts()  # makes sure the schema exists before the drainer got to create it
    with tb.db() as conn:
        row = conn.execute("SELECT state, recovery_wait FROM breaker WHERE id = 1").fetchone()
    return {"state": row[0], "recovery_wait": row[1]} if row else {"state": None, "recovery_wait": None}


def _breaker_state(tb) -> str:
    return _breaker_row(tb)["state"]


def _finish_and_check(tb) -> Dict[str, Any]:
    """Everything synced, nothing dead, nothing waiting, the circuit closed again."""
    tb.plex.faults.clear()  # the trouble is over; no need to keep Plex slow
    tb.wait_synced(timeout=60)
    counts = tb.wait_idle(60)
    assert counts["dead_letters"] == 0 and tb.scalar("SELECT count(*) FROM dead_letters") == 0
    assert _breaker_state(tb) == "closed"
    outages = _outages(tb)
    assert outages, "the breaker never opened"
    assert all(o["ended_at"] is not None for o in outages), outages
    # The worker logs one line per failed attempt of a job.
    return {"transient": tb.drainer_log().count(": transient failure: ")}


@pytest.mark.slow
def test_plex_down_mid_sync_holds_the_work_and_recovers_with_one_probe(make_testbed):
    tb = make_testbed(scenes=SCENES)
    _start_sync(tb)
    tb.plex.go_down()
    down_at = time.time()
    # Down until the breaker has opened and at least one probe failed (its wait doubled).
    wait_until(lambda: _breaker_row(tb)["state"] == "open" and (_breaker_row(tb)["recovery_wait"] or 0) >= 1.0,
               30, "a failed probe while Plex is down", interval=0.05)
    tb.plex.reset_log()
    tb.plex.come_up()
    up_at = time.time()
    output = _finish_and_check(tb)

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
    assert output["transient"] <= BATCH + 6, output


def test_a_flapping_plex_loses_nothing(make_testbed, rng):
    tb = make_testbed(scenes=SCENES)
    _start_sync(tb)
    # The flaps are the scenario (random moments, as a real flaky network); nothing is
    # asserted after them until _finish_and_check waits, with deadlines, for the outcome.
    for _ in range(4):
        tb.plex.go_down()
        time.sleep(rng.uniform(0.3, 1.0))
        tb.plex.come_up()
        time.sleep(rng.uniform(0.3, 1.0))
    _finish_and_check(tb)


@pytest.mark.slow
@pytest.mark.parametrize("status", [503, 429])
def test_an_error_window_costs_few_requests(make_testbed, status):
    tb = make_testbed(scenes=SCENES)
    _start_sync(tb)
    window = 3.0
    tb.plex.faults.fail_window(window, status)
    started = time.time()
    wait_until(lambda: time.time() >= started + window, window + 1, "the window to close", interval=0.1)
    in_window = [e for e in tb.plex.requests if e.get("fault") == "status"]
    _finish_and_check(tb)

    # The batch in flight stops at its first refused request: the scenes already being
    # sent (one per edit thread) fail once, the rest of the batch is held, not sent.
    # After that only probes, one per recovery wait: 0.5 s, 1 s, 2 s.
    assert 1 <= len(in_window) <= EDIT_THREADS + 3, [(e["method"], e["path"]) for e in in_window]


@pytest.mark.slow
def test_hanging_responses_time_out_and_trip_the_breaker(make_testbed):
    tb = make_testbed(scenes=SCENES, settings={"plex_timeout": 1})
    _start_sync(tb)
    window = 3.0
    tb.plex.faults.hang(seconds=window, hold=1.5)  # held past the 1 s read timeout, then dropped
    started = time.time()
    wait_until(lambda: time.time() >= started + window, window + 1, "the window to close", interval=0.1)
    hung = [e for e in tb.plex.requests if e.get("fault") == "hang"]
    output = _finish_and_check(tb)

    # The first timeouts (1 s, one per edit thread in flight) stop the batch and open the
    # breaker; after that only probes go out, each costing a timeout.
    assert 1 <= len(hung) <= EDIT_THREADS + 3, [(e["method"], e["path"]) for e in hung]
    assert output["transient"] >= 1


def test_a_job_that_fails_on_its_own_does_not_hold_the_queue(make_testbed):
    """A scene whose screenshot Stash cannot serve (500) fails whenever it is tried.

    Even with a breaker threshold of 2, Stash's failure says nothing about Plex: the
    circuit stays closed, the broken job backs off in the retry schedule as kind
    `stash`, and every other scene syncs. The broken one keeps waiting, its reason on record.
    """
    tb = make_testbed(scenes=6, settings={"breaker_threshold": 2, "skip_poster": False})
    broken, others = tb.scene_ids[0], tb.scene_ids[1:]
    tb.stash.faults.fail_window(120, 500, route=f"/scene/{broken}/screenshot")
    tb.edit(broken, title="A scene with a broken screenshot")
    inbox.enqueue(tb.data_dir, others, reason="hook")  # behind the broken job

    tb.wait_synced(others, 20)
    assert tb.problems([broken]) != []
    def waiting():  # between its attempts the broken job sits in the retry schedule
        with tb.db() as conn:
            return conn.execute("SELECT error_kind, last_error FROM retry_schedule WHERE scene_id = ?",
                                (broken,)).fetchone()
    kind, error = wait_until(waiting, 10, "the broken job back in the retry schedule", interval=0.02)
    assert kind == "stash" and "500" in error, error
    assert tb.counts()["dead_letters"] == 0
    assert _breaker_state(tb) == "closed" and _outages(tb) == []
