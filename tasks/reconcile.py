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
from dataclasses import dataclass, field
from typing import Any, Dict, List, Set

from plex.items import fetch_full, read_current
from mapping.plan import drift
from sync_queue import inbox
from tasks.context import TaskContext
from tasks.foreground_drain import check_plex, drain_foreground

log = logging.getLogger("stash2plex")
EXAMPLES = 10


@dataclass
class Findings:
    """What the read-back found: scene ids by what became of their Plex items."""

    keep_plex_edits: bool
    checked: int = 0
    missing: Set[int] = field(default_factory=set)
    drifted: Set[int] = field(default_factory=set)
    kept: Set[int] = field(default_factory=set)
    gone: List[str] = field(default_factory=list)  # Plex keys that no longer hold an item
    examples: List[Dict[str, Any]] = field(default_factory=list)

    def compare(self, record, item) -> None:
        """One synced item against what was written to it (`item` None: Plex has no such key)."""
        if item is None:
            # Deleted, or re-added under a new key: the scene's match is looked up
            # again from Plex when it syncs, not from this record.
            self.missing.add(record.scene_id)
            self.gone.append(record.rating_key)
            return
        fields = drift(read_current(item), record.written)
        values_changed = [f for f in fields if not f.endswith("(unlocked)")]
        if not fields:
            return
        if self.keep_plex_edits and values_changed and len(values_changed) == len(fields):
            self.kept.add(record.scene_id)
            return
        self.drifted.add(record.scene_id)
        if len(self.examples) < EXAMPLES:
            self.examples.append({"scene_id": record.scene_id, "plex_key": record.rating_key, "fields": fields})


def run(ctx: TaskContext) -> Dict[str, Any]:
    check_plex(ctx)
    keep = ctx.app.settings.keep_plex_edits
    found = _read_back(ctx, Findings(keep_plex_edits=keep))
    queue = _forget_and_queue(ctx.app, found)
    for example in found.examples:
        log.info("scene %s drifted in Plex (item %s): %s", example["scene_id"], example["plex_key"],
                 ", ".join(example["fields"]))
    result: Dict[str, Any] = {
        "checked": found.checked,
        "drifted": len(found.drifted),
        "missing_in_plex": len(found.missing),
        "kept_plex_edits": len(found.kept - found.drifted),
        "examples": found.examples,
    }
    if queue:
        result["sync"] = drain_foreground(ctx, progress_from=0.5)  # the read-back showed 0 to 0.5
    ctx.progress(1.0)
    result["summary"] = (
        f"checked {found.checked} Plex items: {len(found.drifted)} drifted, {len(found.missing)} missing in Plex"
        + (f", {len(found.kept - found.drifted)} kept as edited in Plex" if keep else "")
        + (f"; re-synced: {result['sync']['summary']}" if queue else "")
    )
    return result


def _read_back(ctx: TaskContext, found: Findings) -> Findings:
    """Every synced item read back from Plex, many per request; the bar goes from 0 to 0.5."""
    app = ctx.app
    state = app.sync_state
    total = max(1, state.item_count())
    for chunk in state.iter_items():
        items = fetch_full(app.plex(), [int(i.rating_key) for i in chunk])
        for record in chunk:
            found.compare(record, items.get(int(record.rating_key)))
        found.checked += len(chunk)
        ctx.progress(min(0.5, 0.5 * found.checked / total))
    return found


def _forget_and_queue(app, found: Findings) -> List[int]:
    """Drop the keys Plex no longer has, then queue the scenes to sync again; their ids."""
    state = app.sync_state
    if found.gone:
        app.index.forget(found.gone)
        state.forget_keys(found.gone)
    queue = sorted(found.drifted | found.missing)
    if queue:
        state.invalidate(queue)
        inbox.enqueue(app.data_dir, queue, reason="reconcile", now=time.time())
    return queue
