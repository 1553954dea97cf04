"""Seek index, lmz.open (random access), --range, and frame-parallel coding (-T N)."""
from __future__ import annotations

import io
import struct

import pytest
from conftest import TEXT
from typer.testing import CliRunner

import lmz
from lmz.runtime import api
from lmz.runtime import container as ct
from lmz.runtime.cli import app

DATA = (TEXT * 4)[:6000]  # 6 frames of 1000 bytes
FS = 1000


def _blob(model, index, data=DATA, **kw):
    return api.Compressor(model, mix="off", frame_size=FS, index=index, **kw).compress(data)


@pytest.fixture(scope="module")
def blobs(fake_model):
    return {i: _blob(fake_model, i) for i in (False, True)}


def test_index_layout_and_sequential_decode(fake_model, blobs):
    plain, seek = blobs[False], blobs[True]
    assert not lmz.read_header(plain).index and lmz.read_header(seek).index
    assert plain[-len(ct.INDEX_MAGIC):] != ct.INDEX_MAGIC and seek.endswith(ct.INDEX_MAGIC)
    m = struct.unpack("<I", seek[-8:-4])[0]
    entries = ct.parse_index(seek[-8 - m: -8], FS)
    assert [n for _, n in entries] == [FS] * 6
    h = lmz.read_header(seek)
    assert h.size + sum(c for c, _ in entries) + len(ct.pack_end(len(DATA), 0)) + m + 8 == len(seek)
    # the frames and end marker are the same bytes; only the header flag and the index differ
    assert seek[h.size: -8 - m] == plain[h.size:]
    for blob in (seek, seek + plain, plain + seek, seek + seek):
        assert api.Decompressor(fake_model).decompress(blob) == DATA * (len(blob) // len(seek) if blob == seek + seek
                                                                         else 1 if blob == seek else 2)


def test_default_writes_no_index(fake_model, blobs):
    assert api.Compressor(fake_model, mix="off", frame_size=FS).compress(DATA) == blobs[False]


@pytest.mark.parametrize("where", ["count", "entry", "length", "tag"])
def test_corrupt_index_is_refused(fake_model, blobs, where):
    seek = bytearray(blobs[True])
    m = struct.unpack("<I", seek[-8:-4])[0]
    pos = {"count": len(seek) - 8 - m, "entry": len(seek) - 8 - m + 1, "length": len(seek) - 8,
           "tag": len(seek) - 1}[where]
    seek[pos] ^= 0x01
    with pytest.raises(lmz.CorruptError):
        api.Decompressor(fake_model).decompress(bytes(seek))


def test_truncated_index_is_refused(fake_model, blobs):
    with pytest.raises(lmz.FormatError):
        api.Decompressor(fake_model).decompress(blobs[True][:-3])


@pytest.mark.parametrize("kind", ["index", "plain", "concatenated"])
def test_open_reads_and_seeks(fake_model, blobs, kind, monkeypatch):
    blob = {"index": blobs[True], "plain": blobs[False], "concatenated": blobs[True] + blobs[False]}[kind]
    want = DATA * (2 if kind == "concatenated" else 1)
    decoded = []
    real = api.Decompressor._decode_frame

    def counting(self, model, spec, f, offset):
        decoded.append(offset)
        return real(self, model, spec, f, offset)

    monkeypatch.setattr(api.Decompressor, "_decode_frame", counting)
    with lmz.open(io.BytesIO(blob), model=fake_model) as f:
        assert f.seekable() and f.readable() and f.size == len(want)
        assert f.seek(-100, io.SEEK_END) == len(want) - 100
        assert f.read() == want[-100:]
        assert len(decoded) == 1  # only the last frame
        f.seek(FS - 10)
        assert f.read(20) == want[FS - 10: FS + 10] and f.tell() == FS + 10
        assert f.read(0) == b""
        f.seek(5)
        buf = bytearray(50)
        assert f.readinto(buf) == 50 and bytes(buf) == want[5:55]
        f.seek(len(want) + 10)
        assert f.read(5) == b""
        f.seek(0)
        assert f.read() == want
        assert io.BufferedReader(f).read(7) if False else True
    assert f.closed
    with pytest.raises(ValueError):
        f.read(1)


def test_open_path_and_textio(fake_model, blobs, tmp_path):
    p = tmp_path / "x.lmz"
    p.write_bytes(blobs[True])
    with lmz.open(p, model=fake_model) as f:
        lines = io.TextIOWrapper(f, encoding="latin-1").readlines()
    assert "".join(lines).encode("latin-1") == DATA


def test_open_write_then_read(fake_model, tmp_path):
    p = tmp_path / "w.lmz"
    with lmz.open(p, "wb", model=fake_model, mix="off", frame_size=FS) as w:
        for i in range(0, len(DATA), 700):
            w.write(DATA[i: i + 700])
    blob = p.read_bytes()
    assert lmz.read_header(blob).index and blob.endswith(ct.INDEX_MAGIC)
    assert api.Decompressor(fake_model).decompress(blob) == DATA
    with lmz.open(p, model=fake_model) as f:
        f.seek(2500)
        assert f.read(1000) == DATA[2500:3500]


