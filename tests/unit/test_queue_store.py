import pytest

from sync_queue import db, inbox
from sync_queue.ready_queue import READY_TABLE, Job
from sync_queue.retry_schedule import DUE_RETRIES_SQL
from sync_queue.store import INBOX_BATCH_SQL, QueueStore
from tests.unit.queue_support import FakeClock
from errors.kinds import ErrorKind


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path)


@pytest.fixture
def store(data_dir, clock):
    s = QueueStore(data_dir, clock=clock)
    yield s
    s.close()


def enqueue(data_dir, clock, *ids, reason="hook"):
    inbox.enqueue(data_dir, ids, reason, now=clock())


def test_enqueued_scenes_become_claimable_jobs(store, data_dir, clock):
    enqueue(data_dir, clock, 1, 2)
    assert store.claim(10, clock()) == []  # not promoted yet
    assert store.promote(clock()) == 2
    jobs = store.claim(10, clock())
    assert [(j.scene_id, j.reason, j.attempts, j.enqueued_at) for j in jobs] == [
        (1, "hook", 0, clock()),
        (2, "hook", 0, clock()),
    ]
    assert store.counts(clock())["in_flight"] == 2
    for job in jobs:
        store.succeeded(job)
    assert store.counts(clock())["pending"] == 0


def test_ten_enqueues_of_one_scene_are_one_job(store, data_dir, clock):
    for _ in range(10):
        enqueue(data_dir, clock, 7)
        clock.advance(1)
    store.promote(clock())
    jobs = store.claim(50, clock())
    assert [j.scene_id for j in jobs] == [7]


def test_duplicates_in_one_claim_are_merged(store, data_dir, clock):
    """A crash between putting a job and deleting its inbox row leaves two: harmless."""
    enqueue(data_dir, clock, 4)
    store.promote(clock())
    clock.advance(5)
    enqueue(data_dir, clock, 4)
    store.promote(clock())
    jobs = store.claim(50, clock())
    assert len(jobs) == 1 and jobs[0].enqueued_at == clock()
    assert store.coalesced == 1
    store.ack(jobs[0])
    assert store.counts(clock())["pending"] == 0


def test_claim_respects_its_limit(store, data_dir, clock):
    enqueue(data_dir, clock, *range(10))
    store.promote(clock())
    assert len(store.claim(3, clock())) == 3
    assert store.counts(clock()) ["ready"] == 7


def test_a_deferred_job_waits_for_its_time(store, data_dir, clock):
    enqueue(data_dir, clock, 1)
    store.promote(clock())
    [job] = store.claim(1, clock())
    store.defer(job, clock() + 30, 1, ErrorKind.TRANSIENT, "refused")
    counts = store.counts(clock())
    assert counts["deferred"] == 1 and counts["pending"] == 0
    assert counts["next_retry_at"] == clock() + 30
    assert counts["deferred_by_kind"] == {"transient": 1}
    clock.advance(29.9)
    assert store.promote(clock()) == 0
    assert store.claim(10, clock()) == []
    clock.advance(0.1)
    assert store.promote(clock()) == 1
    [retry] = store.claim(10, clock())
    assert (retry.scene_id, retry.attempts, retry.reason) == (1, 1, "retry")
    assert retry.first_failed_at == clock() - 30
    assert store.counts(clock())["deferred"] == 0


def test_hooks_for_a_deferred_scene_do_not_make_it_early(store, data_dir, clock):
    """The retry storm: a scan fires hook after hook for a file Plex has not scanned yet."""
    enqueue(data_dir, clock, 1)
    store.promote(clock())
    [job] = store.claim(1, clock())
    store.defer(job, clock() + 60, 3, ErrorKind.NOT_FOUND, "not in Plex yet")
    for _ in range(10):
        clock.advance(5)
        enqueue(data_dir, clock, 1, 2)
        store.promote(clock())
        claimed = store.claim(50, clock())
        assert [j.scene_id for j in claimed] == [2]
        store.succeeded(claimed[0])
    assert store.counts(clock())["inbox"] == 0
    clock.advance(10)
    store.promote(clock())
    [retry] = store.claim(50, clock())
    assert (retry.scene_id, retry.attempts) == (1, 3)  # the hooks did not reset its budget


def test_a_job_claimed_after_a_crash_mid_defer_is_not_run_early(data_dir, clock):
    """kill -9 after the schedule row is written but before the ack: the job is in both places."""
    first = QueueStore(data_dir, clock=clock)
    enqueue(data_dir, clock, 1)
    first.promote(clock())
    [job] = first.claim(1, clock())
    with db.transaction(first.conn):
        first.conn.execute(
            "INSERT INTO retry_schedule VALUES (?, 2, ?, 'transient', 'refused', ?)",
            (job.scene_id, clock() + 20, clock()),
        )
    first.close()  # the process dies without acking

    second = QueueStore(data_dir, clock=clock)
    assert second.resume_unacked() == 1
    second.promote(clock())
    assert second.claim(10, clock()) == []  # acked away: the schedule holds the scene
    clock.advance(20)
    second.promote(clock())
    [retry] = second.claim(10, clock())
    assert retry.attempts == 2
    second.close()


