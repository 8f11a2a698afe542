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


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def write(self, code: int, length: int) -> None:
        self.acc = (self.acc << length) | (code & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:  # byte stuffing inside entropy-coded data
                self.out.append(0x00)
        self.acc &= (1 << self.n) - 1

    def flush(self) -> bytes:
        if self.n:
            self.write((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with one-bits
        return bytes(self.out)


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

    bw = _BitWriter()
    pred = [0, 0, 0]
    for by in range((height + 7) // 8):
        for bx in range((width + 7) // 8):
            for comp, value in enumerate(_ycbcr(block_color(bx, by))):
                # A flat block's DCT DC term is 8 * (value - 128).
                dc = int(round(8 * (value - 128) / _Q))
                diff = dc - pred[comp]
                pred[comp] = dc
                cat = abs(diff).bit_length()
                code, length = _DC_CODES[cat]
                bw.write(code, length)
                if cat:
                    bw.write(diff if diff >= 0 else diff + (1 << cat) - 1, cat)
                bw.write(*_EOB)
    parts.append(bw.flush())
    parts.append(b"\xff\xd9")
    return b"".join(parts)


def placeholder(label: str, width: int = 160, height: int = 90) -> bytes:
    """A deterministic image for `label`: a two-colour gradient picked from its hash."""
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    c1 = (digest[0], digest[1], digest[2])
    c2 = (digest[3], digest[4], digest[5])
    cols = max(1, (width + 7) // 8 - 1)

    def color(bx: int, by: int) -> RGB:
        t = bx / cols
        shade = 1.0 - 0.25 * (by % 2)
        return tuple(int((a + (b - a) * t) * shade) for a, b in zip(c1, c2))  # type: ignore

    return encode(width, height, color, comment=label.encode("utf-8"))
