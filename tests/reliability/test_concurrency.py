"""Thirty hooks at once while Process Queue drains: one drainer at a time, all synced (promise 4).

Process Queue drains a backlog in the foreground; thirty hook processes start at the
same instant, each queues its scene and, seeing no heartbeat (a foreground task does
not beat), starts a detached drainer. Those drainers must wait for the drain lock or
leave, never drain beside Process Queue or beside each other. The evidence:

- every scene is edited in Plex exactly once (two consumers would both find the
  scene unsynced and both edit it);
- the consumers' own tallies add up to one sync per scene;
- the drainers' lock-holding intervals (from their log) never overlap, and on Linux
  the kernel's lock table shows a single holder, Process Queue first.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from typing import Dict, List, Set, Tuple

import pytest

from sync_queue import inbox
from tests.reliability.conftest import HAS_PROC, wait_until

HOOKS = 30
BACKLOG = 30
_LOG_LINE = re.compile(r"^(\S+ \S+) (\d+) \w+ (drainer started|drainer exiting|drain finished: (.*))")


class LockSampler(threading.Thread):
    """Reads /proc/locks every few milliseconds: which pids hold the drain lock file."""

    def __init__(self, lock_path: str):
        super().__init__(daemon=True)
        self.inode = None
        self.lock_path = lock_path
        self.holders: List[Set[int]] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            if self.inode is None and os.path.exists(self.lock_path):
                st = os.stat(self.lock_path)  # /proc/locks names a file as major:minor:inode, in hex:hex:dec
                self.inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
            if self.inode is not None:
                with open("/proc/locks") as fh:
                    held = {int(parts[4]) for parts in (line.split() for line in fh)
                            if len(parts) > 5 and parts[1] != "->" and parts[5] == self.inode}
                if held:
                    self.holders.append(held)
            self.stop_event.wait(0.003)


def _drainer_intervals(tb) -> Tuple[List[Tuple[float, float, int]], int]:
    """(start, end, pid) per drainer that held the lock, and the syncs their workers reported."""
    path = os.path.join(tb.data_dir, "logs", "drainer.log")
    starts: Dict[int, float] = {}
    intervals, synced = [], 0
    if not os.path.exists(path):
        return [], 0  # every hook found the lock held by a task and started no drainer
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            match = _LOG_LINE.match(line.strip())
            if not match:
                assert not re.search(r"drainer started|drainer exiting|drain finished", line), line
                continue
            stamp = time.mktime(time.strptime(match.group(1).split(",")[0], "%Y-%m-%d %H:%M:%S"))
            stamp += int(match.group(1).split(",")[1]) / 1000.0
            pid = int(match.group(2))
            if match.group(3) == "drainer started":
                starts[pid] = stamp
            elif match.group(3) == "drainer exiting":
                intervals.append((starts.pop(pid), stamp, pid))
            else:
                synced += int(re.search(r"'synced': (\d+)", match.group(4)).group(1))
    assert not starts, f"drainers that never said they left: {starts}"
    return sorted(intervals), synced


@pytest.mark.slow
def test_thirty_concurrent_hooks_while_process_queue_drains(make_testbed):
    tb = make_testbed(scenes=HOOKS + BACKLOG)
    tb.plex.faults.latency(0.01)
    backlog, hooked = tb.scene_ids[:BACKLOG], tb.scene_ids[BACKLOG:]
    for sid in backlog:
        tb.stash.update_scene(sid, hooks=False, title=f"Backlog {sid}")
    inbox.enqueue(tb.data_dir, backlog, reason="sync_all")
    for sid in hooked:
        tb.stash.update_scene(sid, hooks=False, title=f"Hooked {sid}")

    sampler = LockSampler(os.path.join(tb.data_dir, "drainer.lock"))
    if HAS_PROC:
        sampler.start()
    queue_task = tb.start_task("Process Queue")
    wait_until(lambda: tb.plex.count("PUT") >= 3, 30, "Process Queue to start editing", interval=0.01)
    hooks = [tb.start_hook(sid, input={"title": f"Hooked {sid}"}) for sid in hooked]
    results = [tb.finish(h, 60) for h in hooks]
    queue_result = tb.finish(queue_task, 120)
    tb.wait_synced(timeout=60)
    counts = tb.wait_idle(30, until_exit=True)  # the drainers' logs must be complete
    sampler.stop_event.set()

    for result in results:
        assert result.error is None and result.returncode == 0, result.error
        assert result.output["queued"] is True, result.output
        assert not result.stray_stderr
    assert queue_result.error is None, queue_result.error

    # Every scene edited exactly once: no two consumers ever worked on the same job.
    # (Movie edits only: type 18 is a collection's art and summary, once per collection.)
    edits = Counter(e["query"].get("id") for e in tb.plex.requests
                    if e["method"] == "PUT" and e["path"].startswith("/library/sections/")
                    and e["query"].get("type") == "1")
    keys = {str(tb.plex.find_by_file(tb.plex_path(sid))) for sid in tb.scene_ids}
    assert set(edits) == keys and set(edits.values()) == {1}, edits.most_common(3)

    intervals, drainer_synced = _drainer_intervals(tb)
    for (_, end_a, pid_a), (start_b, _, pid_b) in zip(intervals, intervals[1:]):
        assert start_b >= end_a - 0.01, f"drainers {pid_a} and {pid_b} held the lock at once"
    assert queue_result.output["synced"] + drainer_synced == len(tb.scene_ids)
    assert counts["dead_letters"] == 0

    if HAS_PROC:
        assert sampler.holders, "never saw the drain lock held"
        assert all(len(held) == 1 for held in sampler.holders)
        assert sampler.holders[0] == {queue_task.pid}, "Process Queue drained without the lock"
        holders = {pid for held in sampler.holders for pid in held}
        assert holders <= {queue_task.pid} | {pid for _, _, pid in intervals}, holders
