"""Match: which Plex items hold a scene's files, from the path index and then from Plex.

The index lookup costs no request, and is all an unchanged scene needs. A scene that
does need an edit is matched again against Plex itself before anything is written:
one multi-get fetches every candidate item in full, with its Media/Part files, so keys
Plex no longer has leave the index, and an item that does not hold one of the scene's
files is never written ("look again": the index is refreshed once per batch and the
match retried). A scene found nowhere is NotFoundYet (its folder may be scanned, see
folder_scan.py); one file held by two items of one library is ambiguous (ambiguity.py).
"""

from __future__ import annotations

import logging
from typing import Dict, List, Optional, Tuple

from errors.kinds import NotFoundYet
from plex.index import PathIndex
from plex.items import fetch_full, item_files
from sync_queue import db
from sync_queue.sync_state import SyncState
from validation.pathmap import path_key
from validation.privacy import show_path
from worker.batch.ambiguity import choose_targets
from worker.batch.connection import PlexConnection
from worker.batch.folder_scan import scan_missing_folders
from worker.batch.scene import BatchScene, Match, Outcome
from worker.quick_retry import QuickRetry

log = logging.getLogger("stash2plex.sync")

Items = Dict[int, object]  # rating key -> the item as fetched in full


def lookup(index: PathIndex, scene: BatchScene, section_ids: set) -> List[Match]:
    """Every indexed item holding one of the scene's files (no request)."""
    found: List[Match] = []
    for plex_path in scene.paths:
        for hit in index.lookup(plex_path, section_ids):
            if hit not in found:
                found.append(hit)
    return found


def unchanged(scene: BatchScene) -> bool:
    """Same fingerprint on every item the index finds, and no other item: no request."""
    st = scene.state
    if not (st and st.items and scene.candidates):
        return False
    return ({k for _, k in scene.candidates} == set(st.items)
            and all(i.fingerprint == scene.fp for i in st.items.values()))


class Matcher:
    """Matches the scenes that need an edit against Plex; one per SceneSyncer."""

    def __init__(self, settings, conn, index: PathIndex, state: SyncState, plex: PlexConnection, clock):
        self.settings = settings
        self.conn = conn
        self.index = index
        self.state = state
        self.plex = plex
        self.clock = clock

    def in_plex(self, work: List[BatchScene], retry: QuickRetry) -> Tuple[Items, Dict[int, Outcome], List[BatchScene]]:
        """The items fetched, the scenes that failed to match, and the scenes ready to edit."""
        server = self.plex.server()
        # Connecting may have found another server and dropped the old one's records.
        states = self.state.get_many([i.scene_id for i in work])
        for item in work:
            item.state = states.get(item.scene_id)
        sections = self.plex.sections()
        section_ids = {str(s.key) for s in sections}
        before = set(self.index.built_sections())
        retry(self.index.ensure_built, server, sections)
        fresh = section_ids - before  # listed in full just now
        try:
            items = self._resolve(work, section_ids, fresh, retry)
        except Exception as exc:  # Plex failing for the whole batch: every scene gets it
            return {}, {i.scene_id: exc for i in work}, []
        failed: Dict[int, Outcome] = {}
        ready: List[BatchScene] = []
        for scene in work:
            error = scene.error or self._match_error(scene, items)
            if error is not None:
                failed[scene.scene_id] = error
            else:
                ready.append(scene)
        return items, failed, ready

    def _resolve(self, work: List[BatchScene], section_ids: set, fresh: set, retry: QuickRetry) -> Items:
        """Candidates from the index, checked with one multi-get; look again once if needed."""
        for scene in work:
            scene.candidates = lookup(self.index, scene, section_ids)
        items: Items = {}
        refreshed = False
        for _round in range(2):
            wanted = {int(k) for s in work for _, k in s.candidates if int(k) not in items}
            if wanted:
                items.update(retry(fetch_full, self.plex.server(), sorted(wanted)))
                self._correct_index(wanted, items)
            for scene in work:
                _check(scene, items)
            lost = [s for s in work if not s.targets]
            if not lost or refreshed:
                break
            refreshed = True
            if not self._look_again(lost, section_ids, fresh, retry):
                break
        return items

    def _look_again(self, lost: List[BatchScene], section_ids: set, fresh: set, retry: QuickRetry) -> bool:
        """Refresh the index (once per batch) and look the lost scenes up again; False if not."""
        stale = [s for s in self.plex.sections() if str(s.key) not in fresh]
        if not stale:
            return False
        try:  # once per batch: Plex may have scanned (or re-added) the file since
            retry(self.index.refresh, self.plex.server(), stale,
                  full_every=self.settings.index_full_refresh_hours * 3600.0)
        except Exception as exc:  # only the scenes that missed depend on it
            for scene in lost:
                scene.error = exc
            return False
        for scene in lost:
            scene.candidates = lookup(self.index, scene, section_ids)
        return True

    def _correct_index(self, asked: set, items: Items) -> None:
        """Keys the multi-get did not return are gone; a returned item is indexed by the
        files it holds now (an indexed key may hold other files than the index says).
        One transaction for the whole multi-get, not one per item."""
        gone = [str(k) for k in asked if k not in items]
        rows = [(str(item.librarySectionID), str(key), item_files(item),
                 int(item.updatedAt.timestamp()) if item.updatedAt else 0)
                for key, item in ((k, items.get(k)) for k in asked) if item is not None]
        with db.transaction(self.conn):
            if gone:
                self.index.forget(gone)
                self.state.forget_keys(gone)
            for row in rows:
                self.index.replace_item(*row)
        if gone:
            log.info("Plex no longer has item(s) %s; dropped from the path index", ", ".join(gone))

    def _match_error(self, scene: BatchScene, items: Items) -> Optional[Exception]:
        if scene.targets:
            return choose_targets(scene, items, self.settings)
        scan_missing_folders(self.conn, self.settings, self.plex.sections, self.clock, scene.paths)
        shown = ", ".join(show_path(p) for p in scene.paths)
        return NotFoundYet(f"scene {scene.scene_id}: {shown} is not in Plex yet (after a library refresh)")


def _check(scene: BatchScene, items: Items) -> None:
    """Targets: candidates that exist and hold one of the scene's files (check before
    writing: a mismatch is never written, the index is looked at again)."""
    wanted = scene.keys
    targets: List[Match] = []
    for sid, key in scene.candidates:
        item = items.get(int(key))
        if item is None or str(item.librarySectionID) != sid:
            continue
        if any(path_key(f) in wanted for f in item_files(item)) and (sid, key) not in targets:
            targets.append((sid, key))
    scene.targets = targets
    scene.candidates = [c for c in scene.candidates if c in targets]
