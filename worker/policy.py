"""The one retry policy: what happens to a job after a failure of a given kind.

A pure function of (attempts so far, kind, message, now, settings, rng), so every runner
routes failures the same way and the whole table is tested without a queue or a server.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Union

from errors.kinds import ErrorKind
from worker.backoff import full_jitter, half_jitter


@dataclass(frozen=True)
class Retry:
    """Wait in the retry schedule until `not_before`; `attempts` failures counted so far."""

    not_before: float
    attempts: int


@dataclass(frozen=True)
class DeadLetter:
    """Give up on the job and tell the user why."""

    kind: ErrorKind
    reason: str
    attempts: int


@dataclass(frozen=True)
class Pause:
    """Stop draining and keep every job: a setting must be fixed first. No attempt counted."""

    message: str


Decision = Union[Retry, DeadLetter, Pause]


def decide(
    attempts_so_far: int, kind: ErrorKind, message: str, now: float, settings: Any, rng: random.Random
) -> Decision:
    """Route one failure. `attempts_so_far` counts earlier failed attempts of this job."""
    attempts = attempts_so_far + 1
    if kind is ErrorKind.CONFIG:
        return Pause(message)
    if kind is ErrorKind.PERMANENT:
        return DeadLetter(kind, message, attempts)
    if kind is ErrorKind.NOT_FOUND:
        if attempts >= settings.not_found_max_attempts:
            return DeadLetter(kind, f"not found in Plex after {attempts} attempts: {message}", attempts)
        delay = half_jitter(attempts - 1, settings.not_found_base_seconds, settings.not_found_cap_seconds, rng)
        return Retry(now + delay, attempts)
    # TRANSIENT, STASH and UNEXPECTED: the same budget; only TRANSIENT feeds the breaker.
    if attempts > settings.max_retries:
        return DeadLetter(kind, f"retries exhausted after {attempts} attempts: {message}", attempts)
    delay = full_jitter(attempts - 1, settings.retry_base_seconds, settings.retry_cap_seconds, rng)
    return Retry(now + delay, attempts)


def probe_retry_at(attempts_so_far: int, now: float, settings: Any, rng: random.Random) -> float:
    """When the job of a failed circuit-breaker probe may run again; no attempt is counted.

    The circuit was open, so the failure says as much about Plex as about the job; but the
    job must leave the head of the queue, or a job that fails on its own (a screenshot
    Stash cannot serve, an item Plex answers 500 for) would be every probe for ever.
    """
    return now + full_jitter(attempts_so_far, settings.retry_base_seconds, settings.retry_cap_seconds, rng)
