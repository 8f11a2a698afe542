"""Process Queue: sync everything queued now, in the foreground, with progress."""

from __future__ import annotations

from typing import Any, Dict

from tasks.context import TaskContext
from tasks.foreground_drain import drain_foreground


def run(ctx: TaskContext) -> Dict[str, Any]:
    return drain_foreground(ctx)
