"""One batch of scenes: read Stash, validate, match in Plex, plan, edit, record.

The request budget is the design: all scenes of a batch are read from Stash in one
request; matching is a lookup in the path index (no request); a scene whose
fingerprint and Plex items are unchanged costs nothing in Plex. The scenes that do
need an edit are matched again against Plex itself before anything is written: one
multi-get fetches every candidate item in full, with its Media/Part files, so keys
Plex no longer has leave the index, and an item that does not hold one of the scene's
files is never written ("look again": the index is refreshed once per batch and the
match retried). Each item then gets one batched PUT, a rating call only when the
rating changed, and uploads only when image bytes changed. The per-item requests of a
batch run a few at a time (EDIT_THREADS): the request count is the same, only the
waiting on Plex overlaps.

A scene reaches every item that holds one of its files (a 1080p and a 480p copy, or
the same folder in two libraries). Only one file held by two different items of the
same library is ambiguous.

Per-scene failures are returned as exception instances (the worker routes each by its
kind); a failure that stops the whole batch (Stash unreachable, Plex refusing the
token at connect, a library that is gone) is raised.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from plexapi.exceptions import NotFound

from plex.apply import Applied, apply_plan
from plex.client import resolve_sections
from plex.index import PathIndex
from plex.items import fetch_full, item_files, read_current
from validation.pathmap import parent_folder, path_key
from mapping.plan import EditPlan, diff
from sync_queue import db
from sync_queue.sync_state import ItemState, SceneState, SyncState
from errors.kinds import AmbiguousMatch, NotFoundYet, PermanentError, SyncError, TransientError
from mapping.scene_fields import PlexMetadata, build_metadata, fingerprint
from validation.privacy import show_path
from worker.classify import server_unavailable
from worker.identity import check_server
from worker.quick_retry import QuickRetry

log = logging.getLogger("stash2plex.sync")

SCAN_META_KEY = "plex_folder_scans"  # folder key -> when we last asked Plex to scan it
SCAN_MEMORY_SECONDS = 86400.0
# Scenes of one batch whose requests are in flight at once. Each scene's requests wait
# on Plex in turn; a few in parallel hide that wait without hammering the server.
EDIT_THREADS = 4
# Libraries are looked up by name in Plex again after this long (one request), so a
# library renamed in Plex stops receiving edits under its old name within a minute.
SECTIONS_TTL = 60.0


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
    plex_keys: List[str] = field(default_factory=list)  # every item the scene reached

    @property
    def changed(self) -> bool:
        """False when Plex already held everything (what the worker's tally reads)."""
        return self.status != "unchanged"


Outcome = Union[SyncResult, Exception]
Match = Tuple[str, str]  # (section id, rating key)


@dataclass
class _Scene:
    scene_id: int
    meta: PlexMetadata
    paths: List[str]  # mapped to Plex
    fp: str = ""
    candidates: List[Match] = field(default_factory=list)  # from the index
    targets: List[Match] = field(default_factory=list)  # checked against Plex
    error: Optional[Exception] = None
    state: Optional[SceneState] = None

    @property
    def keys(self) -> set:
        return {path_key(p) for p in self.paths}


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
        self.mapper = settings.path_map  # parsed (and checked) with the settings
        self.index = PathIndex(conn, clock=clock)
        self.state = SyncState(conn)
        self._server = None
        self._sections = None
        self._sections_at = 0.0
        self._db = threading.Lock()  # edit threads record image hashes as Plex accepts them

    # -- Plex connection, made only when a batch needs it ------------------------
    def server(self):
        if self._server is None:
            server = self.plex_connect()
            check_server(self.conn, server, self.clock)  # another server: its keys are not ours
            self._server = server
        return self._server

    def sections(self) -> list:
        """The configured libraries as Plex names them now (cached for SECTIONS_TTL)."""
        if self._sections is None or self.clock() - self._sections_at >= SECTIONS_TTL:
            self._sections = resolve_sections(self.server(), self.settings)
            self._sections_at = self.clock()
        return self._sections

    def _section_ids(self) -> Optional[set]:
        """Sections to look up unchanged scenes in, from the index (no request).

        Only deciding that nothing needs writing uses this; every write goes through
        `sections()`, which asks Plex.
        """
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
                outcome.fp = fingerprint(outcome.meta, self.settings)
                work.append(outcome)
        if not work:
            return results

        section_ids = self._section_ids()
        to_write: List[_Scene] = []
        for item in work:
            item.candidates = self._lookup(item, section_ids) if section_ids is not None else []
            if self._unchanged(item):
                keys = sorted(item.state.items, key=int)
                first = item.state.items[keys[0]]
                results[item.scene_id] = SyncResult(item.scene_id, "unchanged", first.rating_key,
                                                    first.section_id, plex_keys=keys)
                self._touch(item.state, read_at)
            else:
                to_write.append(item)
        if to_write:
            results.update(self._write_all(to_write, retry, read_at))
        return results

    def _unchanged(self, item: _Scene) -> bool:
        """Same fingerprint on every item the index finds, and no other item: no request."""
        st = item.state
        if not (st and st.items and item.candidates):
            return False
        return ({k for _, k in item.candidates} == set(st.items)
                and all(i.fingerprint == item.fp for i in st.items.values()))

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
    def _lookup(self, item: _Scene, section_ids: set) -> List[Match]:
        found: List[Match] = []
        for plex_path in item.paths:
            for hit in self.index.lookup(plex_path, section_ids):
                if hit not in found:
                    found.append(hit)
        return found

    def _write_all(self, work: List[_Scene], retry: QuickRetry, read_at: float) -> Dict[int, Outcome]:
        """Match the scenes against Plex, then edit every item they reach."""
        server = self.server()
        # Connecting may have found another server and dropped the old one's records.
        states = self.state.get_many([i.scene_id for i in work])
        for item in work:
            item.state = states.get(item.scene_id)
        sections = self.sections()
        section_ids = {str(s.key) for s in sections}
        before = set(self.index.built_sections())
        retry(self.index.ensure_built, server, sections)
        fresh = section_ids - before  # listed in full just now
        try:
            items = self._resolve(work, section_ids, fresh, retry)
        except Exception as exc:  # Plex failing for the whole batch: every scene gets it
            return {i.scene_id: exc for i in work}
        results: Dict[int, Outcome] = {}
        ready = []
        for scene in work:
            error = scene.error or self._match_error(scene, items)
            if error is not None:
                results[scene.scene_id] = error
            else:
                ready.append(scene)
        if ready:
            results.update(self._edit_all(ready, items, retry, read_at))
        return results

    def _resolve(self, work: List[_Scene], section_ids: set, fresh: set, retry: QuickRetry) -> Dict[int, object]:
        """Candidates from the index, checked with one multi-get; look again once if needed."""
        for scene in work:
            scene.candidates = self._lookup(scene, section_ids)
        items: Dict[int, object] = {}
        refreshed = False
        for _round in range(2):
            wanted = {int(k) for s in work for _, k in s.candidates if int(k) not in items}
            if wanted:
                items.update(retry(fetch_full, self.server(), sorted(wanted)))
                self._correct_index(wanted, items)
            for scene in work:
                self._check(scene, items)
            lost = [s for s in work if not s.targets]
            if not lost or refreshed:
                break
            refreshed = True
            stale = [s for s in self.sections() if str(s.key) not in fresh]
            if not stale:
                break
            try:  # once per batch: Plex may have scanned (or re-added) the file since
                retry(self.index.refresh, self.server(), stale,
                      full_every=self.settings.index_full_refresh_hours * 3600.0)
            except Exception as exc:  # only the scenes that missed depend on it
                for scene in lost:
                    scene.error = exc
                break
            for scene in lost:
                scene.candidates = self._lookup(scene, section_ids)
        return items

    def _correct_index(self, asked: set, items: Dict[int, object]) -> None:
        """Keys the multi-get did not return are gone; a returned item is indexed by the
        files it holds now (an indexed key may hold other files than the index says)."""
        gone = [str(k) for k in asked if k not in items]
        if gone:
            self.index.forget(gone)
            self.state.forget_keys(gone)
            log.info("Plex no longer has item(s) %s; dropped from the path index", ", ".join(gone))
        for key in asked:
            item = items.get(key)
            if item is not None:
                self.index.replace_item(str(item.librarySectionID), str(key), item_files(item),
                                        int(item.updatedAt.timestamp()) if item.updatedAt else 0)

    def _check(self, scene: _Scene, items: Dict[int, object]) -> None:
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

    def _match_error(self, scene: _Scene, items: Dict[int, object]) -> Optional[Exception]:
        if scene.targets:
            return self._ambiguity(scene, items)
        self._maybe_scan(scene.paths)
        shown = ", ".join(show_path(p) for p in scene.paths)
        return NotFoundYet(f"scene {scene.scene_id}: {shown} is not in Plex yet (after a library refresh)")

    def _ambiguity(self, scene: _Scene, items: Dict[int, object]) -> Optional[Exception]:
        """One file held by two items of one library; otherwise None, and the targets set."""
        chosen: List[Match] = []
        for plex_path in scene.paths:
            by_section: Dict[str, List[str]] = {}
            for sid, key in scene.targets:
                if any(path_key(f) == path_key(plex_path) for f in item_files(items[int(key)])):
                    by_section.setdefault(sid, []).append(key)
            for sid, keys in sorted(by_section.items()):
                keys = sorted(set(keys), key=int)
                if len(keys) > 1 and not self.settings.allow_ambiguous_match:
                    names = [f'section {sid} item {k} "{items[int(k)].title}"' for k in keys]
                    library = items[int(keys[0])].librarySectionTitle or sid
                    return AmbiguousMatch(show_path(plex_path), names, hint=(
                        f'{len(keys)} items of library "{library}" hold this one file: remove the '
                        f"duplicate in Plex, or turn on allow_ambiguous_match to sync the item with "
                        f"the lowest ratingKey"))
                if (sid, keys[0]) not in chosen:
                    chosen.append((sid, keys[0]))  # lowest ratingKey when guessing is allowed
        scene.targets = chosen
        return None

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
    def _edit_all(self, scenes: List[_Scene], items: Dict[int, object], retry: QuickRetry,
                  read_at: float) -> Dict[int, Outcome]:
        """Send each item's uploads, edit and rating, a few items at a time.

        An item's requests are sequential and mostly wait on Plex, so up to
        `edit_threads` items are in flight at once. Work on one Plex item goes in one
        lane, in batch order, so two edits of one item never overlap. SQLite is used
        under `self._db`: edit threads record image hashes the moment Plex accepts them.
        """
        lanes: Dict[str, List[Tuple[_Scene, Match]]] = {}
        for scene in scenes:
            for target in scene.targets:
                lanes.setdefault(target[1], []).append((scene, target))
        stop = _Stop(retry)

        def run_lane(lane: List[Tuple[_Scene, Match]]) -> List[Tuple[_Scene, Match, object]]:
            return [(scene, target, self._send_one(scene, target, items[int(target[1])], retry, stop))
                    for scene, target in lane]

        sent: Dict[int, List[Tuple[Match, object]]] = {s.scene_id: [] for s in scenes}
        for lane in self._run_lanes(run_lane, list(lanes.values())):
            for scene, target, outcome in lane:
                if not isinstance(outcome, Exception):
                    try:
                        with self._db:
                            self._record_item(scene, target, outcome)
                    except Exception as exc:  # routed per scene by the worker
                        stop.note(exc)
                        outcome = exc
                sent[scene.scene_id].append((target, outcome))
        results: Dict[int, Outcome] = {}
        for scene in scenes:
            done = sent[scene.scene_id]
            failed = [o for _, o in done if isinstance(o, Exception)]
            if failed:
                results[scene.scene_id] = failed[0]
                continue
            try:
                with self._db:
                    results[scene.scene_id] = self._record(scene, done, read_at)
            except Exception as exc:  # routed per scene by the worker
                results[scene.scene_id] = exc
        return results

    def _run_lanes(self, fn: Callable, lanes: list) -> Iterable:
        """fn over each lane, in order: on a small pool, or inline for a single lane."""
        if self.edit_threads <= 1 or len(lanes) <= 1:
            yield from map(fn, lanes)  # lazily, so each item is recorded before the next is sent
            return
        with ThreadPoolExecutor(max_workers=min(self.edit_threads, len(lanes)),
                                thread_name_prefix="stash2plex-edit") as pool:
            yield from pool.map(fn, lanes)

    def _send_one(self, scene: _Scene, target: Match, item, retry: QuickRetry,
                  stop: "_Stop") -> Union["_Sent", Exception]:
        """One item's requests (runs on an edit thread)."""
        cause = stop.cause()
        if cause is not None:
            # Every further request would meet the same 503, 429 or timeout, and the
            # breaker only sees the batch's results: leave the rest to the queue.
            return _down(cause)
        try:
            return self._send(scene, target, item, retry)
        except NotFound:
            # Deleted (or re-added under a new key) since the multi-get: look again on
            # the next attempt, with the key gone from the index; never a dead letter.
            with self._db:
                self.index.forget([target[1]])
                self.state.forget_keys([target[1]])
            return NotFoundYet(f"scene {scene.scene_id}: Plex item {target[1]} for "
                               f"{show_path(scene.paths[0])} went away while syncing; looking again")
        except Exception as exc:  # routed per scene by the worker
            stop.note(exc)
            return exc

    def _send(self, scene: _Scene, target: Match, item, retry: QuickRetry) -> "_Sent":
        st = scene.state.items.get(target[1]) if scene.state else None
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

        def uploaded(kind: str, digest: str) -> None:
            # Plex accepted these bytes: recorded now, so a failed edit after it (or a
            # retry of the whole scene) never uploads them again.
            with self._db:
                self.state.record_image(scene.scene_id, target[1], target[0], kind, digest)

        done = apply_plan(
            item, plan,
            poster=image if plan.upload_poster else None,
            background=image if plan.upload_background else None,
            poster_hash=st.poster_hash if st else None,
            art_hash=st.art_hash if st else None,
            call=retry, on_uploaded=uploaded,
        )
        return _Sent(plan, done)

    def _record_item(self, scene: _Scene, target: Match, sent: "_Sent") -> None:
        """Remember what this Plex item now holds for the scene."""
        plan, done = sent.plan, sent.done
        old = scene.state.items.get(target[1]) if scene.state else None
        written = dict(plan.written)
        if done.poster_hash:
            written["poster"] = scene.meta.poster_url
        if done.art_hash:
            written["background"] = scene.meta.background_url
        self.state.record_item(ItemState(
            scene_id=scene.scene_id, rating_key=target[1], section_id=target[0], fingerprint=scene.fp,
            written=written,
            poster_hash=done.poster_hash or (old.poster_hash if old else None),
            art_hash=done.art_hash or (old.art_hash if old else None),
            synced_at=self.clock(),
        ))
        if plan.kept:
            log.info("scene %s: kept Plex edits of %s on item %s", scene.scene_id, ", ".join(plan.kept), target[1])

    def _record(self, scene: _Scene, done: List[Tuple[Match, "_Sent"]], read_at: float) -> SyncResult:
        """Every item of the scene synced: the scene's own row, and no other items."""
        keys = [t[1] for t, _ in done]
        first = done[0][0]
        self.state.drop_items(scene.scene_id, keep=keys)
        recorded = self.state.get(scene.scene_id)
        primary = recorded.items.get(first[1]) if recorded else None
        self.state.record(SceneState(
            scene_id=scene.scene_id,
            fingerprint=scene.fp,
            plex_key=first[1],
            section_id=first[0],
            # The first item's record, as a single-item view for older readers.
            written=dict(primary.written) if primary else {},
            poster_hash=primary.poster_hash if primary else None,
            art_hash=primary.art_hash if primary else None,
            image_source=scene.meta.poster_url or scene.meta.background_url,
            read_at=read_at,
            synced_at=self.clock(),
        ))
        sent = [s for _, s in done]
        return SyncResult(
            scene.scene_id, "synced", first[1], first[0],
            edited=any(s.done.edited for s in sent), rated=any(s.done.rated for s in sent),
            uploads=sum(s.done.uploads for s in sent),
            kept=sorted({k for s in sent for k in s.plan.kept}), plex_keys=keys)

    def _touch(self, st: SceneState, read_at: float) -> None:
        """An unchanged scene was read successfully too: remember when."""
        st.read_at = read_at
        st.items = {}  # unchanged: the item rows stay as they are
        self.state.record(st)


@dataclass
class _Sent:
    """What one item's requests did, handed from an edit thread to the recording one."""

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
