"""Deflate segments (runtime/segments.py): a gzip file is coded as the data it holds and rebuilt
exactly; every field of the segment table is checked; the rebuild checks sizes and the CRC-32."""
from __future__ import annotations

import gzip
import io
import struct
import zlib

import numpy as np
import pytest
from conftest import TEXT
from typer.testing import CliRunner

import lmz
from lmz.runtime import api, deflate, segments
from lmz.runtime import container as ct
from lmz.runtime import stack_params as sp
from lmz.runtime.cli import app
from lmz.runtime.errors import ChecksumError, CorruptError, FormatError, MemoryLimitError, UsageError
from lmz.runtime.loop import stack_from_header
from lmz.runtime.segments import DEFLATE, GNU_DEFLATE, RAW, Rebuilder, Segment, Table

DATA = (TEXT * 40)[:12000] + bytes(range(256)) * 8


def _gz(data: bytes, level: int = 9, name: bytes = b"a.txt") -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    head = b"\x1f\x8b\x08\x08" + bytes(6) + name + b"\0"
    return head + body + struct.pack("<II", zlib.crc32(data), len(data))


def _flushed_gz(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(data[:3000]) + c.flush(zlib.Z_FULL_FLUSH) + c.compress(data[3000:]) + c.flush()
    return b"\x1f\x8b\x08\x00" + bytes(6) + body + struct.pack("<II", zlib.crc32(data), len(data))


def test_split_one_member():
    gz = _gz(DATA)
    table, expanded = segments.split(gz)
    kinds = [s.kind for s in table.segments]
    assert kinds == [RAW, DEFLATE, RAW]
    assert expanded == gz[:16] + DATA + gz[-8:]
    assert table.size == len(gz) and table.crc == zlib.crc32(gz) and table.expanded == len(expanded)
    seg = table.segments[1]
    assert seg.kind == DEFLATE and deflate.deflate(DATA, seg.level, seg.mem_level, seg.wbits) == gz[16:-8]
    assert gzip.decompress(gz) == DATA  # a real gzip file


def test_split_members_trailing_data_and_what_stays_raw():
    gz = _gz(DATA, 6) + _gz(b"tiny", 9) + _flushed_gz(DATA) + _gz(DATA[::-1], 1) + b"trailing bytes"
    table, expanded = segments.split(gz)
    deflated = [s for s in table.segments if s.kind != RAW]
    assert [s.coded for s in deflated] == [len(DATA), len(DATA)]  # the tiny member and the flushed one stay raw
    assert sum(s.size for s in table.segments) == len(gz)
    assert all(a.kind != b.kind for a, b in zip(table.segments, table.segments[1:]))  # raw runs are merged
    assert _rebuild(table, expanded, 1000) == gz


def test_split_gnu_gzip():
    rng = np.random.default_rng(7)  # random words: enough symbols for GNU gzip's blocks to differ from zlib's
    data = b" ".join(rng.choice([b"gzip", b"tar", b"deflate", b"lmz", b"block", b"\n"], 40000))
    body = deflate.deflate(data, 1, impl=deflate.GNU)  # as `gzip -1` writes it (tests/test_deflate.py)
    assert body != deflate.deflate(data, 1)
    gz = b"\x1f\x8b\x08\x00" + bytes(4) + b"\x04\x03" + body + struct.pack("<II", zlib.crc32(data), len(data))
    table, expanded = segments.split(gz)
    assert [(s.kind, s.level) for s in table.segments] == [(RAW, 0), (GNU_DEFLATE, 1), (RAW, 0)]
    assert _rebuild(table, expanded, 999) == gz


def test_split_none():
    assert segments.split(b"plain text") is None
    assert segments.split(_flushed_gz(DATA)) is None  # nothing reproduced: nothing to gain
    assert segments.split(_gz(DATA)[:-20]) is None  # truncated member


def _rebuild(table: Table, expanded: bytes, step: int) -> bytes:
    r = Rebuilder(table)
    out = []
    for i in range(0, len(expanded), step):
        out += r.feed(expanded[i:i + step])
    return b"".join(out + r.finish())


@pytest.mark.parametrize("step", [1, 7, 4096, 1 << 20])
def test_rebuild_in_any_pieces(step):
    gz = _gz(DATA) + _gz(b"", 9)  # an empty member: a deflate segment of 0 inflated bytes if reproduced
    table, expanded = segments.split(gz)
    assert _rebuild(table, expanded, step) == gz


def test_rebuild_errors():
    gz = _gz(DATA)
    table, expanded = segments.split(gz)
    with pytest.raises(CorruptError, match="more bytes"):
        _rebuild(table, expanded + b"x", 100)
    with pytest.raises(CorruptError, match="end before"):
        _rebuild(table, expanded[:-1], 100)
    bad = bytearray(expanded)
    bad[100] ^= 1  # inside the inflated data: deflates to other bytes
    with pytest.raises((CorruptError, ChecksumError)):
        _rebuild(table, bytes(bad), 100)
    bad = bytearray(expanded)
    bad[-1] ^= 1  # the raw trailer
    with pytest.raises(ChecksumError):
        _rebuild(table, bytes(bad), 100)


def test_table_round_trip_and_checks():
    gz = _gz(DATA) + b"xyz"
    table, _ = segments.split(gz)
    assert Table.read(ct.Reader(table.pack())) == table

    def packed(segs, size=None, count=None):
        size = sum(s.size for s in segs) if size is None else size
        out = segments._varint(len(segs) if count is None else count) + segments._varint(size) + bytes(4)
        for s in segs:
            out += (bytes([RAW]) + segments._varint(s.size) if s.kind == RAW else
                    bytes([s.kind, s.level, s.mem_level, s.wbits, s.strategy])
                    + (segments._varint(s.chunk) if s.kind == segments.PNG_IDAT else b"")
                    + segments._varint(s.coded) + segments._varint(s.size))
        return out

    good = [Segment(RAW, 10, 10), Segment(DEFLATE, 100, 300, 9, 8, 15),
            Segment(segments.PNG_IDAT, 200, 300, 6, 8, 12, deflate.FILTERED, 8192)]
    Table.read(ct.Reader(packed(good)))
    bad = {
        "0 segments": packed([], count=0),
        "too many": packed(good, count=segments.MAX_SEGMENTS + 1),
        "empty raw": packed([Segment(RAW, 0, 0)]),
        "level 0": packed([Segment(DEFLATE, 100, 300, 0, 8, 15)]),
        "level 10": packed([Segment(DEFLATE, 100, 300, 10, 8, 15)]),
        "memLevel": packed([Segment(DEFLATE, 100, 300, 9, 10, 15)]),
        "wbits": packed([Segment(DEFLATE, 100, 300, 9, 8, 16)]),
        "gnu memLevel": packed([Segment(GNU_DEFLATE, 100, 300, 9, 9, 15)]),
        "gnu filtered": packed([Segment(GNU_DEFLATE, 100, 300, 9, 8, 15, deflate.FILTERED)]),
        "strategy": packed([Segment(DEFLATE, 100, 300, 9, 8, 15, 2)]),
        "png chunk": packed([Segment(segments.PNG_IDAT, 200, 300, 6, 8, 15, 1, segments.MIN_CHUNK - 1)]),
        "png size": packed([Segment(segments.PNG_IDAT, 10 ** 6, 300, 6, 8, 15, 1, 8192)]),
        "too large": packed([Segment(DEFLATE, 100, segments.MAX_INFLATED + 1, 9, 8, 15)]),
        "deflated above bound": packed([Segment(DEFLATE, deflate.bound(300) + 1, 300, 9, 8, 15)]),
        "deflated empty": packed([Segment(DEFLATE, 0, 300, 9, 8, 15)]),
        "sizes": packed(good, size=111),
        "kind": packed(good).replace(bytes([DEFLATE, 9]), bytes([7, 9])),
    }
    for what, blob in bad.items():
        with pytest.raises(FormatError):
            Table.read(ct.Reader(blob))
            pytest.fail(what)


def test_header_with_a_table():
    table, _ = segments.split(_gz(DATA))
    h = ct.Header("ab" * 8, "m", content_size=table.size, segments=table)
    b = h.pack()
    assert b[5] & ct.FLAG_SEGMENTS
    back = ct.read_header(b)
    assert back.segments == table and back.content_size == table.size
    with pytest.raises(ValueError):
        ct.Header("ab" * 8, "m", segments=table, index=True).pack()
    # crafted: the flag with a seek index, a content size that disagrees
    for kw in (dict(index=True), dict(content_size=table.size + 1)):
        plain = ct.Header("ab" * 8, "m", **kw).pack()
        body = plain[6:-4]
        fields = body[len(ct.varint(len(body))):]  # after the header length
        i = 8 + 1 + 1 + 1 + 1  # fingerprint, name length, name "m", stack id, preset
        fields = fields[:i] + table.pack() + fields[i:]
        head = ct.MAGIC + bytes([2, plain[5] | ct.FLAG_SEGMENTS]) + ct.varint(len(fields) + 4) + fields
        with pytest.raises(FormatError):
            ct.read_header(head + struct.pack("<I", zlib.crc32(head)))


@pytest.fixture(scope="module")
def gz_stream(tiny_paths):
    gz = _gz(DATA) + b"tail"
    return gz, api.Compressor(tiny_paths[1]).compress(gz), tiny_paths[1]


def test_round_trip_through_the_api(gz_stream):
    gz, blob, m = gz_stream
    h = lmz.read_header(blob)
    assert h.segments is not None and h.content_size == len(gz)
    assert lmz.decompress(blob, model=m) == gz
    plain = api.Compressor(m, recompress=False).compress(gz)
    assert lmz.read_header(plain).segments is None and len(blob) < len(plain)
    info = api.scan(blob)
    assert info["size"] == len(gz) and info["crc32"] == zlib.crc32(gz) and info["coded_size"] > len(gz)
    seen = []
    api.Decompressor(m, progress=seen.append).decompress(blob)
    assert sum(seen) == len(gz)  # progress counts original bytes


def test_no_table_where_it_does_not_apply(tiny_paths):
    m = tiny_paths[1]
    gz = _gz(DATA)
    for kw in (dict(index=True), dict(mix="on"), dict(lane_size=1024), dict(recompress=False)):
        assert lmz.read_header(api.Compressor(m, **kw).compress(gz)).segments is None, kw
    assert lmz.read_header(api.Compressor(m).compress(_flushed_gz(DATA))).segments is None


def test_decoder_limits_and_random_access(gz_stream, tmp_path):
    gz, blob, m = gz_stream
    h = lmz.read_header(blob)
    spec = stack_from_header(h.stack_id, h.stack_params)
    need = sp.stack_memory(spec.stack_id, spec.params, 1) + sp.frame_memory(h.max_frame) + h.segments.memory()
    assert h.segments.memory() > len(DATA)
    with pytest.raises(MemoryLimitError, match="deflate a segment"):
        api.Decompressor(m, memory_limit=need - 1).decompress(blob)
    assert api.Decompressor(m, memory_limit=need).decompress(blob) == gz
    p = tmp_path / "a.gz.lmz"
    p.write_bytes(blob)
    with pytest.raises(UsageError, match="deflate segments"):
        lmz.open(p, model=m)
    out = io.BytesIO()
    api.Decompressor(m).copy_stream(io.BytesIO(blob + blob), out)  # concatenated streams
    assert out.getvalue() == gz + gz


def test_cli_round_trip_and_list(tmp_path, tiny_paths):
    m = tiny_paths[1]
    f = tmp_path / "a.tar.gz"
    gz = _gz(DATA)
    f.write_bytes(gz)
    runner = CliRunner()
    r = runner.invoke(app, ["compress", "-m", m, "--no-progress", str(f)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["list", "-v", str(tmp_path / "a.tar.gz.lmz")], catch_exceptions=False)
    assert "segments: 1 of 3 segments expanded" in r.output and "zlib level 6" in r.output and f"<- {len(gz)} bytes" in r.output
    f.unlink()
    assert runner.invoke(app, ["-d", "-m", m, str(tmp_path / "a.tar.gz.lmz")]).exit_code == 0
    assert f.read_bytes() == gz
    r = runner.invoke(app, ["-f", "--no-recompress", "-m", m, "--no-progress", str(f)], catch_exceptions=False)
    assert r.exit_code == 0 and lmz.read_header((tmp_path / "a.tar.gz.lmz").read_bytes()).segments is None


def test_random_gzip_inputs_round_trip(tiny_paths):
    rng = np.random.default_rng(3)
    c = api.Compressor(tiny_paths[1])
    for i in range(4):
        parts = [_gz(rng.integers(0, 1 + 40 * i, int(rng.integers(100, 5000)), dtype=np.uint8).tobytes(), int(lv))
                 for lv in rng.integers(1, 10, 2)]
        gz = b"".join(parts) + rng.integers(0, 256, int(rng.integers(0, 50)), dtype=np.uint8).tobytes()
        assert lmz.decompress(c.compress(gz), model=tiny_paths[1]) == gz


def _zip(entries: list[tuple[str, bytes, int]], descriptor: bool = False) -> bytes:
    """A zip archive as Python's zipfile writes it (method 8 with zlib at `level`, or 0: stored)."""
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, level in entries:
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if level else zipfile.ZIP_STORED
            z.writestr(info, data, compresslevel=level or None)
    if not descriptor:
        return buf.getvalue()

    class Pipe(io.RawIOBase):  # not seekable: zipfile streams, sizes in data descriptors after the entries
        def __init__(self):
            self.parts = []

        def writable(self):
            return True

        def write(self, b):
            self.parts.append(bytes(b))
            return len(b)

    out = Pipe()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, _ in entries:
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w") as w:
                w.write(data)
    arc = b"".join(out.parts)
    assert struct.unpack_from("<H", arc, 6)[0] & 8
    return arc


def test_zip_entries():
    arc = _zip([("a.txt", DATA, 6), ("b.bin", bytes(range(256)) * 4, 0), ("c.txt", DATA[::-1], 9),
                ("d.txt", b"short", 6)])
    table, expanded = segments.split(arc)
    assert [s.coded for s in table.segments if s.kind != RAW] == [len(DATA), len(DATA)]
    assert _rebuild(table, expanded, 333) == arc
    for descriptor in (False, True):
        assert segments.split(_zip([("x", DATA, 6)], descriptor)) is not None
    assert segments.split(b"PK\x03\x04" + bytes(40)) is None


def test_zip_round_trip_through_the_api(tiny_paths):
    arc = _zip([("a.txt", DATA, 6), ("c.txt", DATA[::-1], 9)])
    blob = api.Compressor(tiny_paths[1]).compress(arc)
    assert lmz.read_header(blob).segments.deflated == 2
    assert lmz.decompress(blob, model=tiny_paths[1]) == arc


def _png(level: int = 6, strategy: int = zlib.Z_FILTERED, chunk: int = 8192, mem: int = 8, crc_ok: bool = True,
         interlace: int = 0) -> bytes:
    """A 60x50 RGB PNG as libpng writes it: rows with a filter byte, one zlib stream cut into IDAT
    chunks of `chunk` bytes."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:50, 0:60]
    rgb = np.stack([x * 3 + y, y * 4, 255 - x * 2], axis=2) + rng.integers(0, 9, (50, 60, 3))
    rows = b"".join(b"\x00" + r.astype(np.uint8).tobytes() for r in rgb)
    c = zlib.compressobj(level, zlib.DEFLATED, 15, mem, strategy)
    z = c.compress(rows) + c.flush()

    def chunk_(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) ^ (0 if crc_ok or kind != b"IDAT" else 1)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    idat = b"".join(chunk_(b"IDAT", z[i:i + chunk]) for i in range(0, len(z), chunk))
    return (segments.PNG_SIGNATURE + chunk_(b"IHDR", struct.pack(">IIBBBBB", 60, 50, 8, 2, 0, 0, interlace))
            + chunk_(b"tEXt", b"Software\0lmz tests") + idat + chunk_(b"IEND", b""))


@pytest.mark.parametrize("level,strategy,chunk,mem", [(6, zlib.Z_FILTERED, 1024, 8), (9, zlib.Z_DEFAULT_STRATEGY, 500, 9),
                                                      (1, zlib.Z_FILTERED, 65536, 8)])
def test_png(level, strategy, chunk, mem):
    png = _png(level, strategy, chunk, mem)
    table, expanded = segments.split(png)
    seg = table.segments[0]  # the PNG up to its last IDAT chunk, coded as its pixels; IEND raw
    assert [s.kind for s in table.segments] == [segments.PNG_PIXELS, RAW] and table.segments[1].size == 12
    assert seg.chunk <= chunk and seg.head == png.index(b"IDAT") - 4
    pam = b"P7\nWIDTH 60\nHEIGHT 50\nDEPTH 3\nMAXVAL 255\nENDHDR\n"
    assert expanded == pam + png_pixels(png) + bytes(50) + png[:seg.head] + png[-12:]
    assert Table.read(ct.Reader(table.pack())) == table
    assert _rebuild(table, expanded, 777) == png
    # an interlaced image keeps its filtered rows (kind PNG_IDAT)
    png = _png(level, strategy, chunk, mem, interlace=1)
    table, expanded = segments.split(png)
    [seg] = [s for s in table.segments if s.kind != RAW]
    assert seg.kind == segments.PNG_IDAT and seg.chunk <= chunk and seg.coded == 50 * 181  # one chunk: its size
    assert _rebuild(table, expanded, 777) == png


def png_pixels(png: bytes) -> bytes:
    """The RGB pixels of a PNG made by _png (its rows have filter type None)."""
    pos, z = 8, b""
    while pos < len(png):
        n, kind = struct.unpack_from(">I4s", png, pos)
        z += png[pos + 8:pos + 8 + n] if kind == b"IDAT" else b""
        pos += 12 + n
    rows = zlib.decompress(z)
    return b"".join(rows[r * 181 + 1:(r + 1) * 181] for r in range(50))


def test_png_that_stays_raw():
    assert segments.split(_png(crc_ok=False)) is None  # a bad IDAT CRC
    png = _png(chunk=1024)
    first = png.index(b"IDAT") - 4  # IDAT chunks of uneven sizes: a 1024-byte chunk cut in two
    n = struct.unpack_from(">I", png, first)[0]
    body = png[first + 8:first + 8 + n]
    halves = b"".join(struct.pack(">I", len(b)) + b"IDAT" + b + struct.pack(">I", zlib.crc32(b"IDAT" + b))
                      for b in (body[:300], body[300:]))
    assert segments.split(png[:first] + halves + png[first + 12 + n:]) is None


def test_png_round_trip_through_the_api(tiny_paths):
    png = _png()
    blob = api.Compressor(tiny_paths[1]).compress(png)
    assert lmz.read_header(blob).segments.segments[0].kind == segments.PNG_PIXELS
    assert lmz.decompress(blob, model=tiny_paths[1]) == png


def test_largest_table_fits_a_header():
    big = Segment(segments.PNG_PIXELS, deflate.bound(segments.MAX_INFLATED) + segments.MAX_HEAD, segments.MAX_INFLATED,
                  9, 9, 15, deflate.FILTERED, (1 << 31) - 1, segments.MAX_HEAD)
    segs = (big,) * segments.MAX_SEGMENTS
    table = Table(segs, sum(s.size for s in segs), 0)
    assert len(table.pack()) <= segments.MAX_TABLE
    assert ct.read_header(ct.Header("ab" * 8, "m", segments=table).pack()).segments == table
