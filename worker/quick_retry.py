"""The one in-call retry: a dropped connection is tried again within about a second.

A Plex or Stash restart, or a NAT dropping an idle keep-alive connection, shows up as
"connection refused" or "connection reset" and usually clears within a moment; the
queue's backoff (seconds to minutes) is too slow for that. Everything else is left to
the queue's retry policy: timeouts (waiting again would only stack up timeouts), HTTP
errors (4xx will not change; 5xx and 429 get the queue's backoff and the breaker) and
our own error kinds.

So the two layers never multiply into a storm, a QuickRetry stops retrying for the
rest of its batch once a call has failed after its retries: the server is down, and
the queue will come back later.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, TypeVar

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_random_exponential

T = TypeVar("T")

ATTEMPTS = 3
BUDGET_SECONDS = 1.0


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _refused(exc: BaseException) -> bool:
    """The TCP connection was never made, so nothing reached the server.

    requests wraps urllib3's MaxRetryError, whose `reason` is a NewConnectionError
    when the connect itself failed.
    """
    for inner in _causes(exc):
        if isinstance(inner, ConnectionRefusedError):
            return True
        candidates = [inner] + [getattr(a, "reason", None) for a in getattr(inner, "args", ())]
        if any(type(c).__name__ == "NewConnectionError" for c in candidates):
            return True
    return False


def is_dropped_connection(exc: BaseException, idempotent: bool = True) -> bool:
    """Refused or reset connections; a non-idempotent call only when nothing was sent."""
    for inner in _causes(exc):
        if isinstance(inner, requests.exceptions.Timeout):
            return False  # includes ConnectTimeout: the host is unreachable, not restarting
        if isinstance(inner, (requests.exceptions.ConnectionError, ConnectionResetError,
                              ConnectionRefusedError)):
            return True if idempotent else _refused(exc)
    return False


class QuickRetry:
    """Runs calls with up to ATTEMPTS tries inside BUDGET_SECONDS; one per batch."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep, attempts: int = ATTEMPTS):
        self.sleep = sleep
        self.attempts = attempts
        self.gave_up: Optional[BaseException] = None

    def __call__(self, fn: Callable[..., T], *args, idempotent: bool = True, **kwargs) -> T:
        attempts = 1 if self.gave_up is not None else self.attempts
        retrying = Retrying(
            stop=stop_after_attempt(attempts) | stop_after_delay(BUDGET_SECONDS),
            wait=wait_random_exponential(multiplier=0.1, max=0.4),
            retry=retry_if_exception(lambda e: is_dropped_connection(e, idempotent)),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            result = retrying(fn, *args, **kwargs)
        except BaseException as exc:
            if is_dropped_connection(exc, True):
                self.gave_up = exc
            raise
        self.gave_up = None
        return result
