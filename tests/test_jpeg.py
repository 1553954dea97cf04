"""JPEG segments (runtime/jpeg.py, kind JPEG_SCAN of runtime/segments.py): a baseline JPEG's scan is
coded as its DCT coefficients and Huffman-coded again bit for bit; what is not a baseline JPEG with
one scan stays as it is; every field is checked."""
from __future__ import annotations

import io

import numpy as np
import pytest

import lmz
from lmz.runtime import container as ct
from lmz.runtime import jpeg, segments
from lmz.runtime.errors import CorruptError, FormatError
from lmz.runtime.segments import JPEG_SCAN, RAW, Rebuilder, Segment, Table

Image = pytest.importorskip("PIL.Image")


def _photo(w: int, h: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A smooth synthetic picture with some noise and edges (nothing like a test file's content)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 128 + 60 * np.sin(x / 7.0) * np.cos(y / 11.0) + 40 * ((x // 16 + y // 16) % 2)
    chans = [base + rng.normal(0, 6, base.shape) + 20 * k * np.sin((x + y) / (5.0 + k)) for k in range(3)]
    arr = np.clip(np.stack(chans, -1), 0, 255).astype(np.uint8)
    im = Image.fromarray(arr, "RGB")
    return im.convert("L") if mode == "L" else im


def _jpeg(im, **kw) -> bytes:
    b = io.BytesIO()
    im.save(b, "JPEG", **kw)
    return b.getvalue()


CASES = {
    "gray": dict(mode="L", size=(61, 45), kw=dict(quality=80)),
    "420": dict(mode="RGB", size=(75, 50), kw=dict(quality=75, subsampling=2)),
    "422": dict(mode="RGB", size=(40, 33), kw=dict(quality=90, subsampling=1)),
    "444 q98": dict(mode="RGB", size=(48, 40), kw=dict(quality=98, subsampling=0)),
    "optimized": dict(mode="RGB", size=(64, 64), kw=dict(quality=60, optimize=True)),
    "restarts": dict(mode="RGB", size=(70, 52), kw=dict(quality=85, restart_marker_blocks=3)),
    "q10": dict(mode="L", size=(33, 17), kw=dict(quality=10)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_coefficients_round_trip(name):
    c = CASES[name]
    data = _jpeg(_photo(*c["size"], c["mode"]), **c["kw"])
    h = jpeg.parse(data)
    assert h is not None and (h.width, h.height) == c["size"]
    coef, end = jpeg.decode(data, h)
    assert data[end:end + 2] == b"\xff\xd9"
    img = jpeg.planes(h, coef)
    assert len(img) >= jpeg.coded_size(h) and img.startswith(b"P5\n")
    back = jpeg.unplanes(h, img)
    assert np.array_equal(back, coef)
    assert jpeg.encode(back, h, end - h.end) == data[h.end:end]
    if name == "restarts":
        assert h.restart == 3 and b"\xff\xd1" in data[h.end:end]


def test_coefficients_are_the_images():
    """The coefficients are what a JPEG decoder dequantises: a flat gray image has one DC value and
    no AC."""
    data = _jpeg(Image.new("L", (16, 16), 200), quality=100)
    h = jpeg.parse(data)
    coef, _ = jpeg.decode(data, h)
    assert coef.shape == (4, 64) and not coef[:, 1:].any()
    assert set(coef[:, 0]) == {(200 - 128) * 8 // h.quant[0][0]}


def test_split_and_rebuild_with_trailing_bytes():
    data = _jpeg(_photo(80, 60), quality=85) + b"trailing bytes after EOI"
    table, expanded = segments.split(data)
    assert [s.kind for s in table.segments] == [JPEG_SCAN, RAW]
    seg = table.segments[0]
    assert data[seg.size:seg.size + 2] == b"\xff\xd9" and expanded.startswith(b"P5\n")
    assert expanded[seg.coded - seg.head:seg.coded] == data[:seg.head]
    r = Rebuilder(Table.read(_reader(table.pack())))
    out = b"".join(part for i in range(0, len(expanded), 777) for part in r.feed(expanded[i:i + 777]))
    assert out + b"".join(r.finish()) == data


def _reader(b: bytes):
    return ct.Reader(b)


@pytest.mark.parametrize("what", ["progressive", "truncated", "not jpeg", "bad huffman"])
def test_what_stays_raw(what):
    im = _photo(48, 32)
    data = {"progressive": _jpeg(im, progressive=True), "truncated": _jpeg(im)[:-300],
            "not jpeg": b"\xff\xd8\xff" + bytes(500)}.get(what)
    if what == "bad huffman":  # a DHT whose code lengths overflow
        data = bytearray(_jpeg(im))
        i = data.index(b"\xff\xc4")
        data[i + 5:i + 21] = bytes([3] * 16)
        data = bytes(data)
    assert segments.split(data) is None
    blob = lmz.compress(data)
    assert lmz.decompress(blob) == data and lmz.read_header(blob).segments is None


def test_compress_round_trip_and_ratio():
    data = _jpeg(_photo(96, 80), quality=90)
    blob = lmz.compress(data)
    assert lmz.read_header(blob).segments.segments[0].kind == JPEG_SCAN
    assert lmz.decompress(blob) == data
    assert len(blob) < len(data)


def test_table_fields_checked():
    def packed(seg):
        return Table((seg,), seg.size, 0).pack()

    good = Segment(JPEG_SCAN, 3000, 10000, head=600)
    assert Table.read(_reader(packed(good))).segments == (good,)
    bad = {
        "head too small": Segment(JPEG_SCAN, 3000, 10000, head=3),
        "head above coded": Segment(JPEG_SCAN, 3000, 500, head=600),
        "head too large": Segment(JPEG_SCAN, 1 << 22, 1 << 21, head=segments.MAX_HEAD + 1),
        "size not above head": Segment(JPEG_SCAN, 600, 10000, head=600),
        "size beyond bound": Segment(JPEG_SCAN, 70016 + 1, 10000, head=600),
        "coded too large": Segment(JPEG_SCAN, 3000, segments.MAX_INFLATED + 1, head=600),
    }
    for name, seg in bad.items():
        with pytest.raises(FormatError):
            Table.read(_reader(packed(seg)))
        assert name


@pytest.mark.parametrize("damage", ["header", "geometry", "escape count", "huge value"])
def test_rebuild_refuses_damaged_coefficients(damage):
    data = _jpeg(_photo(40, 24, "L"), quality=70)
    table, expanded = segments.split(data)
    seg = table.segments[0]
    e = bytearray(expanded[:seg.coded])
    if damage == "header":
        e[-seg.head] = 0  # the JPEG header no longer starts with SOI
    elif damage == "geometry":
        e[3] = ord("9")  # the PGM's width
    elif damage == "escape count":
        e[20] = 0  # one more escaped value than there are after the image
    else:  # an escaped DC value no Huffman code reaches
        img_end = seg.coded - seg.head
        e[15] = 0
        e[img_end:img_end] = b"\xff\xff"
        seg = Segment(JPEG_SCAN, seg.size, seg.coded + 2, head=seg.head)
    with pytest.raises(CorruptError):
        segments.rebuild_segment(seg, bytes(e))


def test_large_jpeg_stays_as_it_is(monkeypatch):
    """A JPEG whose coefficients would need more than MAX_JPEG expanded bytes is not a segment (a
    reader needs 12 bytes per expanded byte: that stays inside the default memory limit)."""
    data = _jpeg(_photo(64, 48), quality=80)
    table, _ = segments.split(data)
    assert table.memory() >= 12 * table.segments[0].coded
    monkeypatch.setattr(segments, "MAX_JPEG", table.segments[0].coded - 1)
    assert segments.split(data) is None


def test_tiny_file_is_coded_the_smaller_way():
    """Up to api.SEGMENTS_COMPARED bytes, an input with a segment table is also coded as it is and the
    smaller stream kept: an 8x8 JPEG's coefficients cost more than its Huffman code."""
    data = _jpeg(_photo(8, 8, "L", seed=4), quality=75)
    blob = lmz.compress(data)
    assert segments.split(data) is not None and lmz.read_header(blob).segments is None
    assert len(blob) == len(lmz.Compressor(recompress=False).compress(data)) <= len(data) + 64
    assert lmz.decompress(blob) == data
