"""The data folder in trouble: a hook never loses an edit silently (promises 1, 3, 10).

The queue file is locked by another program, the disk fills up, the folder turns
read-only, or the file is deleted under a running drainer. Each time the hook answers
Stash within its bound, and every edit made meanwhile reaches Plex once the cause is
gone, without a button, or the user is told exactly what to run.

The full and read-only cases put the data folder on a small tmpfs of its own, which
needs the right to mount (CI runs as root); elsewhere they are skipped.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from tests.e2e.conftest import wait_until

HOOK_SECONDS = 5.0  # generous for a loaded machine; the busy wait itself is half a second


def _db(env) -> str:
    return os.path.join(env.data_dir, "stash2plex.sqlite3")


def _synced_once(env, scene_ids):
    env.queue_directly(scene_ids)
    assert env.ok_task("Process Queue")["synced"] == len(scene_ids)


def test_a_locked_queue_file_does_not_touch_the_hook_and_the_edit_lands_later(plugin_env):
    env = plugin_env
    scene_ids = env.seed(2)
    _synced_once(env, scene_ids)
    holder = sqlite3.connect(_db(env), timeout=1, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a database browser with a write open
    try:
        env.stash.update_scene(scene_ids[0], title="Saved while the file was locked")
        run = env.stash.hook_runs[-1].result
        assert run.duration < HOOK_SECONDS, run.duration
        # The hook never opens the queue file (it drops a file of its own), so a lock is no trouble to it.
        assert run.error is None and run.output == {"queued": True, "scene_id": scene_ids[0],
                                                     "drainer_started": run.output["drainer_started"]}
        assert not run.messages("warning"), run.logs

        failed = env.task("Process Queue")
        assert failed.error and "locked by another program" in failed.error, failed.error
        assert "OperationalError" not in failed.error
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    wait_until(lambda: env.plex_title(scene_ids[0]) == "Saved while the file was locked", 40,
               "the dropped edit to reach Plex once the lock is gone")
    wait_until(lambda: not os.listdir(os.path.join(env.data_dir, "stash2plex.drops")), 10, "the drop to be merged")


def test_a_deleted_queue_file_under_a_running_drainer_heals(plugin_env):
    env = plugin_env
    scene_ids = env.seed(2)
    env.configure(not_found_base_seconds=600)
    sid = env.stash.add_scene(title="Not scanned yet", files=["/data/stash/incoming/later.mp4"])
    env.stash.update_scene(sid, title="Keeps the drainer busy")
    wait_until(lambda: env.rows("SELECT 1 FROM retry_schedule WHERE scene_id = ?", [sid]), 30,
               "a retry that keeps the drainer alive")
    assert env.lock_busy()

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(_db(env) + suffix):
            os.remove(_db(env) + suffix)
    env.stash.update_scene(scene_ids[0], title="Saved after the file was deleted")

    wait_until(lambda: env.plex_title(scene_ids[0]) == "Saved after the file was deleted", 30,
               "the new edit to sync without a button")


@pytest.fixture
def small_disk(plugin_env):
    """The plugin's data folder on a 2 MB tmpfs; yields (env, fill, free, read_only, writable)."""
    env = plugin_env
    os.makedirs(env.data_dir, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,nr_inodes=256", "tmpfs", env.data_dir],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    filler = os.path.join(env.data_dir, "filler.bin")
    empties = os.path.join(env.data_dir, "empties")

    def fill(inodes_too: bool = True):
        """Every block taken; with inodes_too, every inode as well (not even an empty file fits)."""
        with open(filler, "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        os.makedirs(empties, exist_ok=True)
        for n in range(100000 if inodes_too else 0):
            try:
                open(os.path.join(empties, str(n)), "wb").close()
            except OSError:
                break

    def free():
        os.remove(filler)
        shutil.rmtree(empties)

    def remount(mode):
        subprocess.run(["mount", "-o", f"remount,{mode}", env.data_dir], check=True)

    try:
        yield env, fill, free, lambda: remount("ro"), lambda: remount("rw")
    finally:
        remount("rw")
        env.stop_drainers()
        subprocess.run(["umount", "-l", env.data_dir], capture_output=True)


def _save_in_trouble(env, scenes: int, trouble, title: str):
    """Sync `scenes` scenes, stop the drainers, cause the trouble, then save the first one."""
    scene_ids = env.seed(scenes)
    _synced_once(env, scene_ids)
    env.stop_drainers()
    # The drainer killed above leaves -wal and -shm behind; a later connection's close
    # would delete them and free their pages. Close cleanly first, as a drainer that
    # exits on its own does, so that "full" stays full.
    tidy = sqlite3.connect(_db(env))
    tidy.execute("SELECT count(*) FROM meta").fetchone()
    tidy.close()
    assert not os.path.exists(_db(env) + "-shm")
    trouble()
    env.stash.update_scene(scene_ids[0], title=title)
    return scene_ids, env.stash.hook_runs[-1].result


def test_a_disk_without_free_blocks_still_takes_the_hook_and_the_edit_lands_later(small_disk):
    """A drop is an empty file: it needs an inode, not a block, so a full disk does not stop the hook."""
    env, fill, free, _ro, _rw = small_disk
    scene_ids, run = _save_in_trouble(env, 3, lambda: fill(inodes_too=False), "Saved while the disk was full")
    assert run.error is None and run.output["queued"] is True, run.raw_stdout

    free()
    env.stash.update_scene(scene_ids[2], title="Saved after space was freed")
    wait_until(lambda: env.titles_in_plex({scene_ids[0]: "Saved while the disk was full",
                                          scene_ids[2]: "Saved after space was freed"}), 40,
               "both edits to reach Plex once space is free")


def test_a_disk_without_free_inodes_loses_no_edit(small_disk):
    env, fill, free, _ro, _rw = small_disk
    scene_ids, run = _save_in_trouble(env, 3, fill, "Saved while the disk was full")
    assert run.duration < HOOK_SECONDS, run.duration
    assert run.error and "full" in run.error, run.raw_stdout
    assert "catches up" in run.error
    assert "Traceback" not in repr(run.logs)

    free()
    env.stash.update_scene(scene_ids[2], title="Saved after space was freed")
    wait_until(lambda: env.titles_in_plex({scene_ids[0]: "Saved while the disk was full",
                                          scene_ids[2]: "Saved after space was freed"}), 40,
               "both edits to reach Plex once space is free")


def _kill_a_writer_mid_wal(env) -> None:
    """Leave the -wal and -shm files a drainer killed by Stop or a crash leaves behind."""
    code = ("import os, sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('PRAGMA journal_mode=WAL'); "
            "c.execute(\"INSERT OR REPLACE INTO meta (key, value) VALUES ('probe', '1')\"); "
            "os.kill(os.getpid(), 9)")
    subprocess.run([sys.executable, "-c", code, _db(env)], capture_output=True)
    assert os.path.exists(_db(env) + "-wal") and os.path.exists(_db(env) + "-shm")


def test_a_read_only_folder_left_by_a_killed_drainer_is_reported(small_disk):
    env, _fill, _free, read_only, _writable = small_disk
    scene_ids = env.seed(1)
    _synced_once(env, scene_ids)
    env.stop_drainers()
    _kill_a_writer_mid_wal(env)
    read_only()

    status = env.task("Queue Status")

    assert status.error is None, status.error
    assert status.output["synced_scenes"] == 1
    assert "cannot be written" in status.output["summary"], status.output["summary"]


def test_a_read_only_data_folder_says_what_to_run(small_disk):
    env, _fill, _free, read_only, writable = small_disk
    scene_ids, run = _save_in_trouble(env, 2, read_only, "Saved while read-only")
    assert run.error and "cannot be written" in run.error and "Sync Recent" in run.error, run.raw_stdout

    status = env.task("Queue Status")
    assert status.error is None, status.error
    assert status.output["synced_scenes"] == 2
    assert "cannot be written" in status.output["summary"]

    writable()
    output = env.ok_task("Sync Recent Scenes")
    assert output["counts"]["pending"] == 0
    assert env.plex_title(scene_ids[0]) == "Saved while read-only"
