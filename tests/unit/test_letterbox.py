"""The letterbox poster: a pure function from screenshot bytes to a 2:3 JPEG."""

import hashlib
import io

import pytest
from PIL import Image

from mapping.letterbox import POSTER_SIZE, letterbox


def _jpeg(width, height, colour=(200, 40, 40)):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG", quality=95)
    return out.getvalue()


def _decode(data):
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (640, 480), (720, 1280), (1, 1), (3000, 200)])
def test_any_picture_becomes_a_1000_by_1500_jpeg(size):
    img = _decode(letterbox(_jpeg(*size)))
    assert img.format == "JPEG" and img.size == POSTER_SIZE and img.mode == "RGB"


def test_a_wide_screenshot_spans_the_width_over_a_darker_blurred_fill():
    img = _decode(letterbox(_jpeg(1920, 1080)))
    # 16:9 across 1000 px is 562 px high, centred: rows 469..1031 hold the picture.
    middle = img.getpixel((500, 750))
    top = img.getpixel((500, 100))
    assert middle[0] > 150  # the picture itself, full brightness
    assert top[0] < middle[0] * 0.6  # the fill: the same colour, darkened
    assert abs(top[1] - top[2]) < 30  # still the picture's colours, not a flat black bar


def test_the_same_screenshot_always_gives_the_same_bytes():
    shot = _jpeg(1280, 720, (10, 120, 200))
    first, second = letterbox(shot), letterbox(shot)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert letterbox(_jpeg(1280, 720, (10, 121, 200))) != first


def test_png_and_palette_images_are_converted():
    out = io.BytesIO()
    Image.new("P", (320, 180), 3).save(out, format="PNG")
    assert _decode(letterbox(out.getvalue())).size == POSTER_SIZE
    rgba = io.BytesIO()
    Image.new("RGBA", (320, 180), (0, 0, 0, 0)).save(rgba, format="PNG")
    assert _decode(letterbox(rgba.getvalue())).mode == "RGB"


@pytest.mark.parametrize("data", [b"", b"not an image", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                                  _jpeg(64, 36)[:40]])
def test_bytes_that_are_not_an_image_give_none(data):
    assert letterbox(data) is None
