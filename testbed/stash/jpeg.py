"""A tiny baseline JPEG encoder for the emulator's images.

Stash serves real JPEG screenshots and the plugin uploads those bytes to Plex, so the
testbed needs genuine, decodable JPEGs whose bytes differ per scene and per
regeneration, without Pillow. Every 8x8 block is one flat colour, so only DC
coefficients are coded and each block's AC part is a single end-of-block code.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Callable, Dict, List, Tuple

RGB = Tuple[int, int, int]

# Quantisation step used for every coefficient; DC-only blocks need nothing finer.
_Q = 16

# The standard DC luminance code-length counts and symbols (JPEG Annex K.3), shared by
# all three components: categories 0..11 cover every DC difference we can produce.
_DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
_DC_VALS = list(range(12))
# A minimal AC table: end-of-block (0x00) plus one spare symbol so no code is all ones.
_AC_BITS = [0, 2] + [0] * 14
_AC_VALS = [0x00, 0x01]


def _codes(bits: List[int], vals: List[int]) -> Dict[int, Tuple[int, int]]:
    """Canonical Huffman codes {symbol: (code, length)} from a DHT definition."""
    table: Dict[int, Tuple[int, int]] = {}
    code = 0
    k = 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            table[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return table


_DC_CODES = _codes(_DC_BITS, _DC_VALS)
_EOB = _codes(_AC_BITS, _AC_VALS)[0x00]


_DC_TEXT = {cat: format(code, "0%db" % length) for cat, (code, length) in _DC_CODES.items()}
_EOB_TEXT = format(_EOB[0], "0%db" % _EOB[1])


def _pack(bits: str) -> bytes:
    """Entropy-coded bytes from a string of bits: pad with one-bits, stuff every 0xFF.

    Building one bit string and converting it once is several times faster in pure
    Python than shifting bytes out of an accumulator code by code.
    """
    if not bits:
        return b""
    bits += "1" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return data.replace(b"\xff", b"\xff\x00")  # byte stuffing inside entropy-coded data


def _ycbcr(rgb: RGB) -> Tuple[int, int, int]:
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return tuple(max(0, min(255, int(round(v)))) for v in (y, cb, cr))  # type: ignore


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def encode(width: int, height: int, block_color: Callable[[int, int], RGB],
           comment: bytes = b"") -> bytes:
    """Encode a width x height image where block (bx, by) has one RGB colour."""
    if not (0 < width < 65536 and 0 < height < 65536):
        raise ValueError("bad image size")
    parts = [b"\xff\xd8"]
    parts.append(_segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
    if comment:
        parts.append(_segment(0xFFFE, comment[:60000]))
    parts.append(_segment(0xFFDB, b"\x00" + bytes([_Q]) * 64))
    sof = struct.pack(">BHHB", 8, height, width, 3)
    sof += b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    parts.append(_segment(0xFFC0, sof))
    dht = b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALS)
    dht += b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALS)
    parts.append(_segment(0xFFC4, dht))
    parts.append(_segment(0xFFDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"))

    bits: List[str] = []
    pred = [0, 0, 0]
    quantised: Dict[RGB, List[int]] = {}  # colour -> DC terms; gradients repeat colours
    for by in range((height + 7) // 8):
        for bx in range((width + 7) // 8):
            rgb = block_color(bx, by)
            dcs = quantised.get(rgb)
            if dcs is None:
                # A flat block's DCT DC term is 8 * (value - 128).
                dcs = quantised[rgb] = [int(round(8 * (v - 128) / _Q)) for v in _ycbcr(rgb)]
            for comp, dc in enumerate(dcs):
                diff = dc - pred[comp]
                pred[comp] = dc
                cat = abs(diff).bit_length()
                bits.append(_DC_TEXT[cat])
                if cat:
                    bits.append(format(diff if diff >= 0 else diff + (1 << cat) - 1, "0%db" % cat))
                bits.append(_EOB_TEXT)
    parts.append(_pack("".join(bits)))
    parts.append(b"\xff\xd9")
    return b"".join(parts)


def placeholder(label: str, width: int = 160, height: int = 90) -> bytes:
    """A deterministic image for `label`: a two-colour gradient picked from its hash."""
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    c1 = (digest[0], digest[1], digest[2])
    c2 = (digest[3], digest[4], digest[5])
    cols = max(1, (width + 7) // 8 - 1)
    # A block's colour depends only on its column and whether its row is odd, so the
    # two rows of colours are worked out once.
    rows = [[tuple(int((a + (b - a) * (bx / cols)) * shade) for a, b in zip(c1, c2))
             for bx in range((width + 7) // 8)] for shade in (1.0, 0.75)]

    def color(bx: int, by: int) -> RGB:
        return rows[by % 2][bx]  # type: ignore[return-value]

    return encode(width, height, color, comment=label.encode("utf-8"))
