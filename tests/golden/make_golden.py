"""Writes the golden streams of this folder (run once per new format or algorithm version).

    python tests/golden/make_golden.py v1       # -> tests/golden/v1/*.lmz, *.raw, manifest.json

v1: format version 1; v2: format version 2; v3: format version 2 with frames of type 03 (--mix auto);
v4: the same, text-mix headers naming mix preset 6; v5: + 16-bit PCM WAV files (--mix auto, mix
preset 7: the pcm residual transform, runtime/pcm.py).
v6: the v5 cases with --mix auto's model-free text frames at mix preset 9 (column contexts).
v7: the same, text-mix headers naming mix preset 8 (2 lane groups), + one stream with 3 lane groups
and one with 1 (preset 6).
v8: the v7 cases with text-mix headers naming mix preset 10 (column contexts), + rows of fields.
v9: the v8 cases with --mix auto's binary frames at mix preset 12 (column contexts), + raster images
(PGM, PPM, BMP) under --mix auto (mix preset 11, the raster stack).
v10: the v9 cases + gzip files under --mix auto (deflate segments, header flag bit 4): members at
zlib levels 9 and 1 (memLevel 9), one made by GNU gzip -1 (the `gzip` program must be installed
to make the folder), one that stays raw (flushed mid-stream), trailing bytes; a PNG image as libpng
writes it (zlib level 6, Z_FILTERED, IDAT chunks of 1024 bytes).
v11: the v10 cases, the PNG now coded as its pixels (segment kind 5), + an RGBA PNG with rows of
every filter type, + baseline JPEG images under --mix auto (segment kind 4: the scan coded as its
DCT coefficients): a 4:2:0 colour one with restart markers and trailing bytes after EOI, a gray
one with optimised Huffman tables (both written by Pillow's libjpeg when the folder is made).
dict1: a dictionary file (format LMZD 1) and records coded with it (``make_golden.py dict1``).

Each case is a small input (committed beside its stream as NAME.raw) and the Compressor options
that made NAME.lmz. tests/test_golden.py decodes every stream of every version folder forever, and
re-encodes the newest version's inputs to check that the same options still give the same bytes.
Never regenerate an existing version folder: its files are what users have on disk.
"""
from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

from lmz.runtime.api import Compressor

HERE = Path(__file__).resolve().parent


