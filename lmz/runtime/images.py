"""The geometry of raster image files at the start of a block, for the raster stack (mix preset 11,
``lmz/runtime/stack/raster.py``): binary PGM and PPM (P5, P6, comments allowed; with maxval above
255 each 16-bit sample is two bytes, big-endian, taken as two channels of the pixel), PAM (P7:
WIDTH, HEIGHT, DEPTH, MAXVAL, optional TUPLTYPE lines, ENDHDR; any depth, so gray + alpha and
RGBA too; a PNG's pixels are coded as one, ``png.py``) and
uncompressed BMP (8, 24 or 32 bits per pixel; rows padded to 4 bytes, stored bottom-up, which
changes nothing for the contexts: the row before in the file is the one "above").

:func:`geometry` returns ``[row, channels, first]``: the bytes per row, the interleaved bytes per
pixel and the offset of the first pixel byte; None for anything else (which is then coded as the
binary data it is). :func:`extent` adds the pixel bytes the header announces, and
:func:`continuation` gives the frames after the first of an image larger than a frame their
geometry. A geometry only chooses contexts: a wrong one costs ratio, never correctness.
"""
from __future__ import annotations

import struct

from .stack.raster import MAX_CHANNELS, MAX_ROW

__all__ = ["geometry", "extent", "continuation", "Frames"]

MIN_PIXELS = 1024  # smaller images are not worth their own stack


def geometry(raw: bytes) -> list[int] | None:
    """[row, channels, first] of the PGM, PPM or BMP image at the start of `raw`, or None."""
    e = extent(raw)
    return None if e is None else e[0]


def extent(raw: bytes) -> tuple[list[int], int] | None:
    """([row, channels, first], the pixel bytes the header announces) of the image at the start of
    `raw` (which may hold only the first part of the file), or None."""
    if raw[:2] in (b"P5", b"P6"):
        g = _pnm(raw)
    elif raw[:3] == b"P7\n":
        g = _pam(raw)
    elif raw[:2] == b"BM":
        g = _bmp(raw)
    else:
        return None
    if g is None:
        return None
    row, ch, first, rows = g
    if not (1 <= ch <= MAX_CHANNELS and ch <= row <= MAX_ROW and first <= len(raw)):
        return None
    if len(raw) - first < MIN_PIXELS or len(raw) - first < min(2, rows) * row:
        return None
    return [row, ch, first], row * rows


def continuation(start: int, row: int, ch: int, offset: int) -> list[int]:
    """The geometry of a later frame (at input position `offset`) of an image whose pixels start at
    input position `start`: the frame's first row start is its `first`; the bytes before it (the end
    of a row) are coded as a header is."""
    return [row, ch, (start - offset) % row]


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
    if not (1 <= width and 1 <= height and 1 <= maxval <= 65535):
        return None
    ch = (1 if raw[:2] == b"P5" else 3) * (1 if maxval <= 255 else 2)  # 16-bit samples: two bytes, as two channels
    return width * ch, ch, i + 1, height


def _pam(raw: bytes):
    """Netpbm PAM: ``P7``, then lines of ``NAME value`` up to ``ENDHDR`` (# comments allowed)."""
    end = raw.find(b"ENDHDR\n", 0, 1024)
    if end < 0:
        return None
    fields = {}
    for line in raw[3:end].split(b"\n"):
        parts = line.split()
        if len(parts) == 2 and parts[0] in (b"WIDTH", b"HEIGHT", b"DEPTH", b"MAXVAL") and parts[1].isdigit():
            if len(parts[1]) > 9:  # as _pnm: no field of a real image is that long
                return None
            fields[parts[0]] = int(parts[1])
        elif parts and parts[0] != b"TUPLTYPE" and not parts[0].startswith(b"#"):
            return None
    if len(fields) != 4:
        return None
    width, height, depth, maxval = (fields[k] for k in (b"WIDTH", b"HEIGHT", b"DEPTH", b"MAXVAL"))
    if not (1 <= width and 1 <= height and 1 <= depth and 1 <= maxval <= 65535):
        return None
    ch = depth * (1 if maxval <= 255 else 2)
    return width * ch, ch, end + 7, height


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
    return (width * bpp + 31) // 32 * 4, bpp // 8, first, abs(height)  # rows padded to 4 bytes (coded as pixels)


class Frames:
    """Follows an input frame by frame: :meth:`image` gives each frame the geometry of an image whose
    header was in an earlier frame and whose pixels go on into this one (None otherwise; a frame
    with a header of its own is found by blocks.choose_frame)."""

    def __init__(self):
        self.pixels = None  # (start, end, row, channels) in input positions

    def image(self, raw: bytes, offset: int) -> list[int] | None:
        """The geometry for the frame `raw` at input position `offset` (frames in order)."""
        p = self.pixels
        if p is not None and offset < p[1]:
            return continuation(p[0], p[2], p[3], offset)
        e = extent(raw)
        self.pixels = None if e is None else (offset + e[0][2], offset + e[0][2] + e[1], e[0][0], e[0][1])
        return None
