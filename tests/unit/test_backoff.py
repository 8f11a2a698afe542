import random

import pytest

from worker.backoff import full_jitter, half_jitter, window


@pytest.mark.parametrize(
    "attempt, expected",
    [(0, 5.0), (1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 80.0), (50, 80.0), (10_000, 80.0), (-1, 5.0)],
)
def test_window_doubles_from_base_to_cap(attempt, expected):
    assert window(attempt, base=5.0, cap=80.0) == expected


@pytest.mark.parametrize("attempt", range(8))
def test_full_jitter_stays_inside_its_window(attempt):
    rng = random.Random(attempt)
    upper = window(attempt, 5.0, 80.0)
    draws = [full_jitter(attempt, 5.0, 80.0, rng) for _ in range(500)]
    assert all(0.0 <= d <= upper for d in draws)
    # Full jitter spreads over the whole window, not just its top.
    assert min(draws) < upper * 0.1 and max(draws) > upper * 0.9


@pytest.mark.parametrize("attempt", range(8))
def test_half_jitter_never_falls_below_half_the_window(attempt):
    rng = random.Random(99)
    upper = window(attempt, 30.0, 600.0)
    assert all(upper / 2 <= half_jitter(attempt, 30.0, 600.0, rng) <= upper for _ in range(500))


def test_the_same_seed_gives_the_same_delays():
    first = [full_jitter(a, 5.0, 80.0, random.Random(7)) for a in range(5)]
    second = [full_jitter(a, 5.0, 80.0, random.Random(7)) for a in range(5)]
    assert first == second
