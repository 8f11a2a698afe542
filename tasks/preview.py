"""Preview Changes and preview_scene: what a sync would change in Plex, writing nothing.

Both take scenes through the sync's own stages up to the plan (worker/batch/preview.py):
the same paged Stash reads as Sync All (ids a thousand per request, scenes a batch per
request), no Plex request for an unchanged scene, and never a PUT, POST or DELETE.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

from tasks.context import TaskContext
from tasks.foreground_drain import check_plex
from tasks.operations import scene_id_arg
from worker.batch import BATCH_SIZE
from worker.batch.preview import preview_batch

PREVIEW_BATCH = BATCH_SIZE  # scenes per Stash read, as the worker's batch
SAMPLE_SIZE = 10


def preview_scene(ctx: TaskContext) -> Dict[str, Any]:
    sid = scene_id_arg(ctx)
    check_plex(ctx)
    outcome = preview_batch(ctx.app.syncer(), [sid]).get(sid, [])
    answer: Dict[str, Any] = {"scene_id": str(sid), "changes": [], "problem": None}
    if isinstance(outcome, Exception):
        answer["problem"] = str(outcome)
    else:
        answer["changes"] = outcome
    answer["summary"] = f"scene {sid}: {len(answer['changes'])} fields would change"
    return answer


def run(ctx: TaskContext) -> Dict[str, Any]:
    """The Preview Changes task: every scene (or those changed in the last `hours`)."""
    hours = ctx.int_arg("hours", 0, 0, 24 * 365)
    since: Optional[datetime] = datetime.now(timezone.utc) - timedelta(hours=hours) if hours else None
    check_plex(ctx)
    ids = list(ctx.app.stash.iter_scene_ids(updated_since=since))
    syncer = ctx.app.syncer()
    changed: List[Dict[str, Any]] = []
    problems: Dict[str, str] = {}
    ctx.progress(0.0)
    for start in range(0, len(ids), PREVIEW_BATCH):
        for sid, outcome in preview_batch(syncer, ids[start:start + PREVIEW_BATCH]).items():
            if isinstance(outcome, Exception):
                problems[str(sid)] = str(outcome)
            elif outcome:
                changed.append({"scene_id": str(sid), "changes": outcome})
        ctx.progress(min(start + PREVIEW_BATCH, len(ids)) / len(ids))
    ctx.progress(1.0)
    return _report(len(ids), changed, problems, hours)


def _report(checked: int, changed: List[Dict[str, Any]], problems: Dict[str, str], hours: int) -> Dict[str, Any]:
    histogram = Counter(c["field"] for scene in changed for c in scene["changes"])
    fields = ", ".join(f"{name} {n}" for name, n in histogram.most_common()) or "none"
    scope = f"changed in the last {hours} h" if hours else "all scenes"
    return {
        "checked": checked,
        "changed": len(changed),
        "histogram": dict(histogram),
        "sample": changed[:SAMPLE_SIZE],
        "scenes": changed,
        "problems": problems,
        "summary": (f"Preview Changes ({scope}): {len(changed)} of {checked} scenes would change "
                    f"(fields: {fields}); {len(problems)} could not be previewed; nothing was written to Plex"),
    }
