"""Collection artwork: one pass per batch over the collections its scenes belong to.

Scenes put their groups' and studio's names on Plex items as collections; this pass
gives each such collection its group's or studio's poster, background and summary
(mapping/collection_art.py says which). It costs, per batch:

- no Stash request to learn what the collections should show: the batch's scene read
  already carries each group's and studio's images and text (stash/client.py);
- nothing at all when every collection already holds what its Stash object shows: the
  image URLs carry Stash's update time (`?t=`), so the same URL means the same bytes
  (a batch of unchanged scenes stays at zero Plex requests, DESIGN promise 2);
- otherwise the collections' Plex objects (a library is listed in full once per
  drainer, a few new titles later looked up by title: plex/collections.py), one fetch
  per changed image, an upload only when the bytes' sha256 differs from the one Plex
  accepted last, and one PUT for the summary and the locks. The changed collections
  are written a few at a time (plex_concurrency, as the batch's lanes, which are done
  by then): a first sync reaches many new collections, each a few requests that mostly
  wait on Plex.

A collection is never a scene's job: a failure here is logged and the pass stops (the
rest waits for the next batch or run, as nothing was recorded for it); it never fails,
retries or dead-letters a scene. Requests go through the batch's QuickRetry (dropped
connections), and the pass is skipped while the batch saw Plex or Stash fail.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, List, Optional, Tuple, TypeVar

from mapping.collection_art import Art, Source
from plex.collections import KnownCollections, set_summary_and_locks, upload_image
from sync_queue.collection_art import ArtState, CollectionArt, Key
from worker.quick_retry import QuickRetry

log = logging.getLogger("stash2plex.sync")

Todo = Tuple[Key, Source, Art, ArtState]
T = TypeVar("T")
R = TypeVar("R")


def _each(fn: Callable[[T], R], jobs: List[T], threads: int) -> List[R]:
    """fn over the jobs, up to `threads` at once (inline for one thread or one job)."""
    if threads <= 1 or len(jobs) <= 1:
        return [fn(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(threads, len(jobs)), thread_name_prefix="stash2plex-art") as pool:
        return list(pool.map(fn, jobs))


class CollectionArtPass:
    """One per SceneSyncer; `run` once per batch."""

    def __init__(self, stash, plex, conn, db_lock: threading.Lock, clock, threads: int = 1):
        self.stash = stash
        self.threads = max(1, int(threads))  # collections written at once (plex_concurrency)
        self.plex = plex  # worker.batch.connection.PlexConnection
        self.store = CollectionArt(conn, clock)
        self.db_lock = db_lock
        self.uploads = 0  # since this syncer started (bench and logs)
        self.known = KnownCollections()

    def run(self, reached: Iterable[Tuple[str, Source]], retry: QuickRetry) -> int:
        """Bring the collections of (section id, source) pairs in step; returns uploads."""
        wanted: Dict[Key, Source] = {(str(sid), src.title): src for sid, src in reached}
        if not wanted:
            return 0
        todo = self._changed(wanted)
        if not todo:
            return 0
        found = self._found(todo, retry)
        failed = threading.Event()  # the first failure stops the pass: no collection starts after it

        def write(job: Tuple[Todo, object]) -> int:
            (key, src, art, state), collection = job
            if failed.is_set():
                return 0
            try:
                return self._write(key, src, art, state, collection, retry)
            except Exception as exc:  # never a scene's failure: the next run tries again
                failed.set()
                self.known.forget(key[0])  # it may be gone from Plex: list the library again next time
                log.warning("collection %r (Stash %s): artwork not updated (%s: %s); "
                            "it is tried again on the next sync", key[1], src.label,
                            type(exc).__name__, exc)
                return 0

        done = sum(_each(write, found, self.threads))
        self.uploads += done
        return done

    def _found(self, todo: List[Todo], retry: QuickRetry) -> List[Tuple[Todo, object]]:
        """Each changed collection with its Plex collection (KnownCollections: no listing per batch)."""
        sections = {str(s.key): s for s in self.plex.sections()}
        by_section: Dict[str, List[Todo]] = {}
        for entry in todo:
            by_section.setdefault(entry[0][0], []).append(entry)
        found = []
        for section_key, entries in by_section.items():
            section = sections.get(section_key)
            if section is None:
                continue  # no longer a synced library
            have = self.known.find(section, [entry[0][1] for entry in entries], retry)
            for entry in entries:
                collection = have.get(entry[0][1].casefold())
                if collection is None:
                    log.debug("collection %r is not in library %s yet; next run", entry[0][1], section.title)
                    continue
                found.append((entry, collection))
        return found

    def _changed(self, wanted: Dict[Key, Source]) -> List[Todo]:
        """The collections whose Stash object shows something other than what was written."""
        with self.db_lock:
            recorded = self.store.get_many(wanted)
        todo: List[Todo] = []
        for key, src in sorted(wanted.items()):
            art, state = src.art, recorded.get(key) or ArtState()
            if (art.poster_url, art.art_url, art.summary) != (
                    art.poster_url and state.poster_url, art.art_url and state.art_url, state.summary):
                todo.append((key, src, art, state))
        return todo

    def _write(self, key: Key, src: Source, art: Art, state: ArtState, collection,
               retry: QuickRetry) -> int:
        """Images first (each recorded once Plex accepted it), then summary and locks."""
        uploads, locks = 0, []
        for kind, url, seen_url, seen_hash, lock in (
                ("poster", art.poster_url, state.poster_url, state.poster_hash, "thumb"),
                ("background", art.art_url, state.art_url, state.art_hash, "art")):
            if url is None or url == seen_url:
                continue
            data: Optional[bytes] = retry(self.stash.fetch_image, url)
            if data is None:
                continue  # Stash has no such image after all
            digest = hashlib.sha256(data).hexdigest()
            if digest != seen_hash:
                retry(upload_image, collection, kind, data, idempotent=False)
                uploads += 1
            locks.append(lock)
            prefix = "poster" if kind == "poster" else "art"
            with self.db_lock:
                self.store.record(key, src.label, **{f"{prefix}_url": url, f"{prefix}_hash": digest})
        retry(set_summary_and_locks, collection, art.summary, locks)
        with self.db_lock:
            self.store.record(key, src.label, summary=art.summary)
        return uploads
