"""A PNG image's pixels: its inflated IDAT data without the row filters, and the filters put back.

A PNG's IDAT stream inflates to its rows, each a filter type byte (0 None, 1 Sub, 2 Up, 3 Average,
4 Paeth) and the row's bytes as differences from their left, upper or predicted neighbours (PNG
specification, section 9). The raster stack predicts pixels from their neighbours far better than
the filters' residuals (a photo: 20% smaller), so segment kind PNG_PIXELS (``segments.py``) codes
the pixels as a PAM image (``images.py`` gives the raster stack its geometry) with the filter
types after them, and the reader filters the rows again, exactly, before deflating them.

Non-interlaced images of 8 or 16 bits per sample with 1 to 6 bytes per pixel only (gray, gray +
alpha, RGB, RGBA at 8 bits; gray, gray + alpha, RGB at 16 bits; palette indices at 8 bits);
everything else keeps its filtered rows (kind PNG_IDAT). Integer arithmetic, compiled with numba.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .jit import njit

__all__ = ["Ihdr", "ihdr", "unfilter", "refilter", "pam_header"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
MAX_BPP = 6  # the raster stack's most channels


@dataclass(frozen=True)
class Ihdr:
    width: int
    height: int
    depth: int  # bits per sample: 8 or 16
    channels: int

    @property
    def bpp(self) -> int:
        """Bytes per pixel."""
        return self.channels * self.depth // 8

    @property
    def filtered_size(self) -> int:
        """The inflated IDAT bytes: every row with its filter byte."""
        return self.height * (1 + self.width * self.bpp)


def ihdr(head: bytes) -> Ihdr | None:
    """The IHDR of the PNG whose first bytes are `head`, if this module codes its pixels; else None."""
    if len(head) < 33 or head[:8] != SIGNATURE or head[12:16] != b"IHDR" or struct.unpack_from(">I", head, 8)[0] != 13:
        return None
    w, h, depth, ctype, comp, filt, interlace = struct.unpack_from(">IIBBBBB", head, 16)
    if not (1 <= w < 1 << 24 and 1 <= h < 1 << 24) or comp or filt or interlace or ctype not in CHANNELS:
        return None
    if depth not in (8, 16) or (ctype == 3 and depth != 8):
        return None
    i = Ihdr(w, h, depth, CHANNELS[ctype])
    return i if i.bpp <= MAX_BPP else None


def pam_header(i: Ihdr) -> bytes:
    return b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH %d\nMAXVAL %d\nENDHDR\n" % (i.width, i.height, i.channels,
                                                                      (1 << i.depth) - 1)


@njit(cache=True, nogil=True, inline="always")
def _predict(pix, i, x, y, stride, bpp, f):
    """What filter type f predicts for pixel byte pix[i] (row y, byte x of the row) from the bytes
    one pixel left (a), above (b) and above-left (c): 0, a, b, (a + b) / 2 or Paeth's choice."""
    a = np.int64(pix[i - bpp]) if x >= bpp else np.int64(0)
    b = np.int64(pix[i - stride]) if y else np.int64(0)
    if f == 1:
        return a
    if f == 2:
        return b
    if f == 3:
        return (a + b) >> 1
    if f == 4:
        c = np.int64(pix[i - stride - bpp]) if y and x >= bpp else np.int64(0)
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        if pa <= pb and pa <= pc:
            return a
        return b if pb <= pc else c
    return np.int64(0)


@njit(cache=True, nogil=True)
def _unfilter(rows, h, stride, bpp, pix, filters):
    """rows [h * (1 + stride)] -> pix [h * stride], filters [h]; False on a filter type above 4."""
    for y in range(h):
        f = rows[y * (stride + 1)]
        if f > 4:
            return False
        filters[y] = f
        for x in range(stride):
            i = y * stride + x
            pix[i] = (np.int64(rows[y * (stride + 1) + 1 + x]) + _predict(pix, i, x, y, stride, bpp, f)) & 255
    return True


@njit(cache=True, nogil=True)
def _refilter(pix, filters, h, stride, bpp, rows):
    """pix [h * stride] and filters [h] -> rows [h * (1 + stride)]."""
    for y in range(h):
        f = filters[y]
        rows[y * (stride + 1)] = f
        for x in range(stride):
            i = y * stride + x
            rows[y * (stride + 1) + 1 + x] = (np.int64(pix[i]) - _predict(pix, i, x, y, stride, bpp, f)) & 255


def unfilter(rows: bytes, i: Ihdr) -> tuple[bytes, bytes] | None:
    """(pixels, filter types) of the inflated IDAT data `rows`, or None if it is not `i`'s rows."""
    if len(rows) != i.filtered_size:
        return None
    stride = i.width * i.bpp
    pix = np.zeros(i.height * stride, np.uint8)
    filters = np.zeros(i.height, np.uint8)
    if not _unfilter(np.frombuffer(rows, np.uint8), i.height, stride, i.bpp, pix, filters):
        return None
    return pix.tobytes(), filters.tobytes()


def refilter(pixels, filters, i: Ihdr) -> bytes | None:
    """The rows (filter byte and filtered bytes) of `pixels` with the filter types `filters`; None if
    the sizes do not fit `i` or a filter type is above 4."""
    stride = i.width * i.bpp
    f = np.frombuffer(filters, np.uint8)
    if len(pixels) != i.height * stride or len(f) != i.height or (len(f) and f.max() > 4):
        return None
    rows = np.zeros(i.filtered_size, np.uint8)
    _refilter(np.frombuffer(pixels, np.uint8), f, i.height, stride, i.bpp, rows)
    return rows.tobytes()