def test_a_due_schedule_row_merges_its_attempts_into_a_claimed_job(store, data_dir, clock):
    enqueue(data_dir, clock, 1)
    store.promote(clock())
    with db.transaction(store.conn):
        store.conn.execute("INSERT INTO retry_schedule VALUES (1, 4, ?, 'transient', 'x', ?)", (clock(), clock()))
    [job] = store.claim(10, clock())
    assert job.attempts == 4


def test_release_puts_a_job_back_without_counting(store, data_dir, clock):
    enqueue(data_dir, clock, 1)
    store.promote(clock())
    [job] = store.claim(1, clock())
    store.release(job)
    assert store.counts(clock())["ready"] == 1
    [again] = store.claim(1, clock())
    assert again == job


def test_unacked_jobs_of_a_dead_drainer_are_resumed(data_dir, clock):
    first = QueueStore(data_dir, clock=clock)
    enqueue(data_dir, clock, 1, 2, 3)
    first.promote(clock())
    assert len(first.claim(2, clock())) == 2
    first.close()  # killed mid-batch
    second = QueueStore(data_dir, clock=clock)
    assert second.counts(clock())["in_flight"] == 2
    assert second.resume_unacked() == 2
    assert sorted(j.scene_id for j in second.claim(10, clock())) == [1, 2, 3]
    second.close()


def test_dead_letter_and_success_resolve(store, data_dir, clock):
    enqueue(data_dir, clock, 1)
    store.promote(clock())
    [job] = store.claim(1, clock())
    store.defer(job, clock(), 5, ErrorKind.TRANSIENT, "refused")
    store.promote(clock())
    [job] = store.claim(1, clock())
    store.dead_letter(job, ErrorKind.TRANSIENT, "retries exhausted: refused", 6)
    counts = store.counts(clock())
    assert counts["dead_letters"] == 1 and counts["deferred"] == 0 and counts["pending"] == 0
    row = store.conn.execute("SELECT scene_id, error_kind, message, attempts FROM dead_letters").fetchone()
    assert row == (1, "transient", "retries exhausted: refused", 6)

    enqueue(data_dir, clock, 1)  # the user fixed it and saved the scene again
    store.promote(clock())
    [job] = store.claim(1, clock())
    store.succeeded(job)
    assert store.counts(clock())["dead_letters"] == 0


def test_one_open_dead_letter_per_scene(store, data_dir, clock):
    for _ in range(3):
        enqueue(data_dir, clock, 1)
        store.promote(clock())
        [job] = store.claim(1, clock())
        store.dead_letter(job, ErrorKind.PERMANENT, "scene deleted", 1)
    assert store.conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 1


def test_counts_without_a_ready_queue_yet(data_dir, clock):
    enqueue(data_dir, clock, 1, 2)
    reader = QueueStore(data_dir, clock=clock)  # e.g. the Queue Status task in another process
    counts = reader.counts(clock())
    assert counts["pending"] == 2 and counts["ready"] == 0 and counts["in_flight"] == 0
    assert not reader.conn.execute(
        "SELECT name FROM sqlite_master WHERE name = ?", (READY_TABLE,)
    ).fetchall()


def test_the_due_retry_query_uses_its_index(store):
    plan = " ".join(r[-1] for r in store.conn.execute("EXPLAIN QUERY PLAN " + DUE_RETRIES_SQL, (0.0, 10)))
    assert "retry_schedule_not_before" in plan and "SCAN retry_schedule" not in plan
    plan = " ".join(r[-1] for r in store.conn.execute("EXPLAIN QUERY PLAN " + INBOX_BATCH_SQL, (10,)))
    assert "inbox_enqueued_at" in plan


def vm_steps(conn, action):
    steps = [0]

    def tick():
        steps[0] += 1
        return 0

    conn.set_progress_handler(tick, 1)
    try:
        action()
    finally:
        conn.set_progress_handler(None, 1)
    return steps[0]


def test_a_drain_cycle_costs_the_same_with_ten_thousand_waiting_jobs(data_dir, clock):
    store = QueueStore(data_dir, clock=clock)

    def cycle():
        enqueue(data_dir, clock, 999_999)
        steps = vm_steps(store.conn, lambda: (store.promote(clock()), store.claim(1, clock())))
        for job in store.claim(50, clock()):
            store.ack(job)
        return steps

    cycle()  # warm up: creates the ready queue
    empty = cycle()
    with db.transaction(store.conn):
        store.conn.executemany(
            "INSERT INTO retry_schedule VALUES (?, 1, ?, 'not_found', 'x', ?)",
            [(i, clock() + 3600 + i, clock()) for i in range(10_000)],
        )
    loaded = cycle()
    assert loaded <= empty * 1.5 + 50, (empty, loaded)
    store.close()


def test_job_is_a_plain_value():
    job = Job(pqid=1, scene_id=2, enqueued_at=3.0, reason="hook")
    assert job.attempts == 0 and job.first_failed_at is None
