import os
import sqlite3

import pytest

from sync_queue import inbox
from worker import database as db

NOW = 1_700_000_000.0

EXPECTED_COLUMNS = {
    "inbox": ["scene_id", "enqueued_at", "reason"],
    "retry_schedule": ["scene_id", "attempts", "not_before", "error_kind", "last_error", "first_failed_at"],
    "dead_letters": ["id", "scene_id", "error_kind", "message", "attempts", "failed_at", "resolved_at"],
    "sync_state": [
        "scene_id", "fingerprint", "plex_key", "section_id", "written", "poster_hash", "art_hash",
        "image_source", "read_at", "synced_at",
    ],
    "breaker": ["id", "state", "failures", "opened_at", "probe_at", "recovery_wait", "last_error"],
    "outages": ["id", "started_at", "ended_at", "jobs_held", "reason"],
    "plex_index": ["path_key", "section_id", "rating_key", "file_path", "updated_at"],
    "plex_index_sections": ["section_id", "title", "built_at", "max_updated_at", "item_count"],
    "drainer": ["id", "pid", "beat_at", "started_at"],
    "meta": ["key", "value"],
}


def columns(conn, table):
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_open_db_creates_every_table_in_wal_mode(tmp_path):
    conn = db.open_db(str(tmp_path))
    for table, expected in EXPECTED_COLUMNS.items():
        assert columns(conn, table) == expected, table
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    assert db.schema_version(conn) == db.SCHEMA_VERSION
    assert db.last_corruption(conn) is None


def test_open_db_adopts_a_file_the_hook_created(tmp_path):
    inbox.enqueue(str(tmp_path), [1, 2], "hook", now=NOW)
    conn = db.open_db(str(tmp_path))
    assert conn.execute("SELECT count(*) FROM inbox").fetchone()[0] == 2
    assert db.schema_version(conn) == db.SCHEMA_VERSION
    assert db.migrate(conn) == db.SCHEMA_VERSION  # idempotent


def test_meta_round_trips_json(tmp_path):
    conn = db.open_db(str(tmp_path))
    db.set_meta(conn, "last_config_error", {"message": "bad token", "at": NOW})
    assert db.get_meta(conn, "last_config_error") == {"message": "bad token", "at": NOW}
    db.delete_meta(conn, "last_config_error")
    assert db.get_meta(conn, "last_config_error") is None


def test_transaction_rolls_back_on_error(tmp_path):
    conn = db.open_db(str(tmp_path))
    with pytest.raises(RuntimeError):
        with db.transaction(conn):
            conn.execute("INSERT INTO inbox VALUES (1, 1.0, 'x')")
            raise RuntimeError("boom")
    assert conn.execute("SELECT count(*) FROM inbox").fetchone()[0] == 0


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_file_is_moved_aside_reported_and_rebuilt(tmp_path, damage):
    data_dir = str(tmp_path)
    path = inbox.db_path(data_dir)
    if damage == "garbage":
        with open(path, "wb") as fh:
            fh.write(os.urandom(8192))
    else:
        conn = db.open_db(data_dir)
        inbox.enqueue(data_dir, range(5000), "sync all", now=NOW)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        with open(path, "r+b") as fh:  # keep the header, smash the pages after it
            fh.seek(4096)
            fh.write(b"\xff" * 40_000)
    conn = db.open_db(data_dir, now=NOW)
    info = db.last_corruption(conn)
    assert info is not None and info.at == NOW
    assert os.path.exists(os.path.join(data_dir, info.moved_to))
    assert info.moved_to.startswith("stash2plex.sqlite3.corrupt-")
    assert conn.execute("SELECT count(*) FROM inbox").fetchone()[0] == 0
    assert db.schema_version(conn) == db.SCHEMA_VERSION
    conn.execute("PRAGMA quick_check")


def test_a_locked_database_is_not_mistaken_for_corruption(tmp_path):
    assert not inbox.is_corruption(sqlite3.OperationalError("database is locked"))
    assert inbox.is_corruption(sqlite3.DatabaseError("file is not a database"))
    assert inbox.is_corruption(sqlite3.DatabaseError("database disk image is malformed"))
