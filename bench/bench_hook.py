"""Hook cost: the wall time Stash waits for one hook process, against bare Python.

Target: median ≤ 3× `python -c pass`, p95 ≤ 150 ms. Measured with a drainer heartbeat
present (the common case in a burst: the hook only enqueues) and without one (the
hook also starts a detached drainer, which here exits at once for lack of a lock).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench.report import Table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "Stash2Plex.py")
RUNS = 40


def _time(argv, stdin: bytes = b"", env=None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - start


def _hook_doc(data_dir: str, scene_id: int) -> bytes:
    ctx = {"id": scene_id, "type": "Scene.Update.Post", "input": {"id": str(scene_id), "title": "t"}, "inputFields": ["id", "title"]}
    conn = {"Scheme": "http", "Host": "127.0.0.1", "Port": 9, "Dir": data_dir, "PluginDir": ROOT,
            "SessionCookie": {"Name": "session", "Value": "bench"}}
    return json.dumps({"server_connection": conn, "args": {"hookContext": ctx}}).encode()


def _pcts(samples):
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def run(table: Table) -> None:
    from sync_queue import inbox

    bare = [_time([sys.executable, "-c", "pass"]) for _ in range(RUNS)]
    tmp = tempfile.mkdtemp(prefix="bench-hook-")
    try:
        data_dir = os.path.join(tmp, "plugin_data", "Stash2Plex")
        os.makedirs(data_dir)
        from worker.database import open_db

        open_db(data_dir).close()  # the schema a drainer would have created
        fresh = []
        drainer_conn = inbox.connect(data_dir)  # a live drainer keeps the file open, as here
        for i in range(RUNS):
            inbox.beat(drainer_conn, os.getpid(), time.time())  # ... and beats
            fresh.append(_time([sys.executable, SCRIPT], _hook_doc(tmp, i + 1)))
        drainer_conn.close()
        lock_holder = _hold_lock(data_dir)
        try:
            spawning = []
            for i in range(RUNS // 4):
                conn = inbox.connect(data_dir)
                inbox.clear_beat(conn)
                conn.close()
                spawning.append(_time([sys.executable, SCRIPT], _hook_doc(tmp, 1000 + i)))
        finally:
            lock_holder.release()
    finally:
        time.sleep(1.0)  # spare drainers started above exit on finding the lock held
        shutil.rmtree(tmp, ignore_errors=True)
    b50, b95 = _pcts(bare)
    f50, f95 = _pcts(fresh)
    s50, s95 = _pcts(spawning)
    table.row("hook: bare python -c pass p50 / p95 (this machine)", f"{b50*1000:.1f} / {b95*1000:.1f} ms", "")
    table.row("hook: enqueue only, p50 / p95", f"{f50*1000:.1f} / {f95*1000:.1f} ms", "≤ 150 ms p95")
    table.row("hook: enqueue only, p50 ratio to bare python", f"{f50/b50:.2f}×", "≤ 3×")
    table.row("hook: enqueue + start drainer, p50 / p95", f"{s50*1000:.1f} / {s95*1000:.1f} ms", "≤ 150 ms p95")
    table.row("hook: enqueue + start drainer, p50 ratio", f"{s50/b50:.2f}×", "")


def _hold_lock(data_dir: str):
    from worker.lock import DrainLock

    lock = DrainLock(data_dir)
    lock.try_acquire()
    return lock


if __name__ == "__main__":
    t = Table("Hook")
    run(t)
    t.print()
