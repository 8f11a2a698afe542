"""The emulated Stash database: scenes, files, studios, performers, tags, groups.

Records are plain dicts held under one lock. Updates replace nested lists instead of
mutating them, so a shallow copy handed to the GraphQL layer stays a consistent
snapshot while another request writes. Timestamps have one-second precision, like
the RFC 3339 text Stash stores, so two saves within a second share an updated_at.
"""
from __future__ import annotations

import posixpath
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional

from testbed.stash import jpeg

Clock = Callable[[], datetime]
SCENE_FIELDS = ("title", "code", "details", "director", "urls", "date", "rating100",
                "organized", "o_counter", "play_count", "resume_time", "play_duration",
                "studio_id", "performer_ids", "tag_ids", "groups", "stash_ids")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(ts: Optional[datetime]) -> Optional[str]:
    """Format like Go's time.RFC3339: seconds only, "Z" for a zero offset."""
    if ts is None:
        return None
    text = ts.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _seconds(ts: datetime) -> datetime:
    return ts.replace(microsecond=0)


class NotFound(LookupError):
    """A referenced object does not exist (Stash answers with a GraphQL error)."""


class Store:
    """In-memory Stash data with the few behaviours plugins can observe."""

    def __init__(self, clock: Optional[Clock] = None) -> None:
        self.clock: Clock = clock or utc_now
        self.lock = threading.RLock()
        self.scenes: Dict[int, Dict[str, Any]] = {}
        self.studios: Dict[int, Dict[str, Any]] = {}
        self.performers: Dict[int, Dict[str, Any]] = {}
        self.tags: Dict[int, Dict[str, Any]] = {}
        self.groups: Dict[int, Dict[str, Any]] = {}
        self.folders: Dict[str, Dict[str, Any]] = {}
        self.folders_by_id: Dict[int, Dict[str, Any]] = {}
        self.images: Dict[str, bytes] = {}  # "scene/12" -> explicit bytes
        self.plugin_settings: Dict[str, Dict[str, Any]] = {}
        self._next = {"scene": 1, "studio": 1, "performer": 1, "tag": 1, "group": 1,
                      "file": 1, "folder": 1}

    def now(self) -> datetime:
        return _seconds(self.clock())

    def _id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    # -- simple objects ----------------------------------------------------------

    def _base(self, kind: str, created_at: Optional[datetime]) -> Dict[str, Any]:
        ts = _seconds(created_at) if created_at else self.now()
        return {"id": self._id(kind), "created_at": ts, "updated_at": ts, "image_version": 0}

    def add_studio(self, name: str, parent_id: Optional[int] = None, image: bool = True,
                   created_at: Optional[datetime] = None, **extra: Any) -> int:
        with self.lock:
            if parent_id is not None and parent_id not in self.studios:
                raise NotFound("studio %s" % parent_id)
            rec = self._base("studio", created_at)
            rec.update(name=name, parent_id=parent_id, has_image=image, details="",
                       aliases=[], url="", rating100=None, favorite=False, tag_ids=[],
                       stash_ids=[])
            rec.update(extra)
            self.studios[rec["id"]] = rec
            return rec["id"]

    def add_performer(self, name: str, image: bool = True,
                      created_at: Optional[datetime] = None, **extra: Any) -> int:
        with self.lock:
            rec = self._base("performer", created_at)
            rec.update(name=name, has_image=image, disambiguation="", gender=None,
                       birthdate=None, alias_list=[], urls=[], favorite=False, details="",
                       rating100=None, tag_ids=[], stash_ids=[])
            rec.update(extra)
            self.performers[rec["id"]] = rec
            return rec["id"]

    def add_tag(self, name: str, parent_ids: Iterable[int] = (), image: bool = False,
                created_at: Optional[datetime] = None, **extra: Any) -> int:
        with self.lock:
            rec = self._base("tag", created_at)
            rec.update(name=name, parent_ids=list(parent_ids), has_image=image,
                       description="", aliases=[], favorite=False, ignore_auto_tag=False)
            rec.update(extra)
            self.tags[rec["id"]] = rec
            return rec["id"]

    def add_group(self, name: str, studio_id: Optional[int] = None, image: bool = True,
                  back_image: bool = False, created_at: Optional[datetime] = None,
                  **extra: Any) -> int:
        with self.lock:
            rec = self._base("group", created_at)
            rec.update(name=name, studio_id=studio_id, has_image=image,
                       has_back_image=back_image, aliases="", duration=None, date=None,
                       rating100=None, director="", synopsis="", urls=[], tag_ids=[])
            rec.update(extra)
            self.groups[rec["id"]] = rec
            return rec["id"]

    # -- files and folders -------------------------------------------------------

    def _folder(self, path: str, ts: datetime) -> Dict[str, Any]:
        folder = self.folders.get(path)
        if folder is None:
            parent = posixpath.dirname(path)
            parent_id = None
            if parent and parent != path:
                parent_id = self._folder(parent, ts)["id"]
            folder = {"id": self._id("folder"), "path": path, "parent_folder_id": parent_id,
                      "mod_time": ts, "created_at": ts, "updated_at": ts}
            self.folders[path] = folder
            self.folders_by_id[folder["id"]] = folder
        return folder

    def make_file(self, path: str, ts: datetime, **info: Any) -> Dict[str, Any]:
        """A VideoFile record; its folder chain is created on demand."""
        norm = path.replace("\\", "/")
        folder = self._folder(posixpath.dirname(norm) or "/", ts)
        file_id = self._id("file")
        rec = {"id": file_id, "path": path, "basename": posixpath.basename(norm),
               "parent_folder_id": folder["id"], "mod_time": ts, "created_at": ts,
               "updated_at": ts, "size": 734003200, "duration": 1800.0, "width": 1920,
               "height": 1080, "format": "mp4", "video_codec": "h264",
               "audio_codec": "aac", "frame_rate": 29.97, "bit_rate": 3262236,
               "fingerprints": [{"type": "oshash", "value": "%016x" % (file_id * 2654435761)}]}
        rec.update(info)
        return rec

    # -- scenes ------------------------------------------------------------------

    def add_scene(self, files: Iterable[str] = (), created_at: Optional[datetime] = None,
                  updated_at: Optional[datetime] = None, file_info: Optional[dict] = None,
                  **fields: Any) -> int:
        with self.lock:
            created = _seconds(created_at) if created_at else self.now()
            rec: Dict[str, Any] = {
                "id": self._id("scene"), "title": "", "code": "", "details": "",
                "director": "", "urls": [], "date": None, "rating100": None,
                "organized": False, "o_counter": 0, "play_count": 0, "resume_time": 0.0,
                "play_duration": 0.0, "last_played_at": None, "studio_id": None,
                "performer_ids": [], "tag_ids": [], "groups": [], "stash_ids": [],
                "interactive": False, "interactive_speed": None,
                "created_at": created, "image_version": 0}
            rec["updated_at"] = _seconds(updated_at) if updated_at else created
            rec["files"] = [self.make_file(p, created, **(file_info or {})) for p in files]
            self._apply(rec, fields)
            self.scenes[rec["id"]] = rec
            return rec["id"]

    def _apply(self, rec: Dict[str, Any], fields: Dict[str, Any]) -> None:
        for key, value in fields.items():
            if key not in SCENE_FIELDS:
                raise KeyError("unknown scene field %r" % key)
            if key == "studio_id" and value is not None:
                value = int(value)
                if value not in self.studios:
                    raise NotFound("studio %s" % value)
            elif key in ("performer_ids", "tag_ids"):
                table = self.performers if key == "performer_ids" else self.tags
                value = _unique(int(v) for v in (value or []))
                missing = [v for v in value if v not in table]
                if missing:
                    raise NotFound("%s %s" % (key[:-4], missing[0]))
            elif key == "groups":
                value = [(int(g), idx) for g, idx in (value or [])]
                if any(g not in self.groups for g, _ in value):
                    raise NotFound("group")
            elif key in ("urls", "stash_ids"):
                value = list(value or [])
            elif key in ("title", "code", "details", "director"):
                value = value or ""
            rec[key] = value

    def update_scene(self, scene_id: int, **fields: Any) -> Dict[str, Any]:
        """Change fields and bump updated_at, as any save in Stash does."""
        with self.lock:
            rec = self.scenes.get(int(scene_id))
            if rec is None:
                raise NotFound("scene %s" % scene_id)
            new = dict(rec)
            self._apply(new, fields)
            new["updated_at"] = self.now()
            self.scenes[rec["id"]] = new
            return dict(new)

    def delete_scene(self, scene_id: int) -> bool:
        with self.lock:
            self.images.pop("scene/%d" % int(scene_id), None)
            return self.scenes.pop(int(scene_id), None) is not None

    def scene(self, scene_id: Any) -> Optional[Dict[str, Any]]:
        with self.lock:
            try:
                rec = self.scenes.get(int(scene_id))
            except (TypeError, ValueError):
                return None
            return dict(rec) if rec else None

    def all_scenes(self) -> List[Dict[str, Any]]:
        with self.lock:
            return [dict(rec) for rec in self.scenes.values()]

    # -- images ------------------------------------------------------------------

    def set_image(self, kind: str, obj_id: int, data: Optional[bytes],
                  bump: bool = True, back: bool = False) -> None:
        """Store explicit image bytes (None: a freshly generated image instead)."""
        table = self.table(kind)
        with self.lock:
            rec = table.get(int(obj_id))
            if rec is None:
                raise NotFound("%s %s" % (kind, obj_id))
            key = "%s/%d%s" % (kind, int(obj_id), "/back" if back else "")
            if data is None:
                self.images.pop(key, None)
            else:
                self.images[key] = bytes(data)
            flag = "has_back_image" if back else "has_image"
            new = dict(rec, image_version=rec["image_version"] + 1)
            new[flag] = True
            if bump:
                new["updated_at"] = self.now()
            table[new["id"]] = new

    def image(self, kind: str, obj_id: int, back: bool = False) -> Optional[bytes]:
        """Bytes served for an object's image; generated ones change per version."""
        with self.lock:
            rec = self.table(kind).get(int(obj_id))
            if rec is None or (back and not rec.get("has_back_image")):
                return None
            explicit = self.images.get("%s/%d%s" % (kind, int(obj_id), "/back" if back else ""))
            version = rec["image_version"]
        if explicit is not None:
            return explicit
        label = "stash emulator %s %d%s v%d" % (kind, int(obj_id), " back" if back else "",
                                                version)
        return jpeg.placeholder(label)

    def table(self, kind: str) -> Dict[int, Dict[str, Any]]:
        return {"scene": self.scenes, "studio": self.studios, "performer": self.performers,
                "tag": self.tags, "group": self.groups}[kind]

    # -- plugin settings ---------------------------------------------------------

    def configure_plugin(self, plugin_id: str, values: Dict[str, Any]) -> Dict[str, Any]:
        """Replace the plugin's whole settings map, like configurePlugin."""
        with self.lock:
            self.plugin_settings[plugin_id] = dict(values)
            return dict(values)

    def plugins_config(self, include: Optional[List[str]] = None) -> Dict[str, Any]:
        with self.lock:
            return {k: dict(v) for k, v in self.plugin_settings.items()
                    if include is None or k in include}


def _unique(values: Iterable[int]) -> List[int]:
    seen: Dict[int, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def studio_descendants(store: Store, root: int, depth: int) -> List[int]:
    """root plus children down to depth levels (-1: all), for hierarchical filters."""
    out = [root]
    frontier = [root]
    level = 0
    while frontier and (depth < 0 or level < depth):
        frontier = [s["id"] for s in store.studios.values() if s["parent_id"] in frontier]
        out.extend(frontier)
        level += 1
    return out


def tag_descendants(store: Store, root: int, depth: int) -> List[int]:
    out = [root]
    frontier = [root]
    level = 0
    while frontier and (depth < 0 or level < depth):
        frontier = [t["id"] for t in store.tags.values()
                    if any(p in frontier for p in t["parent_ids"])]
        out.extend(f for f in frontier if f not in out)
        level += 1
    return out


