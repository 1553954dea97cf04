"""PNG pixels (runtime/png.py, segment kind PNG_PIXELS): rows unfiltered to pixels and filtered again
exactly, the PAM geometry the raster stack gets, what keeps its filtered rows, checked fields."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest

import lmz
from lmz.runtime import container as ct
from lmz.runtime import images, png, segments
from lmz.runtime.errors import CorruptError, FormatError
from lmz.runtime.segments import PNG_PIXELS, Segment, Table


def _ihdr(w: int, h: int, depth: int, ctype: int, interlace: int = 0) -> bytes:
    body = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    return png.SIGNATURE + struct.pack(">I", 13) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body))


@pytest.mark.parametrize("depth,ctype", [(8, 0), (8, 2), (8, 3), (8, 4), (8, 6), (16, 0), (16, 2), (16, 4)])
def test_filters_round_trip(depth, ctype):
    rng = np.random.default_rng(depth * 10 + ctype)
    i = png.ihdr(_ihdr(23, 17, depth, ctype))
    assert i is not None and i.bpp == png.CHANNELS[ctype] * depth // 8
    y, x = np.mgrid[0:17, 0:23 * i.bpp]
    pixels = ((x * 7 + y * 3) % 256 + rng.integers(0, 20, x.shape)).astype(np.uint8).tobytes()
    filters = bytes(rng.integers(0, 5, 17, dtype=np.uint8))
    rows = png.refilter(pixels, filters, i)
    assert len(rows) == i.filtered_size and rows[::23 * i.bpp + 1] == filters
    assert png.unfilter(rows, i) == (pixels, filters)


def test_what_png_does_not_code_as_pixels():
    assert png.ihdr(_ihdr(10, 10, 8, 2, interlace=1)) is None  # Adam7
    assert png.ihdr(_ihdr(10, 10, 16, 6)) is None  # RGBA at 16 bits: 8 bytes a pixel
    assert png.ihdr(_ihdr(10, 10, 4, 0)) is None  # below 8 bits a sample
    assert png.ihdr(_ihdr(10, 10, 16, 3)) is None  # not a valid PNG
    assert png.ihdr(b"\x89PNG" + _ihdr(10, 10, 8, 2)[4:]) is not None
    assert png.ihdr(b"\x88" + _ihdr(10, 10, 8, 2)[1:]) is None
    i = png.ihdr(_ihdr(4, 3, 8, 0))
    assert png.unfilter(bytes(3 * 5 - 1), i) is None  # too short
    assert png.unfilter(b"\x05" + bytes(14), i) is None  # filter type 5
    assert png.refilter(bytes(12), b"\x00\x05\x00", i) is None


def test_pam_geometry():
    i = png.ihdr(_ihdr(300, 40, 8, 6))
    head = png.pam_header(i)
    assert images.extent(head + bytes(300 * 4 * 40)) == ([1200, 4, len(head)], 1200 * 40)
    i16 = png.ihdr(_ihdr(300, 40, 16, 2))
    assert images.geometry(png.pam_header(i16) + bytes(300 * 6 * 40))[:2] == [1800, 6]
    assert images.geometry(b"P7\nWIDTH 3\nHEIGHT 2\nDEPTH 1\nENDHDR\n" + bytes(4000)) is None  # no MAXVAL
    assert images.geometry(b"P7\nWIDTH 3\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\nOTHER 1\nENDHDR\n" + bytes(4000)) is None


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P", "I;16"])
def test_pillow_pngs_round_trip(mode):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:40, 0:56]
    rgba = np.stack([x * 4, y * 5, 200 - x * 2, 255 - y], axis=2) + rng.integers(0, 6, (40, 56, 4))
    im = Image.fromarray(rgba.clip(0, 255).astype(np.uint8), "RGBA")
    im = im.convert("RGB").convert("P") if mode == "P" else im.convert(mode)
    b = io.BytesIO()
    im.save(b, "PNG")
    data = b.getvalue()
    blob = lmz.compress(data)
    assert lmz.decompress(blob) == data


def _pixels_png() -> bytes:
    rows = b"".join(b"\x01" + bytes((x * 5 + y) % 256 for x in range(90)) for y in range(30))
    c = zlib.compressobj(6, zlib.DEFLATED, 15, 8, zlib.Z_FILTERED)
    z = c.compress(rows) + c.flush()
    idat = struct.pack(">I", len(z)) + b"IDAT" + z + struct.pack(">I", zlib.crc32(b"IDAT" + z))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return _ihdr(30, 30, 8, 2) + idat + iend


def test_split_and_damage():
    data = _pixels_png()
    table, expanded = segments.split(data)
    seg = table.segments[0]
    assert seg.kind == PNG_PIXELS and seg.head == 33 and expanded.startswith(b"P7\n")
    assert segments.rebuild_segment(seg, expanded[:seg.coded]) == data[:seg.size]
    bad_filter = bytearray(expanded[:seg.coded])
    bad_filter[seg.coded - seg.head - 30] = 5
    bad_pam = b"P7\nWIDTH 31" + expanded[len(b"P7\nWIDTH 30"):seg.coded]
    for damaged in (bytes(bad_filter), bad_pam, expanded[:seg.coded - 1]):
        with pytest.raises(CorruptError):
            segments.rebuild_segment(Segment(PNG_PIXELS, seg.size, len(damaged), 6, 8, 15, 1, seg.chunk, seg.head),
                                     damaged)


def test_table_fields_checked():
    def packed(seg):
        return Table((seg,), seg.size, 0).pack()

    good = Segment(PNG_PIXELS, 3000, 10000, 6, 8, 15, 1, 8192, 100)
    assert Table.read(ct.Reader(packed(good))).segments == (good,)
    for seg in (Segment(PNG_PIXELS, 3000, 10000, 6, 8, 15, 1, 8192, 32),  # shorter than signature + IHDR
                Segment(PNG_PIXELS, 3000, 10000, 6, 8, 15, 1, 8192, 10001),  # header beyond the expanded bytes
                Segment(PNG_PIXELS, 10 ** 6, 10000, 6, 8, 15, 1, 8192, 100),  # more than deflate can write
                Segment(PNG_PIXELS, 3000, 10000, 6, 8, 15, 1, 100, 100),  # IDAT chunks below MIN_CHUNK
                Segment(PNG_PIXELS, 3000, 10000, 6, 8, 16, 1, 8192, 100)):  # window bits
        with pytest.raises(FormatError):
            Table.read(ct.Reader(packed(seg)))


def test_large_png_keeps_filtered_rows(monkeypatch):
    data = _pixels_png()
    monkeypatch.setattr(segments, "MAX_PNG_PIXELS", 1000)
    table, _ = segments.split(data)
    assert [s.kind for s in table.segments] == [segments.RAW, segments.PNG_IDAT, segments.RAW]