def inputs() -> dict[str, bytes]:
    rng = np.random.default_rng(20261202)
    prose = (b"An lmz stream is a header, zero or more frames, and an end marker. All integers are "
             b"little-endian. The writer picks the smallest of: the modeled frame, and the whole frame "
             b"stored; with the model-only stack a lane that coding would not shrink is stored on its own. "
             b"It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
             b"age of foolishness, it was the epoch of belief, it was the epoch of incredulity.\n")
    text = (prose * 6)[:3000]
    # two 32x64 gray patches: a smooth gradient with noise and an edge (the image preset's geometry)
    y, x = np.mgrid[0:64, 0:64]
    img = (2 * x + y + rng.integers(-6, 7, size=x.shape) + np.where(x > 40, 60, 0)).clip(0, 255)
    image = img.reshape(2, 32, 64).astype(np.uint8).tobytes()
    # 8-bit unsigned speech-like PCM: two sines and noise around 128
    t = np.arange(4096)
    pcm = 128 + 40 * np.sin(t * 0.07) + 20 * np.sin(t * 0.31) + rng.normal(0, 3, t.size)
    audio = pcm.round().clip(0, 255).astype(np.uint8).tobytes()
    noise = rng.integers(0, 256, 700, dtype=np.uint8).tobytes()
    # v3: blocks for --mix auto (frame type 03): prose, a binary table, x86-like code, random bytes
    table = b"".join(np.array([i, i * 7 % 1000, 3], dtype="<u4").tobytes() for i in range(170))
    random = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    code = bytearray()  # x86-like: calls of three functions from many places (mix preset 5)
    for i in range(200):
        code += bytes(rng.integers(0x40, 0x90, 5, dtype=np.uint8))
        code += b"\xe8" + ((0x1000 * (1 + i % 3) - len(code) - 5) & 0xFFFFFFFF).to_bytes(4, "little")
    # v5: 16-bit PCM WAV files: stereo with a LIST chunk before the samples and one after them; mono
    # (coded in frames of 2000 bytes: the later frames have no header)
    t = np.arange(1000)[:, None]
    st = (3000 * np.sin(t * 0.05 + np.arange(2)) + 900 * np.sin(t * 0.29) + rng.normal(0, 30, (1000, 2)))
    wav_stereo = _wav(st.round().astype("<i2"), before=_chunk(b"LIST", b"INFOISFT\x04\x00\x00\x00lmz\x00"),
                      after=_chunk(b"LIST", b"INFOICMT\x03\x00\x00\x00ok\x00"))
    t = np.arange(2500)[:, None]
    mono = (5000 * np.sin(t * 0.031) * np.sin(t * 0.002) + rng.normal(0, 20, (2500, 1))).round().astype("<i2")
    rows = b"".join(b"%04X;NAME %d;Lu;%d;L;;;;;N;;;;%04X;\n" % (i, i * 3, i % 7, i + 32) for i in range(70))
    return {"text": text, "image": image, "audio": audio, "mixed": text[:1200] + noise + text[1200:2000],
            "empty": b"", "blocks": text[:2000] + table + bytes(code) + random, "wav16": wav_stereo,
            "wav16-mono": _wav(mono),
            # v8: semicolon-separated lines (the column contexts)
            "rows": rows,
            # v9: raster images with a header (gray PGM with a comment, RGB PPM, 24-bit BMP); a tar-like
            # binary block with lines of fields in it (mix preset 12)
            **_images(rng), "tar": _member(b"a.csv", rows[:1500]) + _member(b"b.txt", text[:900]) + bytes(1024),
            # v10: gzip members (deflate segments)
            "gzip": _gzip(rows + text[:1500], 9, 8) + _gzip(text, 1, 9) + _gnu_gzip(rows * 8 + text, 1)
            + _gzip(rows, 9, 8, flush=700) + b"tail\n", "png": _png(rng),
            # v11: an RGBA PNG (PNG pixels), baseline JPEG images (JPEG segments)
            "png-rgba": _png_rgba(rng), **_jpegs(rng)}


def _png_rgba(rng) -> bytes:
    """A 36x30 RGBA PNG whose rows use the filter types 0-4 in turn (zlib level 9, default strategy,
    IDAT chunks of 2048 bytes)."""
    from lmz.runtime import png

    y, x = np.mgrid[0:30, 0:36]
    rgba = np.stack([x * 6 + y, y * 7, 255 - x * 3, 128 + x - y], axis=2) + rng.integers(0, 5, (30, 36, 4))
    i = png.Ihdr(36, 30, 8, 4)
    rows = png.refilter(rgba.clip(0, 255).astype(np.uint8).tobytes(), bytes(r % 5 for r in range(30)), i)
    c = zlib.compressobj(9, zlib.DEFLATED, 15, 8)
    z = c.compress(rows) + c.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 36, 30, 8, 6, 0, 0, 0))
            + b"".join(chunk(b"IDAT", z[i:i + 2048]) for i in range(0, len(z), 2048)) + chunk(b"IEND", b""))


def _jpegs(rng) -> dict[str, bytes]:
    import io

    from PIL import Image

    y, x = np.mgrid[0:44, 0:52]
    rgb = np.stack([x * 4 + y, y * 5 + 20 * np.sin(x / 3.0), 250 - x * 3], axis=2) + rng.integers(0, 9, (44, 52, 3))
    im = Image.fromarray(rgb.clip(0, 255).astype(np.uint8), "RGB")
    a, b = io.BytesIO(), io.BytesIO()
    im.save(a, "JPEG", quality=85, subsampling=2, restart_marker_blocks=4)
    yy, xx = np.mgrid[0:72, 0:96]
    gray = 120 + 60 * np.sin(xx / 6.0) * np.cos(yy / 9.0) + rng.integers(0, 15, (72, 96))
    Image.fromarray(gray.clip(0, 255).astype(np.uint8), "L").save(b, "JPEG", quality=92, optimize=True)
    return {"jpeg": a.getvalue() + b"after EOI\n", "jpeg-gray": b.getvalue()}


