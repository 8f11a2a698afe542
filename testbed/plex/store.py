"""The emulated server's state and every change to it, behind one lock.

HTTP handlers and the test-facing API both go through this class, so what a test
reads back is exactly what a client wrote. Listing results are cached per query
until anything changes (a generation counter), which keeps paging through 50,000
items cheap.
"""
from __future__ import annotations

import gc
import threading
import time
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from testbed.plex import edits as edit_rules
from testbed.plex.collections import Collections
from testbed.plex.history import OWNER_ID, History
from testbed.plex.model import (AGENT_FIELDS, AGENT_TAGS, Image, Item, Section, Tag,
                                TagIds, title_from_file)
from testbed.plex.query import Query

# add_movie(**fields) keyword for each tag list.
PLURALS = {"genres": "genre", "countries": "country", "directors": "director",
           "writers": "writer", "actors": "actor", "roles": "actor",
           "producers": "producer", "collections": "collection", "labels": "label"}


class NotFoundError(KeyError):
    """Unknown section or item (answered with 404)."""


class Store:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.sections: Dict[int, Section] = {}
        self.items: Dict[int, Item] = {}
        self.by_file: Dict[str, int] = {}
        self.staged: Dict[int, Dict[str, Dict[str, Any]]] = {}
        self.tag_ids = TagIds()
        self.generation = 0
        self.scan_delay = 0.0  # seconds between a scan request and its imports
        self._pending: List[Tuple[float, int, Optional[str]]] = []
        self._next_key = 1
        self._next_media = 1
        self._listing_cache: Dict[Tuple, List[Item]] = {}
        self.collection_objects = Collections()
        self.history = History()

    # -- ids and bookkeeping ------------------------------------------------------

    def now(self) -> int:
        return int(self.clock())

    def _new_id(self) -> int:
        value = self._next_key
        self._next_key += 1
        return value

    def _changed(self) -> None:
        self.generation += 1
        self._listing_cache.clear()

    def section(self, section_id: Any) -> Section:
        try:
            return self.sections[int(section_id)]
        except (KeyError, ValueError, TypeError):
            raise NotFoundError("no library section %r" % (section_id,)) from None

    def item(self, rating_key: Any) -> Item:
        """A movie, or a collection object (testbed/plex/collections.py) by its key."""
        try:
            return self.items[int(rating_key)]
        except (KeyError, ValueError, TypeError):
            pass
        try:
            found = self.collection_objects.find(int(rating_key), self.collections)
        except (ValueError, TypeError):
            found = None
        if found is None:
            raise NotFoundError("no item %r" % (rating_key,))
        return found

    def collection(self, section_id: Any, title: str) -> Optional[Item]:
        """The section's collection of that title while an item carries it, else None."""
        with self.lock:
            sid = self.section(section_id).id
            if not any(n.lower() == title.lower() for n in self.collections(sid)):
                return None
            return self.collection_objects.get(sid, title, self.now())

    # -- sections and items -------------------------------------------------------

    def add_section(self, title: str, type: str, locations: List[str], agent: str,
                    scanner: Optional[str] = None, language: str = "xn") -> int:
        with self.lock:
            sid = len(self.sections) + 1
            now = self.now()
            loc_ids = []
            for _ in locations:
                loc_ids.append(self._next_media)
                self._next_media += 1
            self.sections[sid] = Section(
                id=sid, title=title, type=type, locations=list(locations), agent=agent,
                scanner=scanner or ("Plex Movie" if type == "movie" else "Plex Scanner"),
                language=language, uuid=str(uuid.uuid4()), created_at=now, updated_at=now,
                location_ids=loc_ids)
            self.staged[sid] = {}
            self._changed()
            return sid

    def add_movie(self, section_id: Any, file_path: str, title: Optional[str] = None,
                  when: Optional[int] = None, parts: Iterable[str] = (),
                  media: Optional[List[int]] = None, claim_again: bool = False,
                  **fields: Any) -> int:
        with self.lock:
            rk = self._insert(self.section(section_id), file_path, title, when, fields,
                              parts=list(parts), media=media, claim_again=claim_again)
            self._changed()
            return rk

    def delete_item(self, rating_key: Any, keep_files: bool = True) -> List[str]:
        """Remove an item, as emptying Plex's trash does after its files moved away.

        With keep_files the files are still on disk: the next scan covering them adds
        them again as a NEW item with a new ratingKey, as a real server does.
        """
        with self.lock:
            item = self.item(rating_key)
            del self.items[item.rating_key]
            for path in item.files:
                if self.by_file.get(path) == item.rating_key:
                    del self.by_file[path]
                    others = [i.rating_key for i in self.items.values() if path in i.files]
                    if others:
                        self.by_file[path] = others[-1]
            if keep_files:
                for path in item.files:
                    if path not in self.by_file:
                        self.staged[item.section_id][path] = {}
            self._changed()
            return list(item.files)

    def rename_section(self, section_id: Any, title: str) -> None:
        with self.lock:
            section = self.section(section_id)
            section.title = title
            section.updated_at = self.now()
            self._changed()

    def add_many(self, section_id: Any, rows: Iterable[Tuple[str, Dict[str, Any]]]) -> List[int]:
        """Bulk insert (seeding); one cache invalidation for all rows."""
        # Hundreds of thousands of small objects make the cyclic GC run over and
        # over; pausing it more than halves the time to seed 50,000 movies.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            with self.lock:
                section = self.section(section_id)
                when = self.now()
                keys = [self._insert(section, path, None, when, dict(fields))
                        for path, fields in rows]
                self._changed()
                return keys
        finally:
            if was_enabled:
                gc.enable()

    def _insert(self, section: Section, path: str, title: Optional[str],
                when: Optional[int], fields: Dict[str, Any], parts: Optional[List[str]] = None,
                media: Optional[List[int]] = None, claim_again: bool = False) -> int:
        files = [path] + list(parts or [])
        taken = [f for f in files if f in self.by_file]
        if taken and not claim_again:
            # claim_again: a second item holding the same file, which a real server shows
            # after an interrupted scan or a split/merge gone wrong.
            raise ValueError("file already in the library: %s" % taken[0])
        if media is not None and (sum(media) != len(files) or min(media) < 1):
            raise ValueError("media sizes must add up to the number of files")
        when = self.now() if when is None else int(when)
        fields = dict(fields)
        if title is None:
            title = fields.pop("title", None)
        tags: Dict[str, List[Tag]] = {}
        for plural in [p for p in fields if p in PLURALS]:
            tags[PLURALS[plural]] = [_as_tag(v) for v in fields.pop(plural) or []]
        user_rating = fields.pop("userRating", None)
        locked = set(fields.pop("locked", ()) or ())
        added_at = int(fields.pop("addedAt", when))
        rk = self._new_id()
        item = Item(rating_key=rk, section_id=section.id, files=files,
                    part_ids=[self._next_media + 1 + n for n in range(len(files))],
                    media_id=self._next_media,
                    fields={}, tags=tags, added_at=added_at, updated_at=when,
                    locked=locked, media_sizes=list(media) if media else None,
                    user_rating=None if user_rating is None else float(user_rating))
        self._next_media += 1 + len(files) + len(media or ())
        item.fields["title"] = title or title_from_file(path)
        for name, value in fields.items():
            item.fields[name] = value
        date = item.fields.get("originallyAvailableAt")
        if date and not item.fields.get("year"):
            item.fields["year"] = int(str(date)[:4])
        self.items[rk] = item
        for name in files:
            self.by_file[name] = rk
        return rk

    def find_by_file(self, path: str) -> Optional[int]:
        with self.lock:
            return self.by_file.get(path)

    def set_agent_metadata(self, section_id: Any, **fields: Any) -> None:
        with self.lock:
            self.section(section_id).agent_metadata = dict(fields)

    # -- scanning -----------------------------------------------------------------

    def stage_file(self, section_id: Any, file_path: str, **fields: Any) -> None:
        with self.lock:
            self.staged[self.section(section_id).id][file_path] = fields

    def request_scan(self, section_id: Optional[Any], folder: Optional[str]) -> None:
        """What GET /library/sections/{id}/refresh does (now, or after scan_delay)."""
        with self.lock:
            targets = [self.section(section_id).id] if section_id is not None \
                else list(self.sections)
            due = self.clock() + self.scan_delay
            for sid in targets:
                self._pending.append((due, sid, folder))
            self.run_due_scans()

    def run_due_scans(self) -> int:
        with self.lock:
            now = self.clock()
            due = [p for p in self._pending if p[0] <= now]
            if not due:
                return 0
            self._pending = [p for p in self._pending if p[0] > now]
            imported = 0
            for _, sid, folder in due:
                imported += self._scan(sid, folder)
            return imported

    def _scan(self, section_id: int, folder: Optional[str]) -> int:
        staged = self.staged.get(section_id, {})
        picked = [p for p in staged if folder is None or _under(p, folder)]
        for path in picked:
            fields = staged.pop(path)
            if path not in self.by_file:
                self._insert(self.sections[section_id], path, None, None, fields)
        section = self.sections[section_id]
        section.updated_at = self.now()
        if picked:
            self._changed()
        return len(picked)

    # -- edits ----------------------------------------------------------------------

    def edit(self, section_id: Optional[Any], ids: List[str],
             pairs: List[Tuple[str, str]]) -> List[int]:
        """Apply one edit request to each listed item; all-or-nothing validation."""
        with self.lock:
            items = [self.item(i) for i in ids]
            if section_id is not None:
                sid = self.section(section_id).id
                for it in items:
                    if it.section_id != sid:
                        raise NotFoundError("item %s is not in section %s" % (it.rating_key, sid))
            parsed = edit_rules.parse_edit(pairs)
            now = self.now()
            for it in items:
                edit_rules.apply_edit(it, parsed, now)
            self._changed()
            return [it.rating_key for it in items]

    def rate(self, rating_key: Any, rating: float) -> None:
        with self.lock:
            item = self.item(rating_key)
            item.user_rating = None if rating < 0 else float(rating)
            item.last_rated_at = self.now()
            item.version += 1
            self._changed()

    def add_play(self, rating_key: Any, viewed_at: Optional[int] = None,
                 account_id: int = OWNER_ID, device_id: int = 1) -> int:
        """A finished play (scrobble): one history entry; the owner's viewOffset ends."""
        with self.lock:
            item = self.item(rating_key)
            when = self.now() if viewed_at is None else int(viewed_at)
            history_id = self.history.add(item.rating_key, item.section_id, item.title(), when,
                                          account_id, device_id)
            if account_id == OWNER_ID:
                item.view_offset = None
                item.last_viewed_at = max(item.last_viewed_at or 0, when)
                item.version += 1
                self._changed()
            return history_id

    def set_view_offset(self, rating_key: Any, offset_ms: Optional[int]) -> None:
        """Playback progress (/:/timeline, /:/progress): the owner's in-progress point."""
        with self.lock:
            item = self.item(rating_key)
            item.view_offset = int(offset_ms) if offset_ms else None
            item.last_viewed_at = self.now()
            item.version += 1
            self._changed()

    def agent_refresh(self, rating_key: Any) -> None:
        """Re-run the section's agent: every unlocked field and tag list is replaced."""
        with self.lock:
            item = self.item(rating_key)
            agent = self.sections[item.section_id].agent_metadata
            fresh = {name: agent.get(name) for name in AGENT_FIELDS}
            fresh["title"] = agent.get("title") or title_from_file(item.files[0])
            if fresh.get("originallyAvailableAt") and not fresh.get("year"):
                fresh["year"] = int(str(fresh["originallyAvailableAt"])[:4])
            for name in AGENT_FIELDS:
                # The year follows the release date, so either lock keeps it.
                locks = {name, "originallyAvailableAt"} if name == "year" else {name}
                if not locks & item.locked:
                    item.fields[name] = fresh[name]
            for kind in AGENT_TAGS:
                if kind not in item.locked:
                    plural = next(p for p, k in PLURALS.items() if k == kind)
                    item.tags[kind] = [_as_tag(v) for v in agent.get(plural, [])]
            if "thumb" not in item.locked:
                item.thumb = _agent_choice(item.posters)
            if "art" not in item.locked:
                item.art = _agent_choice(item.arts)
            edit_rules.touch(item, self.now())
            self._changed()

    def refresh_section(self, section_id: Any) -> None:
        with self.lock:
            sid = self.section(section_id).id
            for rk in [rk for rk, it in self.items.items() if it.section_id == sid]:
                self.agent_refresh(rk)

    # -- images ---------------------------------------------------------------------

    def add_image(self, rating_key: Any, kind: str, image: Image) -> None:
        """What an upload does: add to the poster/art list, select it and lock the field.

        A real PMS names an uploaded image by the sha1 of its bytes, so uploading the
        same bytes again selects the image already there instead of adding a copy; and
        it locks `thumb` (`art`) so an agent refresh keeps the upload (plexapi's own
        server tests check the lock after uploadPoster).
        """
        with self.lock:
            item = self.item(rating_key)
            images = item.posters if kind == "posters" else item.arts
            if not any(i.rating_key == image.rating_key for i in images):
                images.append(image)
            if kind == "posters":
                item.thumb = image.rating_key
                item.locked.add("thumb")
            else:
                item.art = image.rating_key
                item.locked.add("art")
            edit_rules.touch(item, self.now())
            self._changed()

    def select_image(self, rating_key: Any, kind: str, name: str) -> None:
        with self.lock:
            item = self.item(rating_key)
            images = item.posters if kind == "posters" else item.arts
            if not any(i.rating_key == name for i in images):
                raise NotFoundError("no %s %r on item %s" % (kind, name, rating_key))
            if kind == "posters":
                item.thumb = name
                item.locked.add("thumb")
            else:
                item.art = name
                item.locked.add("art")
            edit_rules.touch(item, self.now())
            self._changed()

    def clear_image(self, rating_key: Any, kind: str) -> None:
        with self.lock:
            item = self.item(rating_key)
            if kind == "posters":
                item.thumb = None
            else:
                item.art = None
            edit_rules.touch(item, self.now())
            self._changed()

    # -- reading --------------------------------------------------------------------

    def listing(self, section_id: Any, query: Query) -> List[Item]:
        """Items of a section matching `query`, ordered; cached until the next change."""
        with self.lock:
            sid = self.section(section_id).id
            key = (sid, query.cache_key)
            found = self._listing_cache.get(key)
            if found is None:
                if query.type not in (None, 1):
                    found = []
                else:
                    found = query.order([it for it in self.items.values()
                                         if it.section_id == sid and query.matches(it)])
                    if query.limit is not None:
                        found = found[:max(0, query.limit)]
                if len(self._listing_cache) > 64:
                    self._listing_cache.clear()
                self._listing_cache[key] = found
            return found

    def collections(self, section_id: Any) -> Dict[str, int]:
        """Collection name -> number of items carrying that collection tag."""
        with self.lock:
            sid = self.section(section_id).id
            counts: Dict[str, int] = {}
            for it in self.items.values():
                if it.section_id == sid:
                    for t in it.tags.get("collection", []):
                        counts[t.name] = counts.get(t.name, 0) + 1
            return counts

    def tag_choices(self, section_id: Any, kind: str) -> List[str]:
        with self.lock:
            sid = self.section(section_id).id
            names: Dict[str, str] = {}
            for it in self.items.values():
                if it.section_id == sid:
                    for t in it.tags.get(kind, []):
                        names.setdefault(t.name.lower(), t.name)
            return sorted(names.values(), key=str.lower)


def _as_tag(value: Any) -> Tag:
    if type(value) is str:  # the common case, checked first: seeding makes 300k tags
        return Tag(value)
    if isinstance(value, Tag):
        return Tag(value.name, value.role)
    if isinstance(value, dict):
        return Tag(str(value.get("tag") or value.get("name")), value.get("role"))
    if isinstance(value, (tuple, list)):
        return Tag(str(value[0]), value[1] if len(value) > 1 else None)
    return Tag(str(value))


def _agent_choice(images: List[Image]) -> Optional[str]:
    """The image an agent picks: its own (non-upload) first one, else none."""
    own = [i for i in images if i.provider == "local"]
    return own[0].rating_key if own else None


def _under(path: str, folder: str) -> bool:
    norm_path = path.replace("\\", "/")
    norm_folder = folder.replace("\\", "/").rstrip("/")
    return norm_path == norm_folder or norm_path.startswith(norm_folder + "/")
