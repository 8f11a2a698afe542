"""Lanes: the per-item work of a batch, a few items at a time.

An item's requests are sequential and mostly wait on Plex, so several items are worked
on at once: the request count is the same, only the waiting overlaps. Work on one Plex
item goes in one lane, in batch order, so two edits of one item never overlap.

There are twice as many lanes at work as Plex requests allowed in flight
(plex_concurrency, kept by the Plex session: plex/in_flight.py). Each item also has
work of its own between its Plex requests (its image fetched from Stash, its plan,
Plex's answers parsed), and with the spare lanes that work goes on while the allowed
requests wait on Plex, instead of leaving a request slot idle.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterator, List, Tuple, TypeVar

from worker.batch.scene import BatchScene, Match

# Scenes of one batch whose requests are in flight at once. Each scene's requests wait
# on Plex in turn; a few in parallel hide that wait without hammering the server. The
# default of the setting plex_concurrency (1-4), which the drainer and tasks pass in.
EDIT_THREADS = 4
LANES_PER_REQUEST = 2  # lanes at work per Plex request allowed in flight
# While lanes run, a lane whose answer has arrived waits for the interpreter until the
# lane running Python hands it over, every 5 ms by default, and keeps its request place
# meanwhile. Every 2 ms while lanes run: a first sync at 5 ms Plex latency ran 4-5%
# faster, at the same CPU (docs/performance.md).
SWITCH_INTERVAL = 0.002

T = TypeVar("T")
Lane = List[Tuple[BatchScene, Match]]


def lanes_by_item(scenes: List[BatchScene]) -> List[Lane]:
    """One lane per Plex item, holding every (scene, target) that writes to it, in order."""
    lanes: Dict[str, Lane] = {}
    for scene in scenes:
        for target in scene.targets:
            lanes.setdefault(target[1], []).append((scene, target))
    return list(lanes.values())


def run_lanes(send: Callable[[BatchScene, Match], T], lanes: List[Lane],
              threads: int) -> Iterator[Tuple[BatchScene, Match, T]]:
    """`send` over every lane's items, yielding (scene, target, outcome) lane by lane.

    Lanes run on a small pool, or inline for a single thread or lane; inline, a lane
    is sent only once the caller has taken the one before (and recorded it).
    """
    def run_lane(lane: Lane) -> List[Tuple[BatchScene, Match, T]]:
        return [(scene, target, send(scene, target)) for scene, target in lane]

    for done in _map_lanes(run_lane, lanes, threads):
        yield from done


def _map_lanes(fn: Callable, lanes: list, threads: int) -> Iterator:
    """fn over each lane, in order: on a small pool, or inline for a single lane."""
    if threads <= 1 or len(lanes) <= 1:
        yield from map(fn, lanes)  # lazily, so each item is recorded before the next is sent
        return
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, SWITCH_INTERVAL))
    try:
        with ThreadPoolExecutor(max_workers=min(threads, len(lanes)),
                                thread_name_prefix="stash2plex-edit") as pool:
            yield from pool.map(fn, lanes)
    finally:
        sys.setswitchinterval(before)
