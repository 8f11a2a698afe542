"""An older version's spool: merged after an upgrade, and no longer waiting work once merged."""

import json
import os

from sync_queue import spool
from worker.database import open_db
from sync_queue.store import QueueStore

NOW = 1_700_000_000.0


def _spooled_by_an_older_hook(data_dir, scene_ids):
    """The lines an older hook appended when the queue file was busy: one JSON object each."""
    with open(spool.spool_path(data_dir), "a", encoding="utf-8") as fh:
        for sid in scene_ids:
            fh.write(json.dumps({"scene_id": sid, "at": NOW, "reason": "Scene.Update.Post"}) + "\n")


def test_a_merged_spool_is_no_longer_waiting_work(tmp_path):
    data_dir = str(tmp_path)
    conn = open_db(data_dir)
    store = QueueStore(conn)
    assert not spool.has_spooled(conn, data_dir)

    _spooled_by_an_older_hook(data_dir, [7, 8])
    assert spool.has_spooled(conn, data_dir)

    # Merged, but the file stays until nobody has written it for a while: a drainer that
    # took its size for waiting work would take the drain lock again and again.
    assert store.merge_hook_writes(NOW) == 2
    assert os.path.exists(spool.spool_path(data_dir))
    assert not spool.has_spooled(conn, data_dir)

    _spooled_by_an_older_hook(data_dir, [9])  # written again before it was removed
    assert spool.has_spooled(conn, data_dir)
    assert store.merge_hook_writes(NOW) == 1
    assert not spool.has_spooled(conn, data_dir)
    conn.close()
