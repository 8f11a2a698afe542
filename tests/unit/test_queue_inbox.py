import os
import sqlite3
import subprocess
import sys
import time

from sync_queue import inbox

NOW = 1_700_000_000.0


def rows(data_dir):
    conn = sqlite3.connect(inbox.db_path(str(data_dir)))
    try:
        return conn.execute("SELECT scene_id, enqueued_at, reason FROM inbox ORDER BY scene_id").fetchall()
    finally:
        conn.close()


def test_enqueue_creates_the_file_and_writes_one_row_per_scene(tmp_path):
    data_dir = tmp_path / "new" / "dir"
    assert inbox.enqueue(str(data_dir), [3, 1, 2], "hook", now=NOW) == 3
    assert rows(data_dir) == [(1, NOW, "hook"), (2, NOW, "hook"), (3, NOW, "hook")]


def test_a_newer_enqueue_moves_the_time_forward_never_back(tmp_path):
    inbox.enqueue(str(tmp_path), [5], "hook", now=NOW)
    inbox.enqueue(str(tmp_path), [5], "sync all", now=NOW + 10)
    inbox.enqueue(str(tmp_path), [5], "late clock", now=NOW + 5)
    assert rows(tmp_path) == [(5, NOW + 10, "late clock")]


def test_nothing_to_enqueue_creates_nothing(tmp_path):
    assert inbox.enqueue(str(tmp_path / "x"), [], "hook") == 0
    assert not (tmp_path / "x").exists()


def test_fifty_thousand_ids_are_one_fast_transaction(tmp_path):
    start = time.perf_counter()
    inbox.enqueue(str(tmp_path), range(50_000), "sync all", now=NOW)
    elapsed = time.perf_counter() - start
    assert len(rows(tmp_path)) == 50_000
    assert elapsed < 10.0


def test_heartbeat(tmp_path):
    data_dir = str(tmp_path)
    assert not inbox.heartbeat_is_fresh(data_dir, now=NOW)  # no file
    inbox.enqueue(data_dir, [1], "hook", now=NOW)
    assert not inbox.heartbeat_is_fresh(data_dir, now=NOW)  # no drainer yet
    conn = inbox.connect(data_dir)
    inbox.beat(conn, pid=123, now=NOW)
    assert inbox.heartbeat_is_fresh(data_dir, now=NOW + 1.5)
    assert not inbox.heartbeat_is_fresh(data_dir, now=NOW + 2.5)
    inbox.beat(conn, pid=123, now=NOW + 5)
    assert conn.execute("SELECT pid, beat_at, started_at FROM drainer").fetchone() == (123, NOW + 5, NOW)
    inbox.beat(conn, pid=456, now=NOW + 6)
    assert conn.execute("SELECT pid, started_at FROM drainer").fetchone() == (456, NOW + 6)
    inbox.clear_beat(conn)
    assert not inbox.heartbeat_is_fresh(data_dir, now=NOW + 6)
    conn.close()


def test_a_corrupt_file_is_moved_aside_and_the_new_job_kept(tmp_path):
    data_dir = str(tmp_path)
    with open(inbox.db_path(data_dir), "wb") as fh:
        fh.write(b"this is not sqlite at all" * 100)
    inbox.enqueue(data_dir, [9], "hook", now=NOW)
    assert rows(tmp_path) == [(9, NOW, "hook")]
    aside = [name for name in os.listdir(data_dir) if ".corrupt-" in name]
    assert len(aside) == 1
    conn = sqlite3.connect(inbox.db_path(data_dir))
    note = conn.execute("SELECT value FROM meta WHERE key = 'last_corruption'").fetchone()[0]
    conn.close()
    assert aside[0] in note


def test_the_hook_module_imports_only_the_standard_library():
    code = (
        "import sys; import sync_queue.inbox; "
        "bad = [m for m in ('persistqueue', 'plexapi', 'pydantic', 'stashapi', 'tenacity', 'requests', 'filelock') "
        "if m in sys.modules]; print(','.join(bad))"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
