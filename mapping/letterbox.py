"""The `letterbox` poster style: a 2:3 poster made from a 16:9 screenshot.

Plex shows movie libraries as a wall of 2:3 posters and crops a 16:9 screenshot to its
middle third. A letterboxed poster keeps the whole picture: the screenshot fitted across
the width, over a blurred, darkened copy of itself that fills the frame. Pure bytes in,
bytes out (Pillow), and deterministic, so the same screenshot always gives the same
poster bytes and their hash decides whether Plex needs an upload at all.

Pillow's image modules are imported on the first letterbox, not with this module: the
default style uploads the screenshot as it is, and a drainer that never letterboxes
does not hold them (about 2 MiB of its memory).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from PIL import Image

POSTER_SIZE = (1000, 1500)  # 2:3, the shape Plex's movie posters have
JPEG_QUALITY = 88
BACKDROP_BRIGHTNESS = 0.45  # the blurred fill, darkened so the picture stands out
BLUR_SCALE = 10  # the fill is blurred at a tenth of the size: fast, and as soft


def letterbox(data: bytes, size=POSTER_SIZE) -> Optional[bytes]:
    """A JPEG poster of `size`; None when the bytes are not an image Pillow can read."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as opened:
            picture = opened.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    if picture.width < 1 or picture.height < 1:
        return None
    poster = _backdrop(picture, size)
    front = _fit(picture, size)
    poster.paste(front, ((size[0] - front.width) // 2, (size[1] - front.height) // 2))
    out = io.BytesIO()
    poster.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _fit(picture: Image.Image, size) -> Image.Image:
    """The whole picture, as large as fits: across the width, or the height if taller."""
    from PIL import Image

    scale = min(size[0] / picture.width, size[1] / picture.height)
    width = max(1, min(size[0], round(picture.width * scale)))
    height = max(1, min(size[1], round(picture.height * scale)))
    return picture.resize((width, height), Image.LANCZOS)


def _backdrop(picture: Image.Image, size) -> Image.Image:
    """The picture covering the whole frame (cropped to it), blurred and darkened."""
    from PIL import Image, ImageEnhance, ImageFilter

    small = (max(1, size[0] // BLUR_SCALE), max(1, size[1] // BLUR_SCALE))
    scale = max(small[0] / picture.width, small[1] / picture.height)
    cover = picture.resize((max(small[0], round(picture.width * scale)),
                            max(small[1], round(picture.height * scale))), Image.BILINEAR)
    left, top = (cover.width - small[0]) // 2, (cover.height - small[1]) // 2
    cover = cover.crop((left, top, left + small[0], top + small[1]))
    cover = cover.filter(ImageFilter.GaussianBlur(radius=3))
    cover = ImageEnhance.Brightness(cover).enhance(BACKDROP_BRIGHTNESS)
    return cover.resize(size, Image.BILINEAR)
