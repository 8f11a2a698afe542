"""Reconcile Plex: find Plex items that no longer hold what Stash2Plex wrote, and queue them.

A scene unchanged in Stash costs no Plex request when it syncs, so a change made on the
Plex side (an edit, an agent refresh of an unlocked field, a deleted or re-added item)
stays invisible to Sync All. This task reads every synced item back, many per request,
compares it with what was written, and queues the scenes that drifted for a full
compare-and-write. With keep_plex_edits on, value changes are people's edits and are
only reported; lost locks and missing items are still queued.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List

from plex.items import fetch_full, read_current
from plex.plan import drift
from sync_queue import inbox
from tasks.context import TaskContext
from tasks.drain import check_plex, drain_foreground

log = logging.getLogger("stash2plex")
EXAMPLES = 10


def run(ctx: TaskContext) -> Dict[str, Any]:
    check_plex(ctx)
    app = ctx.app
    keep = app.settings.keep_plex_edits
    state = app.sync_state
    total = max(1, state.count())
    checked, missing, drifted, kept = 0, [], [], []
    examples: List[Dict[str, Any]] = []
    for chunk in state.iter_synced():
        items = fetch_full(app.plex(), [int(s.plex_key) for s in chunk])
        for scene in chunk:
            item = items.get(int(scene.plex_key))
            if item is None:
                missing.append(scene.scene_id)
                continue
            fields = drift(read_current(item), scene.written)
            values_changed = [f for f in fields if not f.endswith("(unlocked)")]
            if not fields:
                continue
            if keep and values_changed and len(values_changed) == len(fields):
                kept.append(scene.scene_id)
                continue
            drifted.append(scene.scene_id)
            if len(examples) < EXAMPLES:
                examples.append({"scene_id": scene.scene_id, "fields": fields})
        checked += len(chunk)
        ctx.progress(min(0.5, 0.5 * checked / total))
    if missing:
        app.index.forget(str(k) for k in _keys(state, missing))
    queue = drifted + missing
    if queue:
        state.invalidate(queue)
        inbox.enqueue(app.data_dir, queue, reason="reconcile", now=time.time())
    for example in examples:
        log.info("scene %s drifted in Plex: %s", example["scene_id"], ", ".join(example["fields"]))
    result: Dict[str, Any] = {
        "checked": checked,
        "drifted": len(drifted),
        "missing_in_plex": len(missing),
        "kept_plex_edits": len(kept),
        "examples": examples,
    }
    if queue:
        result["sync"] = drain_foreground(ctx, progress_from=0.5)  # the read-back showed 0 to 0.5
    ctx.progress(1.0)
    result["summary"] = (
        f"checked {checked} Plex items: {len(drifted)} drifted, {len(missing)} missing in Plex"
        + (f", {len(kept)} kept as edited in Plex" if keep else "")
        + (f"; re-synced: {result['sync']['summary']}" if queue else "")
    )
    return result


def _keys(state, scene_ids: List[int]) -> List[str]:
    found = state.get_many(scene_ids)
    return [found[i].plex_key for i in scene_ids if i in found and found[i].plex_key]
