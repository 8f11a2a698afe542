"""Import Plex Activity: plays, resume points and ratings made in Plex come back to Stash."""

from __future__ import annotations

from typing import Any, Dict

from tasks.context import TaskContext
from tasks.foreground_drain import check_plex
from worker.activity_import import ImportBusy, import_activity

WAIT_FOR_OTHER_IMPORT_SECONDS = 120.0  # the drainer's periodic import may be running


def run(ctx: TaskContext) -> Dict[str, Any]:
    check_plex(ctx)
    ctx.progress(0.0)
    try:
        result = import_activity(ctx.app, wait=WAIT_FOR_OTHER_IMPORT_SECONDS)
    except ImportBusy as exc:
        raise ValueError(str(exc)) from None
    ctx.progress(1.0)
    return result
