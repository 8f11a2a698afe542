import json
import random
from dataclasses import dataclass

import pytest
import requests.exceptions as rq
from plexapi.exceptions import BadRequest, NotFound, Unauthorized

from sync_queue import inbox
from sync_queue.dead_letters import DeadLetters
from sync_queue.ready_queue import READY_TABLE
from sync_queue.store import QueueStore
from sync_queue.sync_state import SceneState, SyncState
from tests.unit.queue_support import FakeClock, settings
from errors.kinds import NotFoundYet
from worker import database as db
from worker.breaker import CLOSED, OPEN, CircuitBreaker
from worker.loop import POLITE_BATCH, POLITE_SECONDS, SyncWorker

MAX_CYCLES = 5_000


@dataclass
class Synced:
    changed: bool = True


class Env:
    """A real queue file in tmp_path, a fake clock, and the real store, breaker and state."""

    def __init__(self, tmp_path, **overrides):
        self.clock = FakeClock()
        self.data_dir = str(tmp_path)
        self.conn = db.open_db(self.data_dir)
        self.settings = settings(**overrides)
        self.store = QueueStore(self.conn, clock=self.clock)
        self.breaker = CircuitBreaker(self.conn, self.settings, self.clock)
        self.state = SyncState(self.conn)
        self.calls = []  # (time, [scene ids]) per sync_batch call

    def enqueue(self, *ids):
        inbox.enqueue(self.data_dir, ids, "hook", now=self.clock())

    def sync(self, behave):
        """A sync_batch that asks `behave(scene_id, now)` for each scene's result or exception."""

        def sync_batch(ids):
            now = self.clock()
            self.calls.append((now, list(ids)))
            results = {}
            for scene_id in ids:
                result = behave(scene_id, now)
                if not isinstance(result, BaseException):
                    self.state.record(SceneState(scene_id=scene_id, read_at=now, synced_at=now))
                results[scene_id] = result
            return results

        return sync_batch

    def worker(self, sync_batch, until=None, **kwargs):
        """Run a worker to completion on this thread; `until` stops it once the clock passes it."""
        cycles = [0]
        holder = {}

        def beat():
            cycles[0] += 1
            if cycles[0] > MAX_CYCLES:
                holder["w"].stop()

        def wait(seconds):
            self.clock.sleep(seconds)
            if until is not None and self.clock() >= until:
                holder["w"].stop()

        options = dict(
            state_lookup=self.state.get_many,
            clock=self.clock,
            rng=random.Random(1),
            wait=wait,
            idle_grace=3.0 if until is None else None,
            on_beat=beat,
        )
        options.update(kwargs)
        worker = SyncWorker(self.store, self.breaker, self.settings, sync_batch, **options)
        holder["w"] = worker
        worker.run()
        assert cycles[0] <= MAX_CYCLES, "worker loop did not settle"
        assert worker.error is None, worker.error
        return worker

    def schedule(self):
        return self.conn.execute("SELECT scene_id, attempts, not_before, error_kind FROM retry_schedule").fetchall()

    def ready_attempts(self):
        """Attempts carried by jobs back in the ready queue (promoted retries)."""
        rows = self.conn.execute(f"SELECT data FROM {READY_TABLE} WHERE status < 2")
        return [json.loads(data).get("attempts", 0) for (data,) in rows]

    def attempts_of(self, scene_id):
        return [t for t, ids in self.calls if scene_id in ids]


def ok(scene_id, now):
    return Synced()


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.store.close()


def test_queued_scenes_sync_in_one_batch_then_the_worker_goes_idle(env):
    env.enqueue(1, 2, 3)
    worker = env.worker(env.sync(ok))
    assert [ids for _, ids in env.calls] == [[1, 2, 3]]
    summary = worker.summary()
    assert summary["synced"] == 3 and summary["stopped_reason"] == "idle"
    assert env.store.counts()["pending"] == 0


def test_unchanged_results_are_counted_apart(env):
    env.enqueue(1, 2)
    worker = env.worker(env.sync(lambda s, now: Synced(changed=s == 1)))
    assert (worker.summary()["synced"], worker.summary()["unchanged"]) == (1, 1)


def test_ten_updates_of_one_scene_are_one_sync(env):
    for _ in range(10):
        env.enqueue(7)
        env.clock.advance(0.1)
    env.enqueue(8)
    env.worker(env.sync(ok))
    assert sum(ids.count(7) for _, ids in env.calls) == 1


