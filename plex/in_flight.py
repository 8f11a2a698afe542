"""At most plex_concurrency requests to Plex in flight at once, however many threads work.

The setting bounds what a household server sees, not how many of our threads are busy:
fetching a scene's image from Stash, planning its edit and parsing Plex's answers is
work in this process that other threads do while requests wait on Plex. So the bound is
kept where every Plex request passes, the session: a place is taken when a request is
sent and given back once its answer has been read. A redirect followed inside a request
is the same exchange and takes no second place (at a limit of 1 it would wait forever).

A request may wait for its place while the work it belongs to is called off (Plex
answered another request with a 503): `check_when_placed` lets the caller cancel it
then, before anything reaches Plex, so the bound on requests during an outage is the
limit, not the number of threads.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

_checks = threading.local()  # this thread's check_when_placed


@contextmanager
def check_when_placed(check: Callable[[], None]) -> Iterator[None]:
    """While inside, each request of this thread calls `check` once it has its place; it raises to cancel."""
    before: Optional[Callable[[], None]] = getattr(_checks, "check", None)
    _checks.check = check
    try:
        yield
    finally:
        _checks.check = before


class InFlightGate:
    """A counting gate with a limit that can change between requests."""

    def __init__(self, limit: int = 4) -> None:
        self._places = threading.BoundedSemaphore(max(1, int(limit)))
        self._mine = threading.local()  # this thread's depth: a redirect inside a request

    def set_limit(self, limit: int) -> None:
        """Requests from now on share `limit` places; one in flight gives back the place it took."""
        self._places = threading.BoundedSemaphore(max(1, int(limit)))

    @contextmanager
    def held(self) -> Iterator[None]:
        depth = getattr(self._mine, "depth", 0)
        if depth:
            self._mine.depth = depth + 1
            try:
                yield
            finally:
                self._mine.depth = depth
            return
        places = self._places
        with places:
            self._mine.depth = 1
            try:
                check = getattr(_checks, "check", None)
                if check is not None:
                    check()
                yield
            finally:
                self._mine.depth = 0
