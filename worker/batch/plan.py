"""Plan: what one Plex item needs, from what it holds now and what was last written to it.

The field rules themselves (what a Stash value becomes, clearing, locks, keep-Plex-edits)
are mapping/plan.py's; this stage gathers their inputs: the item as Plex holds it, the
scene's validated metadata, and what was last written to this item, leaving out an
image whose upload was never confirmed (so it is planned again).
"""

from __future__ import annotations

from mapping.plan import EditPlan, diff
from plex.items import read_current
from worker.batch.scene import BatchScene, Match

DEFAULT_STYLE = "screenshot"  # poster_style's default (validation/settings.py)


def plan_item(scene: BatchScene, target: Match, item, settings) -> EditPlan:
    st = scene.item_state(target)
    last = dict(st.written) if st else {}
    if not (st and st.poster_hash) or last.get("poster_style", DEFAULT_STYLE) != settings.poster_style:
        last.pop("poster", None)  # never confirmed, or made in another style: upload again
    if not (st and st.art_hash):
        last.pop("background", None)
    plan = diff(read_current(item), scene.meta, last, settings)
    if settings.poster_style != DEFAULT_STYLE and "poster" in scene.meta.managed:
        plan.written["poster_style"] = settings.poster_style  # recorded with the item
    return plan
