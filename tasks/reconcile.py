"""Reconcile Plex: find Plex items that no longer hold what Stash2Plex wrote, and queue them.

A scene unchanged in Stash costs no Plex request when it syncs, so a change made on the
Plex side (an edit, an agent refresh of an unlocked field, a deleted or re-added item)
stays invisible to Sync All. This task reads every synced item back (a scene with
several files has several), many per request, drops keys Plex no longer has from the
index and the sync state so the next sync looks the match up in Plex again,
compares it with what was written, and queues the scenes that drifted for a full
compare-and-write. With keep_plex_edits on, value changes are people's edits and are
only reported; lost locks and missing items are still queued.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List

from plex.items import fetch_full, read_current
from mapping.plan import drift
from sync_queue import inbox
from tasks.context import TaskContext
from tasks.foreground_drain import check_plex, drain_foreground

log = logging.getLogger("stash2plex")
EXAMPLES = 10


def run(ctx: TaskContext) -> Dict[str, Any]:
    check_plex(ctx)
    app = ctx.app
    keep = app.settings.keep_plex_edits
    state = app.sync_state
    total = max(1, state.item_count())
    checked, missing, drifted, kept = 0, set(), set(), set()
    gone: List[str] = []
    examples: List[Dict[str, Any]] = []
    for chunk in state.iter_items():
        items = fetch_full(app.plex(), [int(i.rating_key) for i in chunk])
        for record in chunk:
            item = items.get(int(record.rating_key))
            if item is None:
                # Deleted, or re-added under a new key: the scene's match is looked up
                # again from Plex when it syncs, not from this record.
                missing.add(record.scene_id)
                gone.append(record.rating_key)
                continue
            fields = drift(read_current(item), record.written)
            values_changed = [f for f in fields if not f.endswith("(unlocked)")]
            if not fields:
                continue
            if keep and values_changed and len(values_changed) == len(fields):
                kept.add(record.scene_id)
                continue
            drifted.add(record.scene_id)
            if len(examples) < EXAMPLES:
                examples.append({"scene_id": record.scene_id, "plex_key": record.rating_key, "fields": fields})
        checked += len(chunk)
        ctx.progress(min(0.5, 0.5 * checked / total))
    if gone:
        app.index.forget(gone)
        state.forget_keys(gone)
    queue = sorted(drifted | missing)
    if queue:
        state.invalidate(queue)
        inbox.enqueue(app.data_dir, queue, reason="reconcile", now=time.time())
    for example in examples:
        log.info("scene %s drifted in Plex (item %s): %s", example["scene_id"], example["plex_key"],
                 ", ".join(example["fields"]))
    result: Dict[str, Any] = {
        "checked": checked,
        "drifted": len(drifted),
        "missing_in_plex": len(missing),
        "kept_plex_edits": len(kept - drifted),
        "examples": examples,
    }
    if queue:
        result["sync"] = drain_foreground(ctx, progress_from=0.5)  # the read-back showed 0 to 0.5
    ctx.progress(1.0)
    result["summary"] = (
        f"checked {checked} Plex items: {len(drifted)} drifted, {len(missing)} missing in Plex"
        + (f", {len(kept - drifted)} kept as edited in Plex" if keep else "")
        + (f"; re-synced: {result['sync']['summary']}" if queue else "")
    )
    return result