def test_open_refuses_bad_input(fake_model, blobs):
    with pytest.raises(lmz.FormatError):
        lmz.open(io.BytesIO(b"not lmz at all" * 3), model=fake_model)
    with pytest.raises(lmz.FormatError):
        lmz.open(io.BytesIO(blobs[False] + b"junk"), model=fake_model)
    with pytest.raises(lmz.UsageError):
        lmz.open(io.BytesIO(blobs[True]), "ab")


def test_parallel_output_identical(fake_model, blobs):
    with api.Compressor(fake_model, mix="off", frame_size=FS, index=True, threads=2) as c:
        assert c.compress(DATA) == blobs[True]
        assert c.compress(DATA[:1500]) == _blob(fake_model, True, DATA[:1500])  # the pool is reused
    with api.Decompressor(fake_model, threads=2) as d:
        assert d.decompress(blobs[True] + blobs[False]) == DATA + DATA
        bad = bytearray(blobs[False])
        bad[-1] ^= 1  # the end marker's CRC
        with pytest.raises(lmz.ChecksumError):
            d.decompress(bytes(bad))


def test_parallel_lane_size_frames(fake_model):
    kw = dict(mix="off", frame_size=FS, lane_size=300, index=True)
    one = api.Compressor(fake_model, **kw).compress(DATA[:2500])
    with api.Compressor(fake_model, threads=2, **kw) as c:
        assert c.compress(DATA[:2500]) == one
    assert api.Decompressor(fake_model).decompress(one) == DATA[:2500]
    with lmz.open(io.BytesIO(one), model=fake_model) as f:
        assert f.frame_count > 3
        f.seek(1900)
        assert f.read() == DATA[1900:2500]


# -- the command line -----------------------------------------------------------------------------
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_cli_seekable_threads_and_range(tmp_path, tiny_paths):
    m = tiny_paths[1]
    f = tmp_path / "a.txt"
    f.write_bytes(TEXT)
    assert run("compress", "--mix", "off", "-m", m, "-q", "-o", tmp_path / "one.lmz", f).exit_code == 0
    r = run("-T", "2", "--seekable", "--mix", "off", "-m", m, "-q", "-o", tmp_path / "two.lmz", f)
    assert r.exit_code == 0, r.output
    one, two = (tmp_path / "one.lmz").read_bytes(), (tmp_path / "two.lmz").read_bytes()
    assert two.endswith(ct.INDEX_MAGIC) and not one.endswith(ct.INDEX_MAGIC)
    h = lmz.read_header(one)
    assert two[h.size: h.size + len(one) - h.size] == one[h.size:]
    r = run("decompress", "-T", "2", "-m", m, "-q", "-o", tmp_path / "back", tmp_path / "two.lmz")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "back").read_bytes() == TEXT
    for z in ("one.lmz", "two.lmz"):
        r = run("decompress", "--range", "100:250", "-m", m, "-q", "-o", tmp_path / f"{z}.part", tmp_path / z)
        assert r.exit_code == 0, r.output
        assert (tmp_path / f"{z}.part").read_bytes() == TEXT[100:250]
    r = run("-d", "--range", "1500:", "-m", m, "-c", tmp_path / "two.lmz")
    assert r.exit_code == 0 and r.stdout_bytes == TEXT[1500:]
    assert run("-d", "--range", "9:3", "-m", m, "-c", tmp_path / "two.lmz").exit_code == 1
    assert run("-d", "--range", "abc", "-m", m, "-c", tmp_path / "two.lmz").exit_code == 1
    assert run("--range", "1:3", "-m", m, "-c", f).exit_code == 1  # compressing


def test_parallel_onnx_identical(tiny_paths):
    """Workers open the ONNX model themselves (by path) with 1 intra-op thread each."""
    data = TEXT[:1200]
    kw = dict(mix="on", frame_size=400)
    one = api.Compressor(tiny_paths[8], **kw).compress(data)
    with api.Compressor(tiny_paths[8], threads=2, **kw) as c:
        assert c.compress(data) == one
    with api.Decompressor(tiny_paths[1], threads=2) as d:  # decoding runs the one-step graph
        assert d.decompress(one) == data


def test_parallel_error_stops_workers(fake_model):
    class Failing(io.BytesIO):
        def read(self, n=-1):
            if self.tell() >= 2 * FS:
                raise OSError("disk gone")
            return super().read(n)

    c = api.Compressor(fake_model, mix="off", frame_size=FS, threads=2)
    with pytest.raises(OSError):
        c.copy_stream(Failing(DATA), io.BytesIO())
    assert c._pool.dead  # killed at once, not waited for
    assert c.compress(DATA[:1500]) == _blob(fake_model, False, DATA[:1500])  # a new pool
    c.close()
