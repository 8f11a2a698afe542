"""The scenes the scene filter leaves out now: recorded, cleared, counted, found again."""

from __future__ import annotations

from sync_queue.filter_skips import FilterSkips
from worker.database import open_db


def test_skips_are_recorded_replaced_and_cleared(tmp_path):
    conn = open_db(str(tmp_path))
    skips = FilterSkips(conn)
    skips.update([(1, "not_organized"), (2, "excluded_tag"), (3, "excluded_tag")], [], "k1", 10.0)
    assert skips.count() == 3 and skips.by_reason() == {"excluded_tag": 2, "not_organized": 1}
    skips.update([(1, "no_required_tag")], [2, 99], "k2", 11.0)  # 99 was never recorded
    assert skips.by_reason() == {"excluded_tag": 1, "no_required_tag": 1}
    assert skips.judged_under_other("k2") == [3] and skips.judged_under_other("k3") == [1, 3]
    skips.forget([1, 3])
    assert skips.count() == 0
    conn.close()


def test_a_batch_that_skips_nothing_writes_nothing(tmp_path):
    conn = open_db(str(tmp_path))
    before = conn.total_changes
    FilterSkips(conn).update([], range(1, 2000), "k", 1.0)
    assert conn.total_changes == before
    conn.close()
