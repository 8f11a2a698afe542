"""What every task handler receives: the app, its args, and ways to talk back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from worker.composition_root import App


@dataclass
class TaskContext:
    app: App
    args: Dict[str, Any]
    progress: Callable[[float], None]  # Stash's progress bar, 0..1
    start_drainer: Callable[[], bool]  # wake a detached drainer for work left behind

    def int_arg(self, name: str, default: int, low: int, high: int) -> int:
        """Task args arrive as strings from a button and as JSON from runPluginTask."""
        value = self.args.get(name, default)
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"task argument {name} must be a whole number, got {str(value)[:40]!r}") from None
        if not low <= number <= high:
            raise ValueError(f"task argument {name} must be between {low} and {high}, got {number}")
        return number


def iso_time(ts: Optional[float]) -> Optional[str]:
    """A stored epoch time as UTC RFC 3339, for task output."""
    if not ts:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(ts)))
