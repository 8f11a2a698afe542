import random

import pytest

from tests.unit.queue_support import C, N, P, T, U, settings
from worker.policy import DeadLetter, Pause, Retry, decide

NOW = 1_000.0
S = settings()  # max_retries 5, retry 5..80 s, not found 30..600 s over 12 attempts


# (attempts so far, kind) -> (decision type, attempts after, lowest delay, highest delay)
TABLE = [
    (0, T, Retry, 1, 0.0, 5.0),
    (1, T, Retry, 2, 0.0, 10.0),
    (2, T, Retry, 3, 0.0, 20.0),
    (3, T, Retry, 4, 0.0, 40.0),
    (4, T, Retry, 5, 0.0, 80.0),
    (5, T, DeadLetter, 6, None, None),
    (0, U, Retry, 1, 0.0, 5.0),
    (4, U, Retry, 5, 0.0, 80.0),
    (5, U, DeadLetter, 6, None, None),
    (0, N, Retry, 1, 15.0, 30.0),
    (1, N, Retry, 2, 30.0, 60.0),
    (4, N, Retry, 5, 240.0, 480.0),
    (5, N, Retry, 6, 300.0, 600.0),
    (10, N, Retry, 11, 300.0, 600.0),
    (11, N, DeadLetter, 12, None, None),
    (0, P, DeadLetter, 1, None, None),
    (3, P, DeadLetter, 4, None, None),
    (0, C, Pause, None, None, None),
    (4, C, Pause, None, None, None),
]


@pytest.mark.parametrize("so_far, kind, expected, attempts, low, high", TABLE)
def test_decide(so_far, kind, expected, attempts, low, high):
    for seed in range(20):
        decision = decide(so_far, kind, "boom", NOW, S, random.Random(seed))
        assert type(decision) is expected
        if expected is Retry:
            assert decision.attempts == attempts
            assert NOW + low <= decision.not_before <= NOW + high
        elif expected is DeadLetter:
            assert decision.attempts == attempts
            assert decision.kind is kind
            assert "boom" in decision.reason
        else:
            assert decision == Pause("boom")


def test_exhausted_reasons_say_why():
    assert decide(5, T, "refused", NOW, S, random.Random(1)).reason.startswith("retries exhausted")
    assert decide(11, N, "no item", NOW, S, random.Random(1)).reason.startswith("not found in Plex after 12")
    assert decide(0, P, "scene deleted", NOW, S, random.Random(1)).reason == "scene deleted"


def test_settings_change_the_budget():
    tight = settings(max_retries=1, retry_base_seconds=2.0, retry_cap_seconds=3.0, not_found_max_attempts=1)
    assert isinstance(decide(0, T, "x", NOW, tight, random.Random(1)), Retry)
    assert isinstance(decide(1, T, "x", NOW, tight, random.Random(1)), DeadLetter)
    assert isinstance(decide(0, N, "x", NOW, tight, random.Random(1)), DeadLetter)
    assert decide(0, T, "x", NOW, tight, random.Random(1)).not_before <= NOW + 2.0


def test_a_seeded_rng_makes_decisions_repeatable():
    a = decide(2, T, "x", NOW, S, random.Random(42))
    b = decide(2, T, "x", NOW, S, random.Random(42))
    assert a == b
