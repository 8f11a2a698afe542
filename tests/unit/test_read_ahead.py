"""Reading the next batch ahead: when a read taken ahead may stand for a batch, and what
the worker hands the syncer for it (the queue's next jobs, and when its jobs were queued)."""

from __future__ import annotations

import threading

from sync_queue import inbox
from sync_queue.store import QueueStore
from tests.unit.queue_support import FakeClock
from tests.unit.test_sync_worker import Env, Synced
from worker import database as db
from worker.batch.ahead import ReadAhead


class FakeStash:
    def __init__(self, have, fail=False):
        self.have, self.fail, self.asked = set(have), fail, []
        self.done = threading.Event()

    def find_scenes(self, ids):
        self.asked.append(list(ids))
        self.done.set()
        if self.fail:
            raise ConnectionError("refused")
        return {i: {"id": str(i)} for i in ids if i in self.have}


def _ahead(stash, start=100.0):
    clock = FakeClock(start)
    return ReadAhead(stash.find_scenes, clock), clock


def test_a_read_begun_after_every_job_was_queued_serves_the_batch():
    stash = FakeStash(have={1, 2})
    ahead, _ = _ahead(stash)
    ahead.start([1, 2, 3])
    found, read_at = ahead.take([2, 3], read_after=99.0)
    assert found == {2: {"id": "2"}} and read_at == 100.0  # 3 is gone from Stash, as a fresh read would say
    assert stash.asked == [[1, 2, 3]] and ahead.used == 1
    assert ahead.take([2, 3], read_after=99.0) is None  # a read serves one batch
    ahead.close()


def test_a_job_queued_after_the_read_began_makes_the_batch_read_stash_itself():
    ahead, _ = _ahead(FakeStash(have={1}))
    ahead.start([1])
    assert ahead.take([1], read_after=100.0) is None  # queued at the very moment: not covered
    ahead.start([1])
    assert ahead.take([1], read_after=None) is None  # nothing said about the jobs: not covered
    ahead.close()


def test_ids_the_read_did_not_ask_for_or_a_failed_read_are_not_served():
    ahead, _ = _ahead(FakeStash(have={1, 2}))
    ahead.start([1])
    assert ahead.take([1, 2], read_after=0.0) is None
    failing = FakeStash(have={1}, fail=True)
    ahead, _ = _ahead(failing)
    ahead.start([1])
    assert ahead.take([1], read_after=0.0) is None and failing.asked == [[1]]
    ahead.close()


def test_waiting_ids_are_the_next_claims_and_claim_nothing(tmp_path):
    conn = db.open_db(str(tmp_path))
    store = QueueStore(conn, clock=FakeClock())
    assert store.waiting_ids(5) == []
    inbox.enqueue(str(tmp_path), [4, 5, 6], "hook", now=1.0)
    store.promote()
    assert store.waiting_ids(2) == [4, 5]
    assert [j.scene_id for j in store.claim(2)] == [4, 5]
    assert store.waiting_ids(5) == [6]
    store.close()
    conn.close()


def test_the_worker_hands_over_the_next_jobs_and_when_its_jobs_were_queued(tmp_path):
    env = Env(tmp_path)
    calls = []

    def sync_batch(ids, read_after=None, next_ids=()):
        calls.append((list(ids), read_after, list(next_ids)))
        return {i: Synced() for i in ids}

    queued_at = env.clock()
    env.enqueue(1, 2, 3, 4, 5)
    env.worker(sync_batch, batch_size=2, read_ahead=True)
    assert calls == [([1, 2], queued_at, [3, 4]), ([3, 4], queued_at, [5]), ([5], queued_at, [])]
    env.store.close()
