"""Several processes enqueue while drainers compete for the drain lock; drainers get kill -9.

The sync function records every batch (pid, start, end) in a separate SQLite file, so
the test can check that no two processes ever drained at once and that every enqueue
was followed by a completed sync that read the scene after it (nothing lost).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sqlite3
import sys
import time

import pytest

from sync_queue import inbox
from worker.database import open_db
from sync_queue.store import QueueStore
from sync_queue.sync_state import SceneState, SyncState
from validation.settings import Settings
from worker.breaker import CircuitBreaker
from worker.lock import DrainLock
from worker.loop import SyncWorker

CTX = multiprocessing.get_context("spawn")  # the start method every OS has
DEADLINE = 45.0  # seconds any helper process may live


# -- child processes -----------------------------------------------------------------


def _record_db(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, pid INTEGER, start REAL, end REAL)")
    conn.execute("CREATE TABLE IF NOT EXISTS syncs (scene_id INTEGER, pid INTEGER, start REAL, end REAL)")
    return conn


def enqueuer(data_dir: str, ids: list, chunk: int, out_path: str, seed: int) -> None:
    """Enqueue `ids` a few at a time, as many hook processes would; write down when each was queued."""
    rng = random.Random(seed)
    last = {}
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        now = time.time()
        inbox.enqueue(data_dir, part, "hook", now=now)
        for scene_id in part:
            last[scene_id] = now
        if rng.random() < 0.2:
            time.sleep(0.002)
    with open(out_path, "w") as fh:
        json.dump(last, fh)


def drainer(data_dir: str, record_path: str, done_flag: str, per_scene_delay: float) -> None:
    """Compete for the lock; while holding it, drain until idle; exit once all enqueuers are done and the queue is empty."""
    deadline = time.time() + DEADLINE
    record = _record_db(record_path)
    lock = DrainLock(data_dir)
    settings = Settings(poll_interval=0.1)
    pid = os.getpid()
    rng = random.Random(pid)
    while time.time() < deadline:
        if not lock.try_acquire():
            time.sleep(0.01)
            continue
        conn = open_db(data_dir)
        store = QueueStore(conn)
        try:
            store.resume_unacked()
            state = SyncState(conn)

            def sync_batch(ids):
                start = time.time()
                batch = record.execute("INSERT INTO batches (pid, start) VALUES (?, ?)", (pid, start)).lastrowid
                if per_scene_delay:
                    time.sleep(per_scene_delay * len(ids))
                end = time.time()
                record.execute("BEGIN IMMEDIATE")
                record.executemany(
                    "INSERT INTO syncs VALUES (?, ?, ?, ?)", [(i, pid, start, end) for i in ids]
                )
                record.execute("UPDATE batches SET end = ? WHERE id = ?", (end, batch))
                record.execute("COMMIT")
                for scene_id in ids:  # what the real sync engine does after its Plex edit
                    state.record(SceneState(scene_id=scene_id, read_at=start, synced_at=end))
                return {scene_id: {"changed": True} for scene_id in ids}

            # Hand the lock over after a few batches, so drainers really take turns.
            turns = rng.randint(2, 6)

            def maybe_hand_over(done, total, summary):
                nonlocal turns
                turns -= 1
                if turns <= 0:
                    worker.stop()

            worker = SyncWorker(
                store, CircuitBreaker(conn, settings), settings, sync_batch,
                state_lookup=state.get_many, idle_grace=0.3, batch_size=rng.choice([5, 20, 50]),
                on_progress=maybe_hand_over,
            )
            worker.run()
            if worker.error is not None:
                raise worker.error
            finished = os.path.exists(done_flag) and store.counts()["pending"] == 0
        finally:
            store.close()
            conn.close()
            lock.release()
        if finished:
            return
        time.sleep(0.01)  # give a competitor a turn at the lock
    raise SystemExit("drainer ran out of time")


# -- helpers for the parent ----------------------------------------------------------


def start(target, *args):
    proc = CTX.Process(target=target, args=args, daemon=True)
    proc.start()
    return proc


def finish(procs, timeout=DEADLINE + 10):
    end = time.time() + timeout
    for proc in procs:
        proc.join(max(0.1, end - time.time()))
    alive = [p for p in procs if p.is_alive()]
    for proc in alive:
        proc.kill()
        proc.join(5)
    assert not alive, "a helper process did not finish in time"
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]


def load_enqueues(paths):
    last = {}
    for path in paths:
        with open(path) as fh:
            for scene_id, when in json.load(fh).items():
                last[int(scene_id)] = max(when, last.get(int(scene_id), 0.0))
    return last


def assert_nothing_lost(record_path, data_dir, last_enqueue):
    record = _record_db(record_path)
    syncs = {}
    for scene_id, started in record.execute("SELECT scene_id, start FROM syncs"):
        syncs[scene_id] = max(started, syncs.get(scene_id, 0.0))
    missing = [s for s, when in last_enqueue.items() if syncs.get(s, -1.0) < when]
    assert not missing, f"{len(missing)} scenes never synced after their last enqueue, e.g. {missing[:5]}"
    store = QueueStore(data_dir)
    counts = store.counts()
    store.close()
    assert (counts["pending"], counts["deferred"], counts["dead_letters"]) == (0, 0, 0), counts


def assert_one_drainer_at_a_time(record_path):
    record = _record_db(record_path)
    batches = record.execute("SELECT pid, start, end FROM batches WHERE end IS NOT NULL ORDER BY start").fetchall()
    for (pid_a, _, end_a), (pid_b, start_b, _) in zip(batches, batches[1:]):
        assert pid_a == pid_b or start_b >= end_a, f"{pid_a} and {pid_b} drained at the same time"
    return batches


# -- tests -----------------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_enqueuers_and_competing_drainers_lose_nothing(tmp_path):
    data_dir, record_path = str(tmp_path / "data"), str(tmp_path / "record.sqlite3")
    done_flag = str(tmp_path / "enqueuers-done")
    _record_db(record_path).close()
    rng = random.Random(11)
    outs = [str(tmp_path / f"enqueued-{n}.json") for n in range(3)]
    # 3 x 2,000 enqueues over 3,000 scenes: many scenes are queued by two processes.
    plans = [rng.sample(range(1, 3001), 2000) for _ in outs]
    drainers = [start(drainer, data_dir, record_path, done_flag, 0.0) for _ in range(3)]
    enqueuers = [start(enqueuer, data_dir, plan, 25, out, n) for n, (plan, out) in enumerate(zip(plans, outs))]
    finish(enqueuers)
    open(done_flag, "w").close()
    finish(drainers)

    assert_nothing_lost(record_path, data_dir, load_enqueues(outs))
    batches = assert_one_drainer_at_a_time(record_path)
    assert len({pid for pid, _, _ in batches}) >= 2  # they did take turns


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL") or sys.platform == "win32", reason="kill -9 is POSIX")
def test_a_drainer_killed_mid_batch_loses_nothing(tmp_path):
    data_dir, record_path = str(tmp_path / "data"), str(tmp_path / "record.sqlite3")
    done_flag = str(tmp_path / "enqueuers-done")
    record = _record_db(record_path)
    rng = random.Random(5)
    out = str(tmp_path / "enqueued.json")
    enqueuer(data_dir, list(range(1, 1501)), 100, out, 1)
    outs = [out]
    killed_mid_batch = 0
    for round_no in range(4):
        victim = start(drainer, data_dir, record_path, done_flag, 0.003)
        # Wait until the victim is inside sync_batch, then kill it somewhere in the batch.
        waited_until = time.time() + 20
        while time.time() < waited_until:
            open_batch = record.execute(
                "SELECT 1 FROM batches WHERE pid = ? AND end IS NULL", (victim.pid,)
            ).fetchone()
            if open_batch:
                break
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.1))
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(10)
        assert victim.exitcode == -signal.SIGKILL
        if record.execute("SELECT 1 FROM batches WHERE pid = ? AND end IS NULL", (victim.pid,)).fetchone():
            killed_mid_batch += 1
        # Hooks keep coming while drainers die.
        more = str(tmp_path / f"enqueued-more-{round_no}.json")
        enqueuer(data_dir, rng.sample(range(1, 1501), 200), 50, more, round_no)
        outs.append(more)
    assert killed_mid_batch >= 1
    open(done_flag, "w").close()
    survivor = start(drainer, data_dir, record_path, done_flag, 0.0)
    finish([survivor])

    assert_nothing_lost(record_path, data_dir, load_enqueues(outs))
    assert_one_drainer_at_a_time(record_path)
