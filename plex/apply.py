"""Carry out an EditPlan on a fully loaded plexapi item.

Every field, tag and lock change goes out in ONE PUT through plexapi's
`batchEdits()`/`saveEdits()`, each with its lock set so an agent refresh cannot
revert it. The rating uses Plex's separate `/:/rate` endpoint and is sent only when
it changed. Images are uploaded as bytes (Plex often cannot reach Stash's URL: Docker
networks, Stash authentication) and only when their content hash differs from the
one stored after the last upload.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from mapping.plan import EditPlan


@dataclass
class Applied:
    """What was actually sent, for the sync state and the logs."""

    edited: bool = False
    rated: bool = False
    poster_hash: Optional[str] = None  # set when the poster now matches these bytes
    art_hash: Optional[str] = None
    uploads: int = 0


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tag_list(tag: str, values: List[str]) -> Dict[str, object]:
    """The whole list in Plex's indexed form, locked.

    Not `editTags(tag, values)`: that prepends the tags the object already holds, which
    re-adds removed values and reorders the cast.
    """
    params: Dict[str, object] = {f"{tag}[{i}].tag.tag": value for i, value in enumerate(values)}
    params[f"{tag}.locked"] = 1
    return params


def apply_edits(item, plan: EditPlan) -> bool:
    """Send the plan's fields, tags and locks as one PUT; False when there was nothing."""
    if not plan.needs_edit:
        return False
    item.batchEdits()
    for name, value in plan.fields.items():
        item.editField(name, value, locked=True)
    for tag, values in plan.tags.items():
        item.edit(**_tag_list(tag, values))
    for tag, values in plan.remove_tags.items():
        item.editTags(tag, values, locked=True, remove=True)
    for name in sorted(plan.lock):
        item.edit(**{f"{name}.locked": 1})
    item.saveEdits()
    return True


def apply_rating(item, plan: EditPlan) -> bool:
    if not plan.set_rating:
        return False
    item.rate(plan.rating)  # None clears (Plex's rating=-1)
    return True


def upload_image(item, kind: str, data: bytes) -> None:
    """One POST of the raw bytes (never `url=`: Plex often cannot reach Stash).

    The bytes go in a file-like object: PlexAPI before 4.17.2 (utils.openOrRead) takes a
    path or a file object only and opens raw bytes as a path ("embedded null byte").
    """
    upload = item.uploadPoster if kind == "poster" else item.uploadArt
    upload(filepath=io.BytesIO(data))


def direct_call(fn: Callable, *args, idempotent: bool = True):
    """Run one request as it is: the default where a caller passes no retry policy."""
    return fn(*args)


def apply_plan(item, plan: EditPlan, poster: Optional[bytes] = None, background: Optional[bytes] = None,
               poster_hash: Optional[str] = None, art_hash: Optional[str] = None,
               call: Callable = direct_call,
               on_uploaded: Optional[Callable[[str, str], None]] = None) -> Applied:
    """Upload images, then send the one batched edit, then the rating.

    Images go first so that the batched edit can lock them afterwards: whatever a
    server does to the lock on upload, the image ends up locked, and a changed
    poster alongside changed fields still costs a single PUT. `call(fn, *args,
    idempotent=…)` runs each request, so the caller can add its retry policy; an
    upload is not idempotent (a repeat adds a second copy to the item's images).
    `on_uploaded(kind, sha256)` runs as soon as Plex accepted an upload, before the
    edit, so the caller can record it even when the edit then fails.
    """
    done = Applied()
    for kind, data, stored, lock in (("poster", poster, poster_hash, "thumb"),
                                     ("background", background, art_hash, "art")):
        if data is None:
            continue
        digest = sha256(data)
        if digest != stored:
            # Each upload adds one more image to the item's list on the server, so
            # identical bytes are never sent twice.
            call(upload_image, item, kind, data, idempotent=False)
            done.uploads += 1
            if on_uploaded is not None:
                on_uploaded(kind, digest)
            plan.lock.add(lock)
        setattr(done, "poster_hash" if kind == "poster" else "art_hash", digest)
    done.edited = call(apply_edits, item, plan)
    done.rated = call(apply_rating, item, plan)
    return done
