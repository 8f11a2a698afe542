"""Apply: send one scene's plan to one Plex item (runs on an edit thread).

Each item gets one batched PUT, a rating call only when the rating changed, and uploads
only when the image bytes changed (plex/apply.py). The screenshot is fetched from Stash
only for an upload, and an upload Plex accepted is noted at once, for the batch's
recording (record.py), so a failed edit after it never sends the bytes again. Once the
batch's stop signal is set (stop.py) nothing more is sent; an item deleted since the
multi-get leaves the index and the scene looks again on its next attempt.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Optional, Union

from plexapi.exceptions import NotFound

from errors.kinds import NotFoundYet
from mapping.letterbox import letterbox
from mapping.plan import EditPlan
from plex.apply import Applied, apply_plan
from plex.in_flight import check_when_placed
from plex.index import PathIndex
from sync_queue.sync_state import SyncState
from validation.privacy import show_path
from worker.batch.plan import plan_item
from worker.batch.scene import BatchScene, Match
from worker.batch.stop import BatchStop, not_sent
from worker.quick_retry import QuickRetry

log = logging.getLogger("stash2plex.sync")


@dataclass
class Sent:
    """What one item's requests did, handed from an edit thread to the recording one."""

    plan: EditPlan
    done: Applied


Later = Callable[[int, Callable[[], None]], None]  # Recorder.later: a sync-state write for the batch's end


class ItemSender:
    """Sends items their edits; sync-state writes go to `later`, the path index under `db_lock`."""

    def __init__(self, settings, stash, index: PathIndex, state: SyncState, db_lock: threading.Lock,
                 later: Later):
        self.settings = settings
        self.stash = stash
        self.index = index
        self.state = state
        self.db_lock = db_lock
        self.later = later

    def send_one(self, scene: BatchScene, target: Match, item, retry: QuickRetry,
                 stop: BatchStop) -> Union[Sent, Exception]:
        """One item's requests (runs on an edit thread)."""
        cause = stop.cause()
        if cause is not None:
            # Every further request would meet the same 503, 429 or timeout, and the
            # breaker only sees the batch's results: leave the rest to the queue.
            return not_sent(cause)

        def called_off() -> None:  # a request that waited for its turn on Plex (plex/in_flight.py)
            cause = stop.cause()
            if cause is not None:
                raise not_sent(cause)

        try:
            with check_when_placed(called_off):
                return self._send(scene, target, item, retry)
        except NotFound:
            # Deleted (or re-added under a new key) since the multi-get: look again on
            # the next attempt, with the key gone from the index; never a dead letter.
            with self.db_lock:
                self.index.forget([target[1]])
            self.later(scene.scene_id, lambda: self.state.forget_keys([target[1]]))
            return NotFoundYet(f"scene {scene.scene_id}: Plex item {target[1]} for "
                               f"{show_path(scene.paths[0])} went away while syncing; looking again")
        except Exception as exc:  # routed per scene by the worker
            stop.note(exc)
            return exc

    def _send(self, scene: BatchScene, target: Match, item, retry: QuickRetry) -> Sent:
        st = scene.item_state(target)
        plan = plan_item(scene, target, item, self.settings)
        image = self.screenshot(scene, plan, retry)
        poster = self.styled(scene, image) if plan.upload_poster else None

        def uploaded(kind: str, digest: str) -> None:
            # Plex accepted these bytes: recorded with the batch even when the edit after
            # it fails, so a retry of the scene never uploads them again.
            self.later(scene.scene_id, lambda: self.state.record_image(scene.scene_id, target[1], target[0],
                                                                       kind, digest))

        done = apply_plan(
            item, plan,
            poster=poster,
            background=image if plan.upload_background else None,
            poster_hash=st.poster_hash if st else None,
            art_hash=st.art_hash if st else None,
            call=retry, on_uploaded=uploaded,
        )
        return Sent(plan, done)

    def styled(self, scene: BatchScene, image: Optional[bytes]) -> Optional[bytes]:
        """The poster in the chosen `poster_style`: the screenshot, or letterboxed to 2:3."""
        if image is None or self.settings.poster_style != "letterbox":
            return image
        poster = letterbox(image)
        if poster is None:
            log.warning("scene %s: the screenshot is not an image Pillow can read; "
                        "uploaded as it is instead of letterboxed", scene.scene_id)
            return image
        return poster

    def screenshot(self, scene: BatchScene, plan: EditPlan, retry: QuickRetry) -> Optional[bytes]:
        """The image bytes from Stash, fetched only when the plan uploads one."""
        if not (plan.upload_poster or plan.upload_background):
            return None
        url = scene.meta.poster_url or scene.meta.background_url
        image = retry(self.stash.fetch_image, url)
        if image is None:
            log.info("scene %s has no screenshot in Stash; images left as they are", scene.scene_id)
        return image
