"""Which Stash group or studio each of a scene's Plex collections stands for, and its art.

A scene's groups, and its studio unless `skip_studio_collection`, become Plex
collections of the same name (mapping/fields.py `collections`). The collection's
poster, background and summary come from that group or studio:

- group: `front_image_path` → poster, `back_image_path` → background, `synopsis` →
  summary (graphql/schema/types/group.graphql; a group has no `description`);
- studio: `image_path` → poster, `details` → summary (studio.graphql).

Stash answers an image URL of an object without an image with a placeholder, and marks
that URL with `&default=true` (internal/api/urlbuilders/group.go GetGroupFrontImageURL
and studio.go: `if !hasImage { url += "&default=true" }`; routes serve
static.DefaultGroupImage then). A placeholder is never a collection's poster, so such a
URL counts as no image. `back_image_path` is null when there is no back image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

from validation.scene_metadata import NAME_CAP, SUMMARY_CAP
from validation.text import clean_text


@dataclass(frozen=True)
class Art:
    """What the collection should hold; None means leave that part alone."""

    poster_url: Optional[str]
    art_url: Optional[str]
    summary: str


@dataclass(frozen=True)
class Source:
    """A Plex collection title, the Stash object it comes from, and that object's art."""

    kind: str  # "group" | "studio"
    id: int
    title: str
    art: Art

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"


def sources(scene: Dict[str, Any], collections: List[str], settings) -> List[Source]:
    """The scene's collections that come from a group or its studio, by their Plex title.

    The scene as read (stash/client.py SCENE_FIELDS) carries each group's synopsis and
    images and the studio's details and image, so no other Stash request is needed.
    """
    if settings.skip_collections:
        return []
    titles = {t.casefold(): t for t in collections}
    found: List[Source] = []
    for entry in scene.get("groups") or []:
        group = entry.get("group") if isinstance(entry, dict) else None
        _add(found, titles, "group", group)
    if not settings.skip_studio_collection:
        _add(found, titles, "studio", scene.get("studio"))
    return found


def _add(found: List[Source], titles: Dict[str, str], kind: str, obj: Any) -> None:
    if not isinstance(obj, dict) or obj.get("id") is None or not isinstance(obj.get("name"), str):
        return
    title = titles.get(clean_text(obj["name"], NAME_CAP, True).casefold())
    if title:
        found.append(Source(kind, int(obj["id"]), title, desired_art(kind, obj)))


def real_image(url: Optional[str]) -> Optional[str]:
    """The URL, or None when Stash marks it as its placeholder (`default=true`)."""
    if not url:
        return None
    if "true" in parse_qs(urlsplit(url).query).get("default", []):
        return None
    return url


def desired_art(kind: str, obj: Dict[str, Any]) -> Art:
    """The poster URL, background URL and summary for a group or studio as Stash sent it."""
    if kind == "group":
        return Art(real_image(obj.get("front_image_path")), real_image(obj.get("back_image_path")),
                   clean_text(obj.get("synopsis") or "", SUMMARY_CAP))
    return Art(real_image(obj.get("image_path")), None, clean_text(obj.get("details") or "", SUMMARY_CAP))