def _png(rng) -> bytes:
    """An RGB PNG as libpng writes it: rows with filter bytes (none, Sub), one zlib stream (level 6,
    Z_FILTERED) cut into IDAT chunks of 1024 bytes."""
    y, x = np.mgrid[0:40, 0:48]
    rgb = (np.stack([x * 4 + y, y * 5, 250 - x * 3], axis=2) + rng.integers(0, 7, (40, 48, 3))).astype(np.uint8)
    rows = b""
    for r in range(40):
        line = rgb[r].tobytes()
        rows += b"\0" + line if r % 2 else b"\1" + bytes((line[i] - (line[i - 3] if i >= 3 else 0)) & 255
                                                         for i in range(len(line)))
    c = zlib.compressobj(6, zlib.DEFLATED, 15, 8, zlib.Z_FILTERED)
    z = c.compress(rows) + c.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 48, 40, 8, 2, 0, 0, 0))
            + b"".join(chunk(b"IDAT", z[i:i + 1024]) for i in range(0, len(z), 1024)) + chunk(b"IEND", b""))


def _gnu_gzip(data: bytes, level: int) -> bytes:
    import subprocess
    return subprocess.run(["gzip", f"-{level}", "-n", "-c"], input=data, capture_output=True, check=True).stdout


def _gzip(data: bytes, level: int, mem: int, flush: int | None = None) -> bytes:
    """A gzip member made by zlib (the system's, when the folder is made; the bytes are then fixed)."""
    c = zlib.compressobj(level, zlib.DEFLATED, -15, mem)
    body = (c.compress(data[:flush]) + c.flush(zlib.Z_FULL_FLUSH) + c.compress(data[flush:]) if flush
            else c.compress(data)) + c.flush()
    return b"\x1f\x8b\x08\x08" + bytes(4) + b"\x02\x03" + b"golden.txt\0" + body + struct.pack("<II", zlib.crc32(data),
                                                                                            len(data))


def _member(name: bytes, body: bytes) -> bytes:
    return name.ljust(100, b"\0") + b"0000644\0" + bytes(148) + body + bytes(-len(body) % 512)


def _images(rng) -> dict[str, bytes]:
    y, x = np.mgrid[0:40, 0:45]
    gray = (60 + 2 * x + np.cumsum(rng.normal(0, 2, (40, 45)), axis=0) + rng.integers(-20, 21, 45)).clip(0, 255)
    gray = gray.astype(np.uint8)
    rgb = np.stack([gray, (gray * 0.8 + y).clip(0, 255), (255 - gray * 0.5)], axis=2).astype(np.uint8)
    row = (45 * 3 + 3) // 4 * 4
    pixels = b"".join(rgb[r, :, ::-1].tobytes().ljust(row, b"\0") for r in range(39, -1, -1))
    bmp = (b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54)
           + struct.pack("<IiiHHIIiiII", 40, 45, 40, 1, 24, 0, len(pixels), 2835, 2835, 0, 0) + pixels)
    return {"pgm": b"P5\n# lmz\n45 40\n255\n" + gray.tobytes(), "ppm": b"P6 45 40 255\n" + rgb.tobytes(), "bmp": bmp}


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _wav(samples: np.ndarray, before: bytes = b"", after: bytes = b"") -> bytes:
    """A RIFF/WAVE file of int16 `samples` [n, channels] at 16 kHz."""
    ch = samples.shape[1]
    fmt = _chunk(b"fmt ", struct.pack("<HHIIHH", 1, ch, 16000, 32000 * ch, 2 * ch, 16))
    body = b"WAVE" + fmt + before + _chunk(b"data", samples.tobytes()) + after
    return b"RIFF" + struct.pack("<I", len(body)) + body


