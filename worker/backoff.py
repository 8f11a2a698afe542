"""Exponential backoff with jitter, so retries after an outage do not arrive in step.

Indexing: `attempt` counts retries already scheduled, from 0. With base 5 s and cap
80 s the windows are attempt 0 → 5 s, 1 → 10 s, 2 → 20 s, 3 → 40 s, 4 and later → 80 s.
The random source is passed in so tests can seed it.
"""

from __future__ import annotations

import random


def window(attempt: int, base: float, cap: float) -> float:
    """The upper bound min(cap, base * 2**attempt); exponent capped so huge attempts cannot overflow."""
    return min(cap, base * 2.0 ** min(max(attempt, 0), 64))


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """A delay drawn uniformly from [0, window(attempt)] (AWS 'full jitter')."""
    return rng.uniform(0.0, window(attempt, base, cap))


def half_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """A delay drawn from [window/2, window]: jittered, but never close to zero.

    Used where waiting is the point (a file Plex has not scanned yet will not appear
    within a second), so a lucky draw cannot turn a long backoff into an instant retry.
    """
    upper = window(attempt, base, cap)
    return rng.uniform(upper / 2.0, upper)
