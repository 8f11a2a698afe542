import pytest

from sync_queue import inbox
from worker.database import open_db
from sync_queue.dead_letters import RETRY_REASON, DeadLetters
from sync_queue.store import QueueStore
from tests.unit.queue_support import FakeClock
from errors.kinds import ErrorKind

DAY = 86400.0


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def env(tmp_path, clock):
    data_dir = str(tmp_path)
    conn = open_db(data_dir)
    store = QueueStore(conn, clock=clock)
    yield data_dir, store, DeadLetters(conn)
    store.close()


def fail(data_dir, store, clock, scene_id, kind, message="boom"):
    inbox.enqueue(data_dir, [scene_id], "hook", now=clock())
    store.promote(clock())
    [job] = store.claim(1, clock())
    store.dead_letter(job, kind, message, 3)


def test_review_count_recent_get_and_by_kind(env, clock):
    data_dir, store, dlq = env
    fail(data_dir, store, clock, 1, ErrorKind.PERMANENT, "scene deleted")
    clock.advance(1)
    fail(data_dir, store, clock, 2, ErrorKind.TRANSIENT, "retries exhausted")
    clock.advance(1)
    fail(data_dir, store, clock, 3, ErrorKind.TRANSIENT, "retries exhausted")
    assert dlq.count() == 3
    recent = dlq.recent(2)
    assert [d.scene_id for d in recent] == [3, 2]
    assert dlq.get(recent[0].id) == recent[0]
    assert dlq.get(9999) is None
    assert dlq.by_kind() == {"permanent": 1, "transient": 2}


def test_retry_by_kind_queues_the_scenes_and_resolves_the_entries(env, clock):
    data_dir, store, dlq = env
    fail(data_dir, store, clock, 1, ErrorKind.PERMANENT)
    fail(data_dir, store, clock, 2, ErrorKind.TRANSIENT)
    clock.advance(10)
    assert dlq.retry(kind=ErrorKind.TRANSIENT, now=clock()) == 1
    assert dlq.by_kind() == {"permanent": 1}
    assert dlq.recent(10, include_resolved=True)[0].resolved_at == clock()
    store.promote(clock())
    [job] = store.claim(10, clock())
    assert (job.scene_id, job.reason, job.attempts) == (2, RETRY_REASON, 0)


def test_retry_by_id_and_all(env, clock):
    data_dir, store, dlq = env
    for scene in (1, 2, 3):
        fail(data_dir, store, clock, scene, ErrorKind.PERMANENT)
    first = dlq.recent(10)[-1]
    assert dlq.retry(ids=[first.id], now=clock()) == 1
    assert dlq.retry(ids=[], now=clock()) == 0
    assert dlq.retry(now=clock()) == 2
    assert dlq.count() == 0
    assert store.counts(clock())["inbox"] == 3


def test_purge_keeps_the_retention_window(env, clock):
    data_dir, store, dlq = env
    fail(data_dir, store, clock, 1, ErrorKind.PERMANENT)
    clock.advance(20 * DAY)
    fail(data_dir, store, clock, 2, ErrorKind.PERMANENT)
    clock.advance(15 * DAY)
    assert dlq.purge(30, now=clock()) == 1
    assert [d.scene_id for d in dlq.recent(10)] == [2]


def test_a_later_success_resolves_the_scenes_dead_letters(env, clock):
    data_dir, store, dlq = env
    fail(data_dir, store, clock, 1, ErrorKind.PERMANENT)
    fail(data_dir, store, clock, 2, ErrorKind.PERMANENT)
    assert dlq.resolve_scene(2, now=clock()) == 1
    inbox.enqueue(data_dir, [1], "hook", now=clock())
    store.promote(clock())
    [job] = store.claim(1, clock())
    store.succeeded(job)
    assert dlq.count() == 0