# name -> (input, Compressor keyword arguments)
CASES = {
    "text-model": ("text", dict(model="text", mix="off")),
    "text-model-3lanes": ("mixed", dict(model="text", mix="off", lanes=3)),
    "text-mix": ("text", dict(model="text", mix="on")),
    "text-mix-frames": ("mixed", dict(model="text", mix="on", frame_size=1024)),
    "mix-alone": ("text", dict(model="text", mix="on", mix_params={"use_model": False})),
    "image": ("image", dict(model="image", mix="on")),
    "audio": ("audio", dict(model="audio", mix="off")),
    "audio-mix": ("audio", dict(model="audio", mix="on")),
    "empty": ("empty", dict(model="text", mix="on")),
    # v3: per-block stacks (frame type 03) and stored blocks, the general-purpose default
    "auto": ("blocks", dict(model="text", mix="auto", frame_size=2000)),
    "auto-text": ("text", dict(model="text", mix="auto")),
    # v4: the same cases; every text-mix header now names mix preset 6 (128-lane frames)
    # v5: 16-bit PCM audio (frame type 03, mix preset 7)
    "pcm16": ("wav16", dict(model="text", mix="auto")),
    "pcm16-frames": ("wav16-mono", dict(model="text", mix="auto", frame_size=2000)),
    # v6: --mix auto model-free text frames at mix preset 9 (column contexts)
    # v7: text-mix streams name mix preset 8 (2 lane groups); 3 uneven groups, and 1 (preset 6)
    "text-mix-groups3": ("text", dict(model="text", mix="on", lanes=7, mix_params={"groups": 3})),
    "text-mix-groups1": ("text", dict(model="text", mix="on", mix_params={"groups": 1})),
    # v8: text-mix streams name mix preset 10 (preset 8 with the column contexts); rows of fields
    # with the model and the mix, and under --mix auto (model-free frames at preset 9)
    "rows-mix": ("rows", dict(model="text", mix="on")),
    "rows-auto": ("rows", dict(model="text", mix="auto")),
    # v9: raster images under --mix auto (mix preset 11 with each image's geometry)
    "raster-pgm": ("pgm", dict(model="text", mix="auto")),
    "raster-ppm": ("ppm", dict(model="text", mix="auto")),
    "raster-bmp": ("bmp", dict(model="text", mix="auto")),
    "binary-auto": ("tar", dict(model="text", mix="auto")),
    # v10: gzip members coded as the data they hold (deflate segments)
    "gzip-auto": ("gzip", dict(model="text", mix="auto")),
    "png-auto": ("png", dict(model="text", mix="auto")),
    # v11: an RGBA PNG coded as its pixels; baseline JPEG images coded as their DCT coefficients
    "png-rgba-auto": ("png-rgba", dict(model="text", mix="auto")),
    "jpeg-auto": ("jpeg", dict(model="text", mix="auto")),
    "jpeg-gray-auto": ("jpeg-gray", dict(model="text", mix="auto")),
}


def dict_golden(name: str) -> None:
    """A dictionary file and records coded with it (lmz/runtime/dictionary.py): dict.lmzd, records.bin
    (each record's blob after its u32 length) and raw.bin (the records joined by NUL bytes)."""
    from lmz.runtime.dictionary import train_dictionary
    from lmz.runtime.records import compress_records

    out = HERE / name
    if out.exists():
        sys.exit(f"{out} exists: golden streams are never regenerated")
    out.mkdir()
    prime = b"".join(b'{"event": "login", "user": "u%03d", "ok": %s, "ms": %d}\n' % (i, b"true" if i % 4 else b"false",
                                                                                  (i * 37) % 500) for i in range(200))
    d = train_dictionary([prime])
    recs = [b'{"event": "login", "user": "u777", "ok": true, "ms": 12}\n', b"", b"z", inputs()["text"][:700],
            b'{"event": "logout", "user": "u001", "ok": false, "ms": 499}\n' * 2]
    blobs = compress_records(recs, dictionary=d)
    (out / "dict.lmzd").write_bytes(d.to_bytes())
    (out / "records.bin").write_bytes(b"".join(struct.pack("<I", len(b)) + b for b in blobs))
    (out / "raw.bin").write_bytes(b"\0".join(recs))
    print(f"{name}: {sum(map(len, recs))} -> {sum(map(len, blobs))} bytes", file=sys.stderr)


def main(version: str) -> None:
    if version.startswith("dict"):
        return dict_golden(version)
    out = HERE / version
    if out.exists():
        sys.exit(f"{out} exists: golden streams are never regenerated")
    out.mkdir()
    raws = inputs()
    manifest = {}
    for name, (inp, kw) in CASES.items():
        raw = raws[inp]
        (out / f"{inp}.raw").write_bytes(raw)
        blob = Compressor(**kw).compress(raw)
        (out / f"{name}.lmz").write_bytes(blob)
        manifest[name] = {"raw": f"{inp}.raw", "options": kw, "size": len(raw), "compressed": len(blob)}
        print(f"{name}: {len(raw)} -> {len(blob)} bytes", file=sys.stderr)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "v1")
