"""Review, retry and purge the dead letter queue."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Dict

from sync_queue.dead_letters import DeadLetter
from tasks.context import TaskContext, iso_time
from tasks.operations import scene_ids_arg

REVIEW_LIMIT = 50


def _entry(letter: DeadLetter) -> Dict[str, Any]:
    """One dead letter as plain JSON for a UI (a dataclass would reach Stash as its repr)."""
    entry = asdict(letter)
    entry["failed_at"] = iso_time(letter.failed_at)
    entry["resolved_at"] = iso_time(letter.resolved_at)
    return entry


def review(ctx: TaskContext) -> Dict[str, Any]:
    dead = ctx.app.dead_letters
    recent = [_entry(letter) for letter in dead.recent(REVIEW_LIMIT)]
    by_kind = dead.by_kind()
    total = dead.count()
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(by_kind.items())) or "none"
    return {"count": total, "by_kind": by_kind, "recent": recent, "summary": f"{total} dead letters ({kinds})"}


def retry(ctx: TaskContext) -> Dict[str, Any]:
    kind = str(ctx.args.get("kind") or "").strip() or None
    raw_ids = str(ctx.args.get("ids") or "").strip()
    try:
        ids = [int(part) for part in raw_ids.replace(" ", "").split(",") if part] if raw_ids else None
    except ValueError:
        raise ValueError(f"task argument ids must be dead letter ids separated by commas, got {raw_ids[:40]!r}") from None
    scene_ids = scene_ids_arg(ctx)
    moved = ctx.app.dead_letters.retry(ids=ids, kind=kind, now=time.time(), scene_ids=scene_ids)
    started = ctx.start_drainer() if moved else False
    return {"queued": moved, "retried": moved, "drainer_started": started,
            "summary": f"queued {moved} dead letters again"}


def purge(ctx: TaskContext) -> Dict[str, Any]:
    days = ctx.app.settings_or_defaults().dlq_retention_days
    removed = ctx.app.dead_letters.purge(older_than_days=days, now=time.time())
    return {"purged": removed, "retention_days": days, "summary": f"purged {removed} dead letters older than {days} days"}
