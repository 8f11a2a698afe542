"""Rebuild Plex Index: list every configured Plex section again, from scratch."""

from __future__ import annotations

from typing import Any, Dict

from tasks.context import TaskContext
from tasks.foreground_drain import check_plex


def run(ctx: TaskContext) -> Dict[str, Any]:
    check_plex(ctx)
    app = ctx.app

    def on_progress(done: int, total: int) -> None:
        ctx.progress(done / total if total else 0.0)

    app.index.build(app.plex(), app.sections(), on_progress=on_progress)
    stats = app.index.stats()
    ctx.progress(1.0)
    return {"index": stats, "summary": f"indexed {stats.get('size', 0)} Plex files"}
