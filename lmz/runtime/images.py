"""The geometry of raster image files at the start of a block, for the raster stack (mix preset 11,
``lmz/runtime/stack/raster.py``): binary PGM and PPM (P5, P6 with maxval at most 255, comments
allowed) and uncompressed BMP (8, 24 or 32 bits per pixel; rows padded to 4 bytes, stored bottom-up,
which changes nothing for the contexts: the row before in the file is the one "above").

:func:`geometry` returns ``[row, channels, first]``: the bytes per row, the interleaved bytes per
pixel and the offset of the first pixel byte; None for anything else (which is then coded as the
binary data it is). A geometry only chooses contexts: a wrong one costs ratio, never correctness.
"""
from __future__ import annotations

import struct

from .stack.raster import MAX_CHANNELS, MAX_ROW

__all__ = ["geometry"]

MIN_PIXELS = 1024  # smaller images are not worth their own stack


def geometry(raw: bytes) -> list[int] | None:
    """[row, channels, first] of the PGM, PPM or BMP image at the start of `raw`, or None."""
    if raw[:2] in (b"P5", b"P6"):
        g = _pnm(raw)
    elif raw[:2] == b"BM":
        g = _bmp(raw)
    else:
        return None
    if g is None:
        return None
    row, ch, first = g
    if not (1 <= ch <= MAX_CHANNELS and ch <= row <= MAX_ROW and first <= len(raw)):
        return None
    if len(raw) - first < MIN_PIXELS or len(raw) - first < 2 * row:
        return None
    return [row, ch, first]


def _pnm(raw: bytes):
    """Binary PGM / PPM: magic, width, height, maxval separated by whitespace (and # comments to the
    end of a line), then one whitespace byte before the pixels."""
    fields, i, n = [], 2, min(len(raw), 1024)
    while len(fields) < 3:
        while i < n and raw[i] in b" \t\r\n#":
            if raw[i] == 0x23:  # a comment
                while i < n and raw[i] not in b"\r\n":
                    i += 1
            else:
                i += 1
        j = i
        while j < n and 0x30 <= raw[j] <= 0x39:
            j += 1
        if j == i or j - i > 9 or j >= n:
            return None
        fields.append(int(raw[i:j]))
        i = j
    if raw[i] not in b" \t\r\n":
        return None
    width, height, maxval = fields
    if not (1 <= width and 1 <= height and 1 <= maxval <= 255):
        return None
    ch = 1 if raw[:2] == b"P5" else 3
    return width * ch, ch, i + 1


def _bmp(raw: bytes):
    """BITMAPFILEHEADER + BITMAPINFOHEADER (or a later version), BI_RGB (or BI_BITFIELDS at 32 bits)."""
    if len(raw) < 54:
        return None
    first, = struct.unpack_from("<I", raw, 10)
    hsize, width, height, planes, bpp, comp = struct.unpack_from("<IiiHHI", raw, 14)
    if hsize < 40 or planes != 1 or bpp not in (8, 24, 32) or comp not in (0, 3) or (comp == 3 and bpp != 32):
        return None
    if width < 1 or height == 0 or first < 14 + hsize:
        return None
    return (width * bpp + 31) // 32 * 4, bpp // 8, first  # rows padded to 4 bytes (coded as pixels)
