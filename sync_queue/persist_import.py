"""Import persist-queue without its asyncio queues, which the plugin never uses.

persist-queue 1.x imports `asyncio` from its package `__init__` (for AsyncQueue and
AsyncSQLiteQueue) inside a try/except ImportError. asyncio is the largest import of a
drainer's cold start (about 0.1 s of wall time and 8 MiB on this machine). A None entry
in sys.modules makes Python raise ImportError for that module (the import system's
documented rule), so persist-queue takes its own "not available" branch. Its info line
about that is not ours to show: its logger is kept at warnings.
"""

from __future__ import annotations

import logging
import sys

ASYNC_MODULES = ("persistqueue.async_queue", "persistqueue.async_sqlqueue")


def skip_async_queues() -> None:
    """Call before the first `import persistqueue`; a no-op once it is imported."""
    if "persistqueue" in sys.modules:
        return
    for name in ASYNC_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[assignment]
    logging.getLogger("persistqueue").setLevel(logging.WARNING)
