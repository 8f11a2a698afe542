"""Lanes (worker/batch/lanes.py): one lane per Plex item, in batch order, and the
interpreter handed over more often while they run, restored afterwards."""

from __future__ import annotations

import sys
import threading

import pytest

from worker.batch import lanes


class _Scene:
    def __init__(self, sid, targets):
        self.scene_id, self.targets = sid, targets


def test_one_lane_per_item_in_batch_order():
    a, b, c = _Scene(1, [("1", "10")]), _Scene(2, [("1", "11")]), _Scene(3, [("1", "10"), ("2", "12")])
    grouped = lanes.lanes_by_item([a, b, c])
    assert [[(s.scene_id, t[1]) for s, t in lane] for lane in grouped] == [[(1, "10"), (3, "10")], [(2, "11")],
                                                                           [(3, "12")]]


def test_lanes_run_with_a_short_switch_interval_and_leave_it_as_it_was():
    seen = []
    lock = threading.Lock()

    def send(scene, target):
        with lock:
            seen.append(sys.getswitchinterval())
        return target[1]

    scenes = [_Scene(i, [("1", str(i))]) for i in range(6)]
    before = sys.getswitchinterval()
    done = list(lanes.run_lanes(send, lanes.lanes_by_item(scenes), threads=3))
    assert [outcome for _, _, outcome in done] == [str(i) for i in range(6)]
    assert seen and max(seen) <= lanes.SWITCH_INTERVAL < before
    assert sys.getswitchinterval() == before


def test_the_switch_interval_is_restored_when_a_lane_fails():
    def send(scene, target):
        raise RuntimeError("Plex went away")

    before = sys.getswitchinterval()
    with pytest.raises(RuntimeError):
        list(lanes.run_lanes(send, lanes.lanes_by_item([_Scene(1, [("1", "1")]), _Scene(2, [("1", "2")])]),
                             threads=2))
    assert sys.getswitchinterval() == before
