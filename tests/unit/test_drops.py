"""The hook's drops: one empty file per edit, merged into the inbox once and then deleted."""

import os

import pytest

from sync_queue import drops, inbox
from sync_queue.store import QueueStore
from worker.database import open_db

NOW_NS = 1_700_000_000_123_456_789


@pytest.fixture
def queue_file(tmp_path):
    """(data folder, an open connection to its queue file)."""
    conn = open_db(str(tmp_path))
    yield str(tmp_path), conn
    conn.close()


def _inbox(conn):
    return conn.execute("SELECT scene_id, enqueued_at, reason FROM inbox ORDER BY scene_id").fetchall()


def test_a_drop_is_an_empty_file_whose_name_is_the_job(tmp_path):
    data_dir = str(tmp_path / "data")  # not there yet: the first hook ever creates the folder
    drops.drop(data_dir, 42, "Scene.Update.Post", NOW_NS)
    [(path, job)] = drops.pending(data_dir)
    assert os.path.getsize(path) == 0
    assert job == (42, NOW_NS / 1e9, "Scene.Update.Post")
    assert drops.waiting(data_dir)


def test_two_hooks_for_one_scene_in_the_same_nanosecond_keep_both_drops(tmp_path):
    drops.drop(str(tmp_path), 7, "Scene.Update.Post", NOW_NS)
    drops.drop(str(tmp_path), 7, "Scene.Update.Post", NOW_NS)
    assert sorted(job[1] for _p, job in drops.pending(str(tmp_path))) == [NOW_NS / 1e9, (NOW_NS + 1) / 1e9]


@pytest.mark.parametrize("reason, kept", [("Scene.Create.Post", "Scene.Create.Post"), ("", "hook"),
                                          ("../../etc/x", "hook"), ("a_b", "hook"), ("x" * 65, "hook")])
def test_only_plain_dotted_hook_types_reach_a_file_name(tmp_path, reason, kept):
    drops.drop(str(tmp_path), 1, reason, NOW_NS)
    assert [job[2] for _p, job in drops.pending(str(tmp_path))] == [kept]
    assert os.listdir(drops.drops_dir(str(tmp_path)))[0].endswith(".job")


@pytest.mark.parametrize("name", ["notes.txt", "1_2_3.job", "x_1_2_Scene.Update.Post.job", ".job", "1_2_3_a.job.tmp"])
def test_files_that_are_not_drops_are_neither_work_nor_merged(tmp_path, name):
    os.makedirs(drops.drops_dir(str(tmp_path)))
    open(os.path.join(drops.drops_dir(str(tmp_path)), name), "w").close()
    assert not drops.waiting(str(tmp_path)) and drops.pending(str(tmp_path)) == []


def test_merge_moves_every_drop_into_the_inbox_once_then_deletes_it(queue_file):
    data_dir, conn = queue_file
    drops.drop(data_dir, 5, "Scene.Update.Post", NOW_NS)
    drops.drop(data_dir, 5, "Scene.Update.Post", NOW_NS + 10**9)  # a second save of the same scene
    drops.drop(data_dir, 6, "Scene.Destroy.Post", NOW_NS)
    assert QueueStore(conn).merge_hook_writes() == 3
    assert _inbox(conn) == [(5, NOW_NS / 1e9 + 1, "Scene.Update.Post"), (6, NOW_NS / 1e9, "Scene.Destroy.Post")]
    assert not drops.waiting(data_dir) and os.listdir(drops.drops_dir(data_dir)) == []
    assert QueueStore(conn).merge_hook_writes() == 0


def test_a_crash_between_commit_and_delete_merges_again_harmlessly(queue_file):
    """The rows are committed before the files go: merging the same drop twice keeps one row, its newest time."""
    data_dir, conn = queue_file
    drops.drop(data_dir, 9, "Scene.Update.Post", NOW_NS)
    kept = [path for path, _job in drops.pending(data_dir)]
    conn.executemany(inbox.UPSERT_INBOX_SQL, [job for _p, job in drops.pending(data_dir)])  # the commit, no delete
    assert QueueStore(conn).merge_hook_writes() == 1
    assert _inbox(conn) == [(9, NOW_NS / 1e9, "Scene.Update.Post")]
    assert not any(os.path.exists(p) for p in kept)


def test_a_drop_wakes_a_running_drainers_watch(queue_file):
    data_dir, conn = queue_file
    watch = inbox.InboxWatch(conn, data_dir)
    assert not watch.arrived()
    drops.drop(data_dir, 3, "Scene.Update.Post")
    assert watch.arrived()


def test_a_folder_that_refuses_raises_os_error(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(OSError):
        drops.drop(str(blocker), 1, "Scene.Update.Post", NOW_NS)
