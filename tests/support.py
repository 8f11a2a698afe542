"""Helpers shared by the end-to-end and reliability suites: bounded waits, free ports."""

from __future__ import annotations

import socket
import time
from typing import Any, Callable


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def holds_for(predicate: Callable[[], Any], seconds: float, what: str, interval: float = 0.05) -> None:
    """A negative check: `predicate` stays truthy for `seconds` (fail at the first lapse).

    For a promise that something does NOT happen (a drainer does not give up); the
    caller's `seconds` says how long is long enough to mean it.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), f"expected {what} for {seconds:.1f} s; it lapsed"
        time.sleep(interval)


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released): "Plex is unreachable"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
