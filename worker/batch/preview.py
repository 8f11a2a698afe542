"""Preview: a batch taken through read → match → plan, and stopped before apply.

The dry run of Preview Changes and of the Plex panel's Preview button. It costs what
a sync costs up to the plan and no more: one Stash read per batch, no Plex request for
a scene whose fingerprint and items are unchanged, one multi-get for the rest. It
sends nothing that changes Plex (no PUT, POST or DELETE) and records nothing about
the scenes (the path index may learn of items Plex no longer has, as a sync's match
would). Each change names the field as the field table does (mapping/fields.py),
what Plex holds now and what a sync would write.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Union

from errors.kinds import PermanentError
from mapping.fields import FIELDS, IMAGE
from mapping.plan import EditPlan, desired_values
from mapping.scene_filter import skip_reason
from plex.apply import sha256
from plex.items import read_current
from worker.batch.match import lookup, unchanged
from worker.batch.plan import plan_item
from worker.batch.read import read_scenes
from worker.batch.scene import BatchScene, SyncResult
from worker.quick_retry import QuickRetry

Change = Dict[str, Any]
Preview = Union[List[Change], Exception]


def preview_batch(syncer, scene_ids: Iterable[int]) -> Dict[int, Preview]:
    """Each scene's changes (empty: Plex already holds it), or the exception a sync would meet."""
    ids = list(dict.fromkeys(int(i) for i in scene_ids))
    if not ids:
        return {}
    retry = QuickRetry(sleep=syncer.sleep)
    work, done, gone = read_scenes(syncer.stash, syncer.state, ids, retry, syncer.settings, syncer.mapper,
                                   _Unrecorded(syncer.settings))
    # Left out by the scene filter: nothing would change in Plex.
    results: Dict[int, Preview] = {sid: ([] if isinstance(r, SyncResult) else r) for sid, r in done.items()}
    for sid in gone:
        results[sid] = PermanentError(f"scene {sid} no longer exists in Stash")
    section_ids = syncer.plex.indexed_section_ids()
    to_plan: List[BatchScene] = []
    for scene in work:
        scene.candidates = lookup(syncer.index, scene, section_ids) if section_ids is not None else []
        if unchanged(scene):
            results[scene.scene_id] = []
        else:
            to_plan.append(scene)
    if to_plan:
        items, not_matched, ready = syncer.matcher.in_plex(to_plan, retry)
        results.update(not_matched)
        for scene in ready:
            results[scene.scene_id] = _scene_changes(syncer, scene, items, retry)
    return {sid: results[sid] for sid in ids if sid in results}


class _Unrecorded:
    """The scene filter's verdict (mapping/scene_filter.py) without recording it: a preview
    leaves Queue Status's filter figures as the last sync left them."""

    def __init__(self, settings):
        self.settings = settings

    def leave_out(self, scenes: Dict[int, dict]) -> Dict[int, SyncResult]:
        return {sid: SyncResult(sid, "filtered") for sid, scene in scenes.items()
                if skip_reason(scene, self.settings) is not None}


def _scene_changes(syncer, scene: BatchScene, items, retry: QuickRetry) -> List[Change]:
    """The changes of every item the scene reaches, each field once."""
    changes: List[Change] = []
    seen = set()
    for target in scene.targets:
        item = items[int(target[1])]
        plan = plan_item(scene, target, item, syncer.settings)
        _settle_images(syncer, scene, target, plan, retry)
        for change in changes_of(plan, read_current(item), scene.meta):
            if change["field"] not in seen:
                seen.add(change["field"])
                changes.append(change)
    return changes


def _settle_images(syncer, scene: BatchScene, target, plan: EditPlan, retry: QuickRetry) -> None:
    """A new screenshot URL is an upload only when the bytes differ from those Plex holds
    (plex/apply.py compares their sha256): fetch them once, as the sync would."""
    if not (plan.upload_poster or plan.upload_background):
        return
    image = syncer.sender.screenshot(scene, plan, retry)
    poster = syncer.sender.styled(scene, image) if plan.upload_poster else None
    st = scene.item_state(target)
    if image is None or (st is not None and st.poster_hash == sha256(poster or b"")):
        plan.upload_poster = False
    if image is None or (st is not None and st.art_hash == sha256(image)):
        plan.upload_background = False


def changes_of(plan: EditPlan, current, desired) -> List[Change]:
    """The fields a plan would change (a lock alone changes no value), in field-table order."""
    wanted = desired_values(desired)
    changes = []
    for row in FIELDS:
        if not _touches(plan, row):
            continue
        if row.kind == IMAGE:
            changes.append({"field": row.name, "plex": "current image", "stash": "the scene's screenshot"})
        else:
            changes.append({"field": row.name, "plex": _shown(getattr(current, row.name, None)),
                            "stash": _shown(wanted.get(row.name))})
    return changes


def _touches(plan: EditPlan, row) -> bool:
    if row.name == "poster":
        return plan.upload_poster
    if row.name == "background":
        return plan.upload_background
    if row.name == "user_rating":
        return plan.set_rating
    return bool(row.plex) and (row.plex in plan.fields or row.plex in plan.tags or row.plex in plan.remove_tags)


def _shown(value: Any) -> Any:
    """Plain JSON: lists stay lists, empty text stays '', a missing rating is None."""
    if isinstance(value, (tuple, list)):
        return list(value)
    return value
