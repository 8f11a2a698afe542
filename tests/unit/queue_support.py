"""Small helpers for the queue and worker tests: a clock that is passed in, never patched."""

from __future__ import annotations

from validation.settings import Settings
from errors.kinds import ErrorKind


class FakeClock:
    """Time that moves only when a test (or the worker's injected wait) moves it."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> bool:
        """Stands in for Event.wait: time passes, no stop requested."""
        self.now += seconds
        return False


def settings(**overrides) -> Settings:
    """The real settings model with its real defaults, plus test overrides."""
    return Settings(**overrides)


# Short names for the error kinds, so policy and classification tables stay readable.
T, N, C, P, U = (
    ErrorKind.TRANSIENT,
    ErrorKind.NOT_FOUND,
    ErrorKind.CONFIG,
    ErrorKind.PERMANENT,
    ErrorKind.UNEXPECTED,
)
