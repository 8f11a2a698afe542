"""The stop signal: Plex went down in the middle of a batch, so the rest is not sent.

Every further request would meet the same 503, 429 or timeout, and the breaker only
sees the batch's results; so once one answer says Plex cannot serve now, the scenes
not yet started get a TransientError without a request and are left to the queue.
The edit threads share one signal per batch.
"""

from __future__ import annotations

import threading
from typing import Optional

from errors.kinds import TransientError
from worker.classify import server_unavailable
from worker.quick_retry import QuickRetry


class BatchStop:
    """Why the rest of a batch is not sent, shared by the edit threads.

    QuickRetry's `gave_up` (the server dropped connections) or the first answer that
    says Plex cannot serve now (429, 502-504, a timeout; worker.classify
    server_unavailable): scenes not yet started are left to the queue. A failure of
    one scene alone (a 500, a screenshot Stash cannot serve) stops nothing.
    """

    def __init__(self, retry: QuickRetry):
        self._retry = retry
        self._trouble: Optional[BaseException] = None
        self._lock = threading.Lock()

    def cause(self) -> Optional[BaseException]:
        with self._lock:
            return self._retry.gave_up or self._trouble

    def note(self, exc: BaseException) -> None:
        if server_unavailable(exc):
            with self._lock:
                if self._trouble is None:
                    self._trouble = exc


def not_sent(cause: BaseException) -> TransientError:
    """The result of a scene left to the queue because Plex failed earlier in the batch."""
    err = TransientError(f"Plex failed earlier in this batch ({type(cause).__name__}); will retry")
    err.__cause__ = cause
    return err
