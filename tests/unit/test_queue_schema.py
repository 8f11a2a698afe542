"""Each table is declared by its owner; files written with one global schema_version open safely."""

import json
import sqlite3

from plex import index_table
from sync_queue import dead_letters, inbox, retry_schedule, sync_state
from sync_queue.store import QueueStore
from tests.unit.test_architecture import TABLE_OWNER as OWNER
from worker import breaker, database


# Owners that did not exist when one global schema_version covered the whole file.
OWNERS_SINCE_SINGLE_LIST = ("filter_skips", "collection_art", "activity_log")


def first_of(schema, version):
    return dict(schema[1])[version]


def write_legacy_file(data_dir, version):
    """A file as the single-list migrations wrote it: version 1 ran every owner's first
    migration in one go, version 2 sync_state's second; one global `schema_version`."""
    conn = inbox.connect(data_dir)
    v1 = inbox.HOOK_DDL
    for schema in (retry_schedule.SCHEMA, dead_letters.SCHEMA, sync_state.SCHEMA, breaker.SCHEMA,
                   index_table.SCHEMA):
        v1 += first_of(schema, 1)
    for statement in v1 + (first_of(sync_state.SCHEMA, 2) if version >= 2 else ()):
        conn.execute(statement)
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (json.dumps(version),))
    conn.execute("INSERT INTO sync_state (scene_id, plex_key, section_id, written) VALUES (1, '100', '1', '{}')")
    return conn


def test_a_version_2_file_never_copies_sync_state_again(tmp_path):
    data_dir = str(tmp_path)
    conn = write_legacy_file(data_dir, 2)
    conn.execute("INSERT INTO sync_items (scene_id, rating_key, written) VALUES (1, '100', '{}')")
    conn.execute("DELETE FROM sync_items WHERE scene_id = 1")  # the scene left that item
    conn.close()
    conn = database.open_db(data_dir)
    assert conn.execute("SELECT count(*) FROM sync_items").fetchone()[0] == 0
    assert database.schema_version(conn) == database.SCHEMA_VERSION
    # Nothing of the old tables to migrate: only each owner born since gets its table
    # and its version row.
    assert conn.total_changes == len(OWNERS_SINCE_SINGLE_LIST)
    conn.close()


def test_a_version_1_file_gets_its_items_carried_over_once(tmp_path):
    data_dir = str(tmp_path)
    write_legacy_file(data_dir, 1).close()
    conn = database.open_db(data_dir)
    assert conn.execute("SELECT scene_id, rating_key FROM sync_items").fetchall() == [(1, "100")]
    assert database.get_meta(conn, "schema_version:sync_state") == 2
    conn.execute("DELETE FROM sync_items")
    conn.close()
    conn = database.open_db(data_dir)
    assert conn.execute("SELECT count(*) FROM sync_items").fetchone()[0] == 0
    assert database.schema_version(conn) == database.SCHEMA_VERSION
    conn.close()


def test_a_store_opens_its_own_tables_and_leaves_the_rest_to_their_owners(tmp_path):
    data_dir = str(tmp_path)
    store = QueueStore(data_dir)
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"inbox", "retry_schedule", "dead_letters"} <= tables and "breaker" not in tables
    store.close()
    conn = database.open_db(data_dir)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert set(OWNER) <= tables
    assert database.schema_version(conn) == database.SCHEMA_VERSION
    conn.close()


def test_a_hook_alone_created_file_is_completed_by_migrate(tmp_path):
    inbox.enqueue(str(tmp_path), [1], "hook")
    conn = sqlite3.connect(inbox.db_path(str(tmp_path)), isolation_level=None)
    assert database.migrate(conn) == database.SCHEMA_VERSION
    assert database.migrate(conn) == database.SCHEMA_VERSION
    conn.close()


def test_every_owner_is_opened_in_one_place(tmp_path):
    names = [name for name, _ in database.SCHEMAS]
    assert names == ["inbox", "retry_schedule", "dead_letters", "sync_state", "breaker", "plex_index",
                     "filter_skips", "collection_art", "activity_log"]
    conn = database.open_db(str(tmp_path))
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables - {"sqlite_sequence"} == set(OWNER)
    conn.close()
