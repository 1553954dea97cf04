"""Raster images (runtime/images.py, stack/raster.py, mix preset 11 of --mix auto): PGM, PPM and BMP
headers are parsed strictly, images of every shape round-trip through their own stack and code
smaller than with the binary preset, and crafted geometries are refused before decoding."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from lmz.runtime import api, images
from lmz.runtime import container as ct
from lmz.runtime import stack_params as sp
from lmz.runtime.errors import FormatError
from lmz.runtime.stack import raster


def picture(h: int, w: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 image [h, w, channels]: gradients, an edge, a disc, a texture that drifts
    slowly down the rows (what the pixel above predicts and the one to the left does not), noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 40 + 0.4 * x + 0.3 * y + np.where(x + y > (h + w) // 2, 30, 0)
    base = base + np.where((x - w // 3) ** 2 + (y - h // 2) ** 2 < (h // 4) ** 2, 40, 0)
    base = base + np.cumsum(rng.normal(0, 1.5, (h, w)), axis=0) + rng.integers(-25, 26, w)[None, :]
    chans = [base * (1 - 0.15 * c) + 10 * c + rng.normal(0, 2.5, (h, w)) for c in range(channels)]
    return np.stack(chans, axis=2).round().clip(0, 255).astype(np.uint8)


def pnm(img: np.ndarray, comment: bytes = b"") -> bytes:
    h, w, ch = img.shape
    magic = b"P5" if ch == 1 else b"P6"
    return magic + b"\n" + comment + b"%d %d\n255\n" % (w, h) + img.tobytes()


def bmp(img: np.ndarray) -> bytes:
    """An uncompressed bottom-up BMP (8-bit gray with a palette, 24-bit BGR or 32-bit BGRA)."""
    h, w, ch = img.shape
    bpp = 8 * ch
    row = (w * bpp + 31) // 32 * 4
    pal = bytes(b for i in range(256) for b in (i, i, i, 0)) if ch == 1 else b""
    rows = b"".join(img[r, :, ::-1].tobytes().ljust(row, b"\0") for r in range(h - 1, -1, -1))
    first = 14 + 40 + len(pal)
    head = b"BM" + struct.pack("<IHHI", first + len(rows), 0, 0, first)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, bpp, 0, len(rows), 2835, 2835, 256 if ch == 1 else 0, 0)
    return head + info + pal + rows


def _kinds(blob: bytes) -> list:
    return [preset for _, preset in api.scan(blob)["frame_kinds"]]


def test_geometry_of_pnm_and_bmp():
    g, c = picture(40, 50), picture(40, 50, 3)
    assert images.geometry(pnm(g)) == [50, 1, len(pnm(g)) - 2000]
    assert images.geometry(pnm(c, b"# made by lmz\n# two lines\n")) == [150, 3, len(pnm(c, b"# made by lmz\n# two lines\n")) - 6000]
    assert images.geometry(bmp(c)) == [152, 3, 54]  # 150 bytes padded to 152
    assert images.geometry(bmp(g)) == [52, 1, 54 + 1024]
    assert images.geometry(bmp(picture(40, 50, 4))) == [200, 4, 54]
    assert images.geometry(b"P5\n50 40\n65535\n" + bytes(4000)) == [100, 2, 15]  # 16-bit: two bytes a sample
    assert images.geometry(b"P6 50 40 4095\n" + bytes(12000)) == [300, 6, 14]


@pytest.mark.parametrize("raw", [
    b"P5\n50 40\n65536\n" + bytes(8000),  # maxval beyond 16 bits
    b"P2\n50 40\n255\n" + b"1 " * 2000,  # ASCII
    b"P5\n50 40 255\n",  # no pixels
    b"P5\n50 40\n255\n" + bytes(100),  # fewer than MIN_PIXELS
    b"P5 x 40 255 " + bytes(4000),
    b"P5\n50 40\n0\n" + bytes(4000),
    b"P5\n50 40\n255" + bytes(4000),  # no whitespace after maxval
    b"P5\n5000000000 1\n255\n" + bytes(4000),
    b"P5",
    b"BM" + bytes(60),
    b"",
    b"plain text, not an image\n" * 100,
])
def test_not_images(raw):
    assert images.geometry(raw) is None


def test_bmp_variants_not_supported():
    raw = bytearray(bmp(picture(40, 50, 3)))
    for off, val in ((30, 1), (28, 16), (26, 2)):  # RLE compression, 16 bits per pixel, 2 planes
        bad = bytearray(raw)
        struct.pack_into("<H" if off != 30 else "<I", bad, off, val)
        assert images.geometry(bytes(bad)) is None


def pnm16(img: np.ndarray, seed: int = 0) -> bytes:
    """A 12-bit PGM/PPM (maxval 4095, two big-endian bytes a sample) from an 8-bit picture."""
    h, w, ch = img.shape
    x = (img.astype(np.int64) * 16 + np.random.default_rng(seed).integers(0, 16, img.shape)).astype(">u2")
    return (b"P5" if ch == 1 else b"P6") + b"\n%d %d\n4095\n" % (w, h) + x.tobytes()


@pytest.mark.parametrize("kind", ["pgm", "ppm", "pgm-comment", "bmp24", "bmp8", "bmp32", "odd-width", "pgm16", "ppm16"])
def test_images_round_trip_with_the_raster_stack(kind, fake_model):
    raw = {"pgm": pnm(picture(48, 64)), "ppm": pnm(picture(40, 45, 3, seed=1)),
           "pgm-comment": pnm(picture(48, 70, seed=2), b"# comment\n"), "bmp24": bmp(picture(40, 51, 3, seed=3)),
           "bmp8": bmp(picture(56, 47, seed=4)), "bmp32": bmp(picture(40, 40, 4, seed=5)),
           "odd-width": pnm(picture(60, 37, 3, seed=6)) + b"trailing bytes", "pgm16": pnm16(picture(48, 64, seed=7)),
           "ppm16": pnm16(picture(40, 45, 3, seed=8))}[kind]
    blob = api.compress(raw, model=fake_model)  # (a model that is not a text model is tried too: it loses)
    assert _kinds(blob) == [sp.PRESET_RASTER]
    assert api.decompress(blob, model=fake_model) == raw


@pytest.mark.parametrize("channels,bits", [(1, 8), (3, 8), (1, 16)])
def test_raster_beats_the_binary_preset(channels, bits, fake_model):
    img = picture(96, 128, channels, seed=7)
    raw = pnm(img) if bits == 8 else pnm16(img)
    binary = api.compress(raw, model=fake_model, mix="on", lanes=1,
                          mix_params=dict(sp.PRESETS[sp.STACK_MIX][sp.PRESET_BINARY]))
    assert len(api.compress(raw, model=fake_model)) < 0.9 * len(binary)


def test_noise_image_is_stored(fake_model):
    noise = pnm(np.random.default_rng(8).integers(0, 256, (80, 100, 1), dtype=np.uint8))
    blob = api.compress(noise, model=fake_model)
    assert _kinds(blob) == [None] and api.decompress(blob, model=fake_model) == noise


@pytest.mark.parametrize("channels", [1, 3])
def test_an_image_larger_than_a_frame_keeps_its_geometry(channels, fake_model):
    """Frames after the header's go on with the image's geometry (their first row start found from
    the header's frame); the same output with worker processes; what follows the pixels is not an image."""
    raw = pnm(picture(130, 100, channels, seed=9))
    tail = b"some text after the image\n" * 300
    blob = api.compress(raw + tail, model=fake_model, frame_size=5001)
    kinds = _kinds(blob)
    n = -(-len(raw) // 5001)  # frames holding pixels
    assert kinds[:n] == [sp.PRESET_RASTER] * n and sp.PRESET_RASTER not in kinds[n:]
    assert api.decompress(blob, model=fake_model) == raw + tail
    assert api.compress(raw + tail, model=fake_model, frame_size=5001, threads=2) == blob
    first_only = sum(len(api.Compressor(model=fake_model, frame_size=5001).frame(raw[o:o + 5001], o))
                     for o in range(0, len(raw), 5001))  # each frame alone: only the first has a header
    whole = len(api.compress(raw, model=fake_model, frame_size=5001))
    assert whole < 0.9 * first_only


def test_an_image_in_a_later_frame_codes_as_alone(fake_model):
    """The geometry counts from the frame's first byte: an image whose header starts a later frame
    (a concatenation of files) gets the same frame as at the start of the input."""
    img = pnm(picture(60, 64, seed=10))
    text = b"A line of text before the image, as in a concatenation of files.\n" * 40
    c = api.Compressor(model=fake_model, frame_size=len(text))
    assert c.frame(img, len(text)) == c.frame(img, 0)
    blob = c.compress(text + img)
    assert _kinds(blob)[1] == sp.PRESET_RASTER and api.decompress(blob, model=fake_model) == text + img


def test_the_seekable_writer_keeps_an_images_geometry_too(fake_model, tmp_path):
    import lmz

    raw = pnm(picture(100, 90, seed=11))
    p = tmp_path / "img.pgm.lmz"
    with lmz.open(p, "wb", model=fake_model, frame_size=3001) as w:
        for i in range(0, len(raw), 1000):  # written in pieces that do not follow the frames
            w.write(raw[i:i + 1000])
    blob = p.read_bytes()
    assert _kinds(blob)[:3] == [sp.PRESET_RASTER] * 3  # (the last frame, 12 bytes, is stored)
    assert api.decompress(blob, model=fake_model) == raw


def test_raster_params_are_written_against_preset_11():
    params = dict(sp.PRESETS[sp.STACK_MIX][sp.PRESET_RASTER], raster=[150, 3, 15])
    assert sp.to_preset(sp.STACK_MIX, params) == (sp.PRESET_RASTER, {"raster": [150, 3, 15]})
    assert sp.from_preset(sp.STACK_MIX, sp.PRESET_RASTER, {"raster": [150, 3, 15]}) == params
    for p, preset in sp.PRESETS[sp.STACK_MIX].items():  # published presets have no geometry
        assert "raster" not in preset


def test_check_rejects_bad_geometries():
    for bad in ([0, 1, 0], [2, 3, 0], [10, 7, 0], [1 << 25, 1, 0], [10, 1, 101], [10, 1, -1], [10, 1]):
        with pytest.raises(ValueError):
            raster.check(bad, 100)
    raster.check([10, 3, 100], 100)


def _own_stack_frame(preset: int, overrides: bytes, n: int = 100, coded: bytes = bytes(20)) -> bytes:
    return (bytes([ct.FRAME_OWN_STACK, sp.STACK_MIX]) + ct.varint(preset) + ct.varint(len(overrides)) + overrides
            + ct.varint(n) + ct.varint(1) + b"\x00" + ct.varint(len(coded)) + b"\0\0" + coded)


@pytest.mark.parametrize("overrides,err", [
    (b'{"raster":[10,9,0]}', "raster geometry"),
    (b'{"raster":[2,3,0]}', "raster geometry"),
    (b'{"raster":[10,1]}', "raster must be"),
    (b'{"raster":[10,1,2147483647]}', "outside"),
    (b'{"raster":[10,1,0],"columns":1}', "raster is for"),
    (b'{"raster":[10,1,0],"use_model":true}', "raster is for"),
    (b'{"raster":"x"}', "raster"),
], ids=["channels", "row", "length", "huge", "columns", "model", "type"])
def test_crafted_raster_fields(overrides, err, fake_model):
    from test_crafted import v2_stream

    frame = _own_stack_frame(sp.PRESET_RASTER, overrides)
    blob = v2_stream(fake_model.info.fingerprint, sp.STACK_MIX, 1, None, frame) + ct.pack_end(100, 0)
    with pytest.raises(FormatError, match=err):
        api.decompress(blob, model=fake_model)