def test_a_job_queued_before_the_last_successful_read_costs_nothing(env):
    env.enqueue(5)
    env.clock.advance(1)
    env.state.record(SceneState(scene_id=5, read_at=env.clock()))  # a sync read Stash after the hook
    worker = env.worker(env.sync(ok))
    assert env.calls == []
    assert worker.summary()["skipped_coalesced"] == 1
    assert env.store.counts()["pending"] == 0


def test_transient_failure_is_deferred_then_retried_after_its_backoff(env):
    env.enqueue(1)
    start = env.clock()

    def flaky(scene_id, now):
        return rq.ConnectionError("connection refused") if now == start else Synced()

    worker = env.worker(env.sync(flaky), idle_grace=100.0)
    first, second = env.attempts_of(1)
    assert first == start and start < second <= start + 5.0 + 1.0
    summary = worker.summary()
    assert summary["deferred"] == 1 and summary["synced"] == 1
    assert summary["errors_by_kind"] == {"transient": 1}
    assert env.schedule() == [] and env.breaker.state() == CLOSED


def test_exhausted_retries_go_to_the_dead_letters(tmp_path):
    env = Env(tmp_path, breaker_threshold=100)
    env.enqueue(1)
    worker = env.worker(env.sync(lambda s, now: rq.ReadTimeout("read timed out")), idle_grace=200.0)
    assert len(env.attempts_of(1)) == 6  # the first try and max_retries=5 retries
    [letter] = DeadLetters(env.conn).recent()
    assert (letter.scene_id, letter.error_kind, letter.attempts) == (1, "transient", 6)
    assert letter.message.startswith("retries exhausted")
    assert worker.summary()["dead_lettered"] == 1 and env.schedule() == []


def test_permanent_error_is_dead_lettered_at_once(env):
    env.enqueue(1, 2)
    bad = BadRequest("(400) bad_request; http://plex/library/metadata/1 rejected")
    env.worker(env.sync(lambda s, now: bad if s == 1 else Synced()))
    [letter] = DeadLetters(env.conn).recent()
    assert (letter.scene_id, letter.error_kind, letter.attempts) == (1, "permanent", 1)
    assert len(env.calls) == 1


def test_not_found_waits_long_and_never_trips_the_breaker(env):
    env.enqueue(*range(1, 21))
    start = env.clock()
    env.worker(env.sync(lambda s, now: NotFound("(404) not_found; http://plex/x")), idle_grace=1.0)
    rows = env.schedule()
    assert len(rows) == 20
    assert all(kind == "not_found" and attempts == 1 and not_before >= start + 15.0 for _, attempts, not_before, kind in rows)
    assert env.breaker.state() == CLOSED and env.breaker.failures() == 0


def test_hooks_for_an_unscanned_file_cause_at_most_one_attempt_per_backoff_window(env):
    """The seed's retry storm: every scan step fires another hook for the same scene."""
    env.enqueue(1)
    holder = {}

    def wait_and_fire_hooks(seconds):
        env.clock.sleep(seconds)
        env.enqueue(1)  # Stash fires another hook
        if env.clock() >= start + 600:
            holder["w"].stop()

    start = env.clock()
    worker = SyncWorker(
        env.store, env.breaker, env.settings, env.sync(lambda s, now: NotFoundYet("not in Plex yet")),
        state_lookup=env.state.get_many, clock=env.clock, rng=random.Random(3), wait=wait_and_fire_hooks,
        idle_grace=None,
    )
    holder["w"] = worker
    worker.run()
    times = env.attempts_of(1)
    gaps = [b - a for a, b in zip(times, times[1:])]
    # half-jittered windows of 30, 60, 120, 240 s: each gap at least half its window
    assert all(gap >= 15.0 * 2**i for i, gap in enumerate(gaps)), gaps
    assert 2 <= len(times) <= 6


def test_config_error_pauses_and_keeps_every_job(env):
    env.enqueue(1, 2, 3, 4, 5)

    def bad_token(ids):
        env.calls.append((env.clock(), list(ids)))
        raise Unauthorized("(401) unauthorized; http://plex/library/sections")

    worker = env.worker(bad_token, settings_hash="abc")
    summary = worker.summary()
    assert summary["stopped_reason"] == "config" and "Plex token" in summary["config_error"]
    assert len(env.calls) == 1
    counts = env.store.counts()
    assert counts["pending"] == 5 and counts["ready"] == 5 and counts["deferred"] == 0
    assert counts["dead_letters"] == 0
    note = db.get_meta(env.conn, "last_config_error")
    assert note["settings_hash"] == "abc" and "401" in note["message"]


