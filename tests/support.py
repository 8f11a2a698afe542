"""Helpers shared by the end-to-end and reliability suites: bounded waits, free ports."""

from __future__ import annotations

import os
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


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released): "Plex is unreachable"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_drainer_log(data_dir: str) -> str:
    """The detached drainer's log (plugin/logsetup.py DRAINER_LOG), or '' before it wrote one."""
    path = os.path.join(data_dir, "logs", "drainer.log")
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()
