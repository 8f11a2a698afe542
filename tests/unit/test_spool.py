"""The hook's spool: what counts as waiting work once it has been merged."""

import os

from sync_queue import spool
from worker.database import open_db
from sync_queue.store import QueueStore

NOW = 1_700_000_000.0


def test_a_merged_spool_is_no_longer_waiting_work(tmp_path):
    data_dir = str(tmp_path)
    conn = open_db(data_dir)
    store = QueueStore(conn)
    assert not spool.has_spooled(conn, data_dir)

    spool.append(data_dir, [7, 8], "Scene.Update.Post", NOW)
    assert spool.has_spooled(conn, data_dir)

    # Merged, but the file stays until nobody has written it for a while: a drainer that
    # took its size for waiting work would take the drain lock again and again.
    assert store.merge_spool(NOW) == 2
    assert os.path.exists(spool.spool_path(data_dir))
    assert not spool.has_spooled(conn, data_dir)

    spool.append(data_dir, [9], "Scene.Update.Post", NOW)  # a later hook finds the file busy again
    assert spool.has_spooled(conn, data_dir)
    assert store.merge_spool(NOW) == 1
    assert not spool.has_spooled(conn, data_dir)
    conn.close()
