"""Hook cost: the wall time Stash waits for one hook process, beside bare Python.

Target (issue 20): p50 ≤ 1.5× and p95 ≤ 2.5× a bare `python -c pass` of the same
interpreter. Bare and hook runs alternate (A B A B …) so both see the same machine, and
each hook is divided by the bare run beside it. Bytecode may be written (a warm-up run
writes it), as when Stash starts the plugin: PYTHONDONTWRITEBYTECODE in the bench's own
environment is removed for the timed processes. Two cases:
  - enqueue only: a drainer holds the drain lock (this process holds it), as in a burst;
  - enqueue + start a drainer: the lock is free, so the hook also spawns one, which this
    bench stops at once (it finds no Stash).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from bench.report import Table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "Stash2Plex.py")
RUNS = 40
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(argv, stdin: bytes = b"") -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, check=False)
    return time.perf_counter() - start


def _hook_doc(tmp: str, scene_id: int) -> bytes:
    ctx = {"id": scene_id, "type": "Scene.Update.Post", "input": {"id": str(scene_id), "title": "t"},
           "inputFields": ["id", "title"]}
    conn = {"Scheme": "http", "Host": "127.0.0.1", "Port": 9, "Dir": tmp, "PluginDir": ROOT,
            "SessionCookie": {"Name": "session", "Value": "bench"}}
    return json.dumps({"server_connection": conn, "args": {"hookContext": ctx}}).encode()


def pcts(samples):
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def _paired(runs: int, hook_run):
    bare, hooks = [], []
    for i in range(runs):
        bare.append(_time([sys.executable, "-c", "pass"]))
        hooks.append(hook_run(i))
    return bare, hooks


def _stop_drainers(data_dir: str) -> None:
    from testbed.world import drainer_processes

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pids = drainer_processes(data_dir)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


def measure(runs: int = RUNS):
    """(bare, enqueue-only, bare2, spawning) wall-time lists, from one run."""
    from worker.database import open_db
    from worker.lock import DrainLock

    tmp = tempfile.mkdtemp(prefix="bench-hook-")
    data_dir = os.path.join(tmp, "plugin_data", "Stash2Plex")
    os.makedirs(data_dir)
    open_db(data_dir).close()  # the schema a drainer would have created
    lock = DrainLock(data_dir)
    try:
        lock.try_acquire()  # "a drainer is running"
        _time([sys.executable, SCRIPT], _hook_doc(tmp, 1))  # warm-up: writes the bytecode
        bare, fresh = _paired(runs, lambda i: _time([sys.executable, SCRIPT], _hook_doc(tmp, i + 1)))
        lock.release()

        def spawning(i: int) -> float:
            took = _time([sys.executable, SCRIPT], _hook_doc(tmp, 1000 + i))
            _stop_drainers(data_dir)
            return took

        bare2, spawned = _paired(max(5, runs // 4), spawning)
    finally:
        lock.release()
        _stop_drainers(data_dir)
        shutil.rmtree(tmp, ignore_errors=True)
    return bare, fresh, bare2, spawned


def run(table: Table, runs: int = RUNS) -> None:
    bare, fresh, bare2, spawned = measure(runs)
    b50, b95 = pcts(bare)
    f50, f95 = pcts(fresh)
    paired = statistics.median(f / b for f, b in zip(fresh, bare))
    s50, s95 = pcts(spawned)
    c50, _ = pcts(bare2)
    table.row("hook: bare `python -c pass`, p50 / p95 (reference, same run)", f"{b50*1000:.1f} / {b95*1000:.1f} ms")
    table.row("hook: enqueue only, p50 / p95", f"{f50*1000:.1f} / {f95*1000:.1f} ms")
    table.row("hook: enqueue only, p50 / p95 ratio to bare", f"{f50/b50:.2f}× / {f95/b95:.2f}× "
              f"(median of paired ratios {paired:.2f}×)", "≤ 1.5× / ≤ 2.5×")
    table.row("hook: enqueue + start a drainer, p50 / p95", f"{s50*1000:.1f} / {s95*1000:.1f} ms "
              f"({s50/c50:.2f}× bare p50)")


if __name__ == "__main__":
    t = Table("Hook")
    run(t, int(sys.argv[1]) if len(sys.argv) > 1 else RUNS)
    t.print()