def test_a_config_error_for_one_scene_keeps_the_others_successes(env):
    env.enqueue(1, 2, 3)
    worker = env.worker(env.sync(lambda s, now: Unauthorized("(401) unauthorized") if s == 2 else Synced()))
    assert worker.summary()["synced"] == 2 and worker.summary()["released"] == 1
    assert env.store.counts()["pending"] == 1


def test_the_breaker_opens_after_five_and_nothing_is_attempted_while_open(env):
    env.enqueue(*range(1, 21))
    start = env.clock()

    def plex_down(ids):
        env.calls.append((env.clock(), list(ids)))
        raise rq.ConnectionError("Connection refused")

    worker = env.worker(plex_down, until=start + 100)
    sizes = [len(ids) for _, ids in env.calls]
    times = [t - start for t, _ in env.calls]
    # The first batch of 20 failed; then one job at a time until five failures opened it;
    # then single probes at +10, +20, +40 s after each reopening (wait capped at 60 s).
    assert sizes[0] == 20 and all(size == 1 for size in sizes[1:])
    opened = times[0]  # five failures counted in the first batch already
    assert times[1:] == [opened + 10, opened + 30, opened + 70]
    assert env.breaker.state() == OPEN
    # Only the four failures before the circuit opened were counted against jobs.
    counted = sum(attempts for _, attempts, _, _ in env.schedule()) + sum(env.ready_attempts())
    assert counted == 4 and DeadLetters(env.conn).count() == 0
    assert env.store.counts()["pending"] + len(env.schedule()) == 20
    assert worker.summary()["released"] == 16
    # Each failed probe sends its job to the retry schedule (uncounted), so the next
    # probe is another job: one job that fails on its own cannot hold the circuit open.
    probes = [ids[0] for ids in (ids for _, ids in env.calls[1:])]
    assert len(set(probes)) == len(probes) == 3
    assert env.breaker.snapshot()["current_outage"]["jobs_held"] >= 16


def test_a_successful_probe_closes_the_circuit_and_drains_politely(env):
    env.enqueue(*range(1, 41))
    start = env.clock()
    back_at = start + 25

    def plex(scene_id, now):
        return Synced() if now >= back_at else rq.ConnectionError("Connection refused")

    worker = env.worker(env.sync(plex), idle_grace=5.0)
    assert env.breaker.state() == CLOSED
    outage = env.breaker.snapshot()["recent_outages"][0]
    assert outage["ended_at"] is not None and outage["ended_at"] >= back_at
    after = [(t, ids) for t, ids in env.calls if t >= back_at]
    assert len(after[0][1]) == 1  # the probe
    polite = [ids for t, ids in after[1:] if t < outage["ended_at"] + POLITE_SECONDS]
    assert polite and all(len(ids) <= POLITE_BATCH for ids in polite)
    assert worker.summary()["synced"] == 40 and DeadLetters(env.conn).count() == 0
    assert env.store.counts()["pending"] == 0 and env.schedule() == []


def test_a_missing_result_is_an_unexpected_failure(env):
    env.enqueue(1, 2)
    worker = env.worker(lambda ids: {1: Synced()}, idle_grace=0.0)
    assert worker.summary()["errors_by_kind"] == {"unexpected": 1}
    assert [row[0] for row in env.schedule()] == [2]


def test_progress_and_heartbeat_are_reported(env):
    env.enqueue(1, 2, 3)
    progress, beats = [], []
    env.worker(
        env.sync(ok), batch_size=2,
        on_progress=lambda done, total, summary: progress.append((done, total)),
        on_beat=lambda: beats.append(1),
    )
    assert progress == [(2, 3), (3, 3)]
    assert len(beats) >= 3


def test_stop_ends_a_running_thread(env):
    worker = SyncWorker(
        env.store, env.breaker, settings(poll_interval=0.1), env.sync(ok),
        clock=env.clock, idle_grace=None,
    )
    worker.start()
    worker.stop()
    worker.join(timeout=10)
    assert not worker.is_alive() and worker.summary()["stopped_reason"] == "stopped"
