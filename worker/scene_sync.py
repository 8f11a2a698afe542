"""One batch of scenes: read Stash, validate, match in Plex, plan, edit, record.

The request budget is the design: all scenes of a batch are read from Stash in one
request; matching is a lookup in the path index (no request); a scene whose
fingerprint and Plex item are unchanged costs nothing in Plex; the items that do need
an edit are fetched in full with one multi-get; each then gets one batched PUT, a
rating call only when the rating changed, and uploads only when image bytes changed.
The index is refreshed at most once per batch, and only when a path was missing.
The per-scene requests of a batch run a few scenes at a time (EDIT_THREADS): the
request count is the same, only the waiting on Plex overlaps.

Per-scene failures are returned as exception instances (the worker routes each by its
kind); a failure that stops the whole batch (Stash unreachable, Plex refusing the
token at connect) is raised.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from plex.apply import Applied, apply_plan
from plex.client import resolve_sections
from plex.index import PathIndex
from plex.items import fetch_full, read_current
from plex.pathmap import PathMapper, parent_folder, path_key
from plex.plan import EditPlan, diff
from sync_queue import db
from sync_queue.sync_state import SceneState, SyncState
from validation.errors import (AmbiguousMatch, ConfigError, NotFoundYet, PermanentError, SyncError,
                               TransientError)
from validation.metadata import PlexMetadata, build_metadata, fingerprint
from validation.privacy import show_path
from worker.classify import server_unavailable
from worker.quick_retry import QuickRetry

log = logging.getLogger("stash2plex.sync")

SCAN_META_KEY = "plex_folder_scans"  # folder key -> when we last asked Plex to scan it
SCAN_MEMORY_SECONDS = 86400.0
# Scenes of one batch whose requests are in flight at once. Each scene's requests wait
# on Plex in turn; a few in parallel hide that wait without hammering the server.
EDIT_THREADS = 4


@dataclass
class SyncResult:
    scene_id: int
    status: str  # "synced" | "unchanged"
    plex_key: Optional[str] = None
    section_id: Optional[str] = None
    edited: bool = False  # a batched PUT was sent
    rated: bool = False
    uploads: int = 0
    kept: List[str] = field(default_factory=list)  # fields left as edited in Plex

    @property
    def changed(self) -> bool:
        """False when Plex already held everything (what the worker's tally reads)."""
        return self.status != "unchanged"


Outcome = Union[SyncResult, Exception]


@dataclass
class _Scene:
    scene_id: int
    meta: PlexMetadata
    paths: List[str]  # mapped to Plex
    fp: str = ""
    match: Optional[Tuple[str, str]] = None
    candidates: List[Tuple[str, str]] = field(default_factory=list)
    state: Optional[SceneState] = None


class SceneSyncer:
    """Syncs batches of scene ids; one instance per drainer (it keeps the Plex connection)."""

    def __init__(self, settings, stash_reader, plex_connect: Callable[[], object], conn,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 edit_threads: int = EDIT_THREADS):
        self.settings = settings
        self.stash = stash_reader
        self.plex_connect = plex_connect
        self.conn = conn
        self.clock = clock
        self.sleep = sleep
        self.edit_threads = max(1, int(edit_threads))
        try:
            self.mapper = PathMapper(settings.path_map)
        except ValueError as exc:
            raise ConfigError(f"Setting path_map is invalid: {exc}") from None
        self.index = PathIndex(conn, clock=clock)
        self.state = SyncState(conn)
        self._server = None
        self._sections = None

    # -- Plex connection, made only when a batch needs it ------------------------
    def server(self):
        if self._server is None:
            self._server = self.plex_connect()
        return self._server

    def sections(self) -> list:
        if self._sections is None:
            self._sections = resolve_sections(self.server(), self.settings)
        return self._sections

    def _section_ids(self) -> Optional[set]:
        """Sections to match in, from the index when it can say so (no request)."""
        if self._sections is not None:
            return {str(s.key) for s in self._sections}
        built = self.index.built_sections()
        wanted = {n.casefold() for n in self.settings.libraries}
        ids = {sid for sid, info in built.items() if not wanted or (info["title"] or "").casefold() in wanted}
        if ids and (not wanted or len({built[i]["title"].casefold() for i in ids}) == len(wanted)):
            return ids
        return None  # not every configured library is indexed yet: ask Plex

    # -- the batch ---------------------------------------------------------------
    def sync_batch(self, scene_ids: Iterable[int]) -> Dict[int, Outcome]:
        ids = list(dict.fromkeys(int(i) for i in scene_ids))
        results: Dict[int, Outcome] = {}
        if not ids:
            return results
        retry = QuickRetry(sleep=self.sleep)
        read_at = self.clock()
        scenes = retry(self.stash.find_scenes, ids)
        states = self.state.get_many(ids)

        work: List[_Scene] = []
        for sid in ids:
            outcome = self._prepare(sid, scenes.get(sid))
            if isinstance(outcome, Exception):
                results[sid] = outcome
            else:
                outcome.state = states.get(sid)
                work.append(outcome)
        if not work:
            return results

        section_ids = self._section_ids()
        fresh: set = set()  # sections listed in full during this batch
        if section_ids is None:
            before = set(self.index.built_sections())
            retry(self.index.ensure_built, self.server(), self.sections())
            section_ids = {str(s.key) for s in self.sections()}
            fresh = section_ids - before
        refresh_failure = self._match_all(work, section_ids, fresh, retry)

        to_edit: List[_Scene] = []
        for item in work:
            error = self._match_error(item, refresh_failure)
            if error is not None:
                results[item.scene_id] = error
                continue
            item.fp = fingerprint(item.meta, self.settings)
            st = item.state
            if st and st.fingerprint == item.fp and st.plex_key == item.match[1]:
                self._touch(st, read_at)
                results[item.scene_id] = SyncResult(item.scene_id, "unchanged", item.match[1], item.match[0])
            else:
                to_edit.append(item)
        if to_edit:
            results.update(self._edit_all(to_edit, retry, read_at))
        return results

    def _prepare(self, sid: int, scene: Optional[dict]) -> Union[_Scene, Exception]:
        if scene is None:
            return PermanentError(f"scene {sid} no longer exists in Stash")
        try:
            meta = build_metadata(scene, self.settings)
        except SyncError as exc:
            return exc
        files = [f.get("path") for f in scene.get("files") or [] if isinstance(f, dict) and f.get("path")]
        if not files:
            return PermanentError(f"scene {sid} has no file in Stash, so there is nothing to find in Plex")
        return _Scene(sid, meta, [self.mapper.to_plex(p) for p in files])

    # -- matching ----------------------------------------------------------------
    def _lookup(self, item: _Scene, section_ids: set) -> List[Tuple[str, str]]:
        found: List[Tuple[str, str]] = []
        for plex_path in item.paths:
            for hit in self.index.lookup(plex_path, section_ids):
                if hit not in found:
                    found.append(hit)
        return found

    def _match_all(self, work: List[_Scene], section_ids: set, fresh: set,
                   retry: QuickRetry) -> Optional[Exception]:
        """Find each scene's item; returns the refresh's failure, if one was needed and failed."""
        for item in work:
            item.candidates = self._lookup(item, section_ids)
        failure = None
        if any(not item.candidates for item in work):
            try:
                stale = [s for s in self.sections() if str(s.key) not in fresh]
                if stale:  # once per batch: Plex may have scanned the file since
                    retry(self.index.refresh, self.server(), stale)
                section_ids = {str(s.key) for s in self.sections()}
            except Exception as exc:  # only the scenes that missed depend on it
                failure = exc
            for item in work:
                item.candidates = item.candidates or self._lookup(item, section_ids)
        for item in work:
            found = item.candidates
            if len(found) == 1 or (found and self.settings.allow_ambiguous_match):
                item.match = found[0]  # lowest section id, then lowest ratingKey
        return failure

    def _match_error(self, item: _Scene, refresh_failure: Optional[Exception]) -> Optional[Exception]:
        if item.match is not None:
            return None
        if item.candidates:
            names = [f"section {s} item {k}" for s, k in item.candidates]
            return AmbiguousMatch(show_path(item.paths[0]), names)
        if refresh_failure is not None:
            return refresh_failure
        self._maybe_scan(item.paths)
        shown = ", ".join(show_path(p) for p in item.paths)
        return NotFoundYet(f"scene {item.scene_id}: {shown} is not in Plex yet (after a library refresh)")

    def _maybe_scan(self, paths: List[str]) -> None:
        """Ask Plex to scan each missing file's folder, once per folder per backoff window."""
        if not self.settings.scan_missing_folders:
            return
        now = self.clock()
        asked = db.get_meta(self.conn, SCAN_META_KEY) or {}
        asked = {k: v for k, v in asked.items() if now - v < SCAN_MEMORY_SECONDS}
        changed = False
        for plex_path in paths:
            folder = parent_folder(plex_path)
            key = path_key(folder)
            if now - asked.get(key, float("-inf")) < self.settings.not_found_base_seconds:
                continue
            for section in self.sections():
                if any(key == path_key(loc) or key.startswith(path_key(loc).rstrip("/") + "/")
                       for loc in section.locations):
                    try:
                        section.update(path=folder)
                    except Exception as exc:  # a scan request is a courtesy; the job still waits
                        log.warning("could not ask Plex to scan %s: %s", show_path(folder), exc)
                        continue
                    log.info("asked Plex to scan %s", show_path(folder))
                    asked[key] = now
                    changed = True
                    break
        if changed:
            db.set_meta(self.conn, SCAN_META_KEY, asked)

    # -- editing -----------------------------------------------------------------
    def _edit_all(self, to_edit: List[_Scene], retry: QuickRetry, read_at: float) -> Dict[int, Outcome]:
        """Send each scene's uploads, edit and rating, a few scenes at a time.

        A scene's requests are sequential and mostly wait on Plex, so up to
        `edit_threads` scenes are in flight at once. Scenes that share one Plex item go
        in one lane, in batch order, so two edits of one item never overlap. Only this
        thread touches SQLite: each result is recorded here as its lane finishes.
        """
        results: Dict[int, Outcome] = {}
        try:
            items = retry(fetch_full, self.server(), [int(i.match[1]) for i in to_edit])
        except Exception as exc:  # Plex failing for the whole batch: every scene gets it
            return {i.scene_id: exc for i in to_edit}
        gone = [i.match[1] for i in to_edit if int(i.match[1]) not in items]
        if gone:
            self.index.forget(gone)
        lanes: Dict[str, List[Tuple[_Scene, object]]] = {}
        for scene in to_edit:
            lanes.setdefault(scene.match[1], []).append((scene, items.get(int(scene.match[1]))))
        stop = _Stop(retry)

        def run_lane(lane: List[Tuple[_Scene, object]]) -> List[Tuple[_Scene, object]]:
            return [(scene, self._send_one(scene, item, retry, stop)) for scene, item in lane]

        for lane in self._run_lanes(run_lane, list(lanes.values())):
            for scene, sent in lane:
                if isinstance(sent, Exception):
                    results[scene.scene_id] = sent
                    continue
                try:
                    results[scene.scene_id] = self._record(scene, sent, read_at)
                except Exception as exc:  # routed per scene by the worker
                    stop.note(exc)
                    results[scene.scene_id] = exc
        return results

    def _run_lanes(self, fn: Callable, lanes: list) -> Iterable:
        """fn over each lane, in order: on a small pool, or inline for a single lane."""
        if self.edit_threads <= 1 or len(lanes) <= 1:
            yield from map(fn, lanes)  # lazily, so each scene is recorded before the next is sent
            return
        with ThreadPoolExecutor(max_workers=min(self.edit_threads, len(lanes)),
                                thread_name_prefix="stash2plex-edit") as pool:
            yield from pool.map(fn, lanes)

    def _send_one(self, scene: _Scene, item, retry: QuickRetry, stop: "_Stop") -> Union["_Sent", Exception]:
        """One scene's requests (runs on an edit thread: no SQLite here)."""
        cause = stop.cause()
        if cause is not None:
            # Every further request would meet the same 503, 429 or timeout, and the
            # breaker only sees the batch's results: leave the rest to the queue.
            return _down(cause)
        if item is None:
            return NotFoundYet(
                f"scene {scene.scene_id}: Plex item {scene.match[1]} for "
                f"{show_path(scene.paths[0])} is gone; the index will be refreshed")
        try:
            return self._send(scene, item, retry)
        except Exception as exc:  # routed per scene by the worker
            stop.note(exc)
            return exc

    def _send(self, scene: _Scene, item, retry: QuickRetry) -> "_Sent":
        st = scene.state
        last = dict(st.written) if st else {}
        if not (st and st.poster_hash):
            last.pop("poster", None)
        if not (st and st.art_hash):
            last.pop("background", None)
        plan = diff(read_current(item), scene.meta, last, self.settings)

        image = None
        if plan.upload_poster or plan.upload_background:
            url = scene.meta.poster_url or scene.meta.background_url
            image = retry(self.stash.fetch_image, url)
            if image is None:
                log.info("scene %s has no screenshot in Stash; images left as they are", scene.scene_id)
        done = apply_plan(
            item, plan,
            poster=image if plan.upload_poster else None,
            background=image if plan.upload_background else None,
            poster_hash=st.poster_hash if st else None,
            art_hash=st.art_hash if st else None,
            call=retry,
        )
        return _Sent(plan, done)

    def _record(self, scene: _Scene, sent: "_Sent", read_at: float) -> SyncResult:
        """Remember what Plex now holds for the scene (on the batch's thread: SQLite)."""
        st, plan, done = scene.state, sent.plan, sent.done
        written = dict(plan.written)
        if done.poster_hash:
            written["poster"] = scene.meta.poster_url
        if done.art_hash:
            written["background"] = scene.meta.background_url
        self.state.record(SceneState(
            scene_id=scene.scene_id,
            fingerprint=scene.fp,
            plex_key=scene.match[1],
            section_id=scene.match[0],
            written=written,
            poster_hash=done.poster_hash or (st.poster_hash if st else None),
            art_hash=done.art_hash or (st.art_hash if st else None),
            image_source=scene.meta.poster_url or scene.meta.background_url,
            read_at=read_at,
            synced_at=self.clock(),
        ))
        if plan.kept:
            log.info("scene %s: kept Plex edits of %s", scene.scene_id, ", ".join(plan.kept))
        return SyncResult(scene.scene_id, "synced", scene.match[1], scene.match[0], edited=done.edited,
                          rated=done.rated, uploads=done.uploads, kept=list(plan.kept))

    def _touch(self, st: SceneState, read_at: float) -> None:
        """An unchanged scene was read successfully too: remember when."""
        st.read_at = read_at
        self.state.record(st)


@dataclass
class _Sent:
    """What one scene's requests did, handed from an edit thread to the recording one."""

    plan: EditPlan
    done: Applied


class _Stop:
    """Why the rest of a batch is not sent, shared by the edit threads.

    QuickRetry's `gave_up` (the server dropped connections) or the first answer that
    says Plex cannot serve now (429, 502-504, a timeout; worker.classify
    server_unavailable): scenes not yet started are left to the queue. A failure of
    one scene alone (a 500, a screenshot Stash cannot serve) stops nothing.
    """

    def __init__(self, retry: QuickRetry):
        self._retry = retry
        self._trouble: Optional[BaseException] = None
        self._lock = threading.Lock()

    def cause(self) -> Optional[BaseException]:
        with self._lock:
            return self._retry.gave_up or self._trouble

    def note(self, exc: BaseException) -> None:
        if server_unavailable(exc):
            with self._lock:
                if self._trouble is None:
                    self._trouble = exc


def _down(cause: BaseException) -> TransientError:
    err = TransientError(f"Plex failed earlier in this batch ({type(cause).__name__}); will retry")
    err.__cause__ = cause
    return err
