"""Records files (docs/FORMAT.md, "Records file"): round trips, random access through the index,
the CLI, and damage: every corrupt or truncated file is an LmzError, never wrong bytes."""
from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from conftest import TEXT
from typer.testing import CliRunner

import lmz
from lmz.runtime import container as ct
from lmz.runtime import recordfile as rf
from lmz.runtime.cli import app
from lmz.runtime.errors import LmzError

LINES = [TEXT[i: i + n] + b"\n" for i, n in zip(range(0, 900, 31), [0, 3, 40, 7, 90, 12, 200, 1, 64] * 3)]


def _file(model, recs, **kw) -> bytes:
    buf = io.BytesIO()
    w = rf.RecordsWriter(buf, model, **kw)
    w.write_many(recs)
    w.close()
    return buf.getvalue()


def test_round_trip_random_access_and_no_index(fake_model):
    for index in (True, False):
        blob = _file(fake_model, LINES, batch=5, index=index)
        h = ct.read_header(blob, records=True)
        assert h.records and h.index == index
        with rf.RecordsReader(io.BytesIO(blob), fake_model) as r:
            assert len(r) == len(LINES) and r.framing_name == "lines"
            assert list(r) == LINES
            assert r[3] == LINES[3] and r[-1] == LINES[-1]
            assert r.get(7, 0, 7) == [LINES[7], LINES[0], LINES[7]]
            assert list(r.lengths) == [len(x) for x in LINES]
            with pytest.raises(lmz.UsageError):
                r[len(LINES)]
        _, framing, names, it = rf.iter_file(io.BytesIO(blob), fake_model)  # a pipe: read in order
        assert list(it) == LINES and names is None


def test_a_record_is_its_blob_and_the_header_names_the_model(fake_model):
    blob = _file(fake_model, LINES)
    h = ct.read_header(blob, records=True)
    assert h.model_name == "fake" and lmz.compress_records([LINES[2]], model=fake_model)[0] in blob
    with pytest.raises(lmz.FormatError, match="records file"):  # a plain reader refuses it clearly
        lmz.decompress(blob, model=fake_model)
    with pytest.raises(lmz.FormatError, match="not a records file"):
        rf.RecordsReader(io.BytesIO(lmz.compress(b"abc", model=fake_model, mix="off")), fake_model)


def test_empty_file_and_empty_records(fake_model):
    for recs in ([], [b""], [b"", b"x", b""]):
        blob = _file(fake_model, recs)
        with rf.RecordsReader(io.BytesIO(blob), fake_model) as r:
            assert len(r) == len(recs) and list(r) == recs


def test_framings_round_trip(fake_model):
    recs = [b"\x00\x01binary\n", b"", TEXT[:300]]
    for kind in ("u32", "varint"):
        src = b"".join(rf.join_prefixed(x, rf.FRAMINGS[kind]) for x in recs)
        assert list(rf.split_prefixed(io.BytesIO(src), kind)) == recs
        with pytest.raises(lmz.UsageError):
            list(rf.split_prefixed(io.BytesIO(src[:-1]), kind))
    assert list(rf.split_lines(io.BytesIO(b"a\nb\n\nc"))) == [b"a\n", b"b\n", b"\n", b"c"]


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../b", "", "a//b", "a\\b", "./a"])
def test_unsafe_names_are_refused(name):
    with pytest.raises(lmz.CorruptError):
        rf.check_name(name)


def _decode_all(blob, model):
    with rf.RecordsReader(io.BytesIO(blob), model) as r:
        return list(r), r.get(0, len(r) - 1)


def test_damage_is_an_error_never_wrong_bytes(fake_model):
    recs = [x for x in LINES if len(x) < 50][:8]
    blob = _file(fake_model, recs)
    rng = np.random.default_rng(0)
    cuts = list(range(0, len(blob), 11)) + [len(blob) - 1]
    flips = [(int(p), 1 << int(rng.integers(8))) for p in rng.integers(0, len(blob), 120)]
    damaged = [blob[:c] for c in cuts] + [blob[:p] + bytes([blob[p] ^ b]) + blob[p + 1:] for p, b in flips]
    damaged += [blob + b"\x00", blob + blob]
    errors = 0
    for d in damaged:
        try:
            whole, one_by_one = _decode_all(d, fake_model)
            assert whole == recs and one_by_one == [recs[0], recs[-1]]
        except LmzError:
            errors += 1
        try:
            assert list(rf.iter_file(io.BytesIO(d), fake_model)[3]) == recs
        except LmzError:
            errors += 1
    assert errors > len(damaged)  # most damage is detected (the rest decodes to the right records)


def test_index_that_lies_is_refused(fake_model):
    blob = bytearray(_file(fake_model, LINES[:4]))
    m = struct.unpack("<I", blob[-8:-4])[0]
    body = ct.pack_index([(5, 1), (5, 1), (5, 1), (5, 1)])  # wrong sizes, right count
    bad = bytes(blob[: len(blob) - 8 - m]) + body
    with pytest.raises(LmzError):
        rf.RecordsReader(io.BytesIO(bad), fake_model)


runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_cli_lines_files_and_get(tmp_path, tiny_paths):
    m = tiny_paths[1]
    src = tmp_path / "ev.jsonl"
    data = b"".join(b'{"id": %d, "msg": "%s"}\n' % (i, TEXT[i: i + 20]) for i in range(40)) + b'{"last": 1}'
    src.write_bytes(data)
    r = run("records", "compress", "-m", m, src)
    assert r.exit_code == 0, r.output
    z = tmp_path / "ev.jsonl.lmzr"
    assert z.exists()
    src.rename(tmp_path / "orig.jsonl")
    r = run("records", "extract", "-m", m, z)
    assert r.exit_code == 0, r.output
    assert src.read_bytes() == data
    r = run("records", "get", "-m", m, z, 3, -1)
    assert r.exit_code == 0 and r.stdout_bytes == data.split(b"\n")[3] + b"\n" + b'{"last": 1}'
    r = run("records", "list", z)
    assert r.exit_code == 0 and "41 records" in r.output and "framing lines" in r.output
    r = run("records", "get", "-m", m, z, 41)
    assert r.exit_code == 1
    # a directory of small files
    d = tmp_path / "mail"
    (d / "sub").mkdir(parents=True)
    files = {"a.txt": TEXT[:50], "sub/b.eml": TEXT[50:300], "sub/empty": b""}
    for k, v in files.items():
        (d / k).write_bytes(v)
    r = run("records", "compress", "-m", m, d, "-o", tmp_path / "mail.lmzr")
    assert r.exit_code == 0, r.output
    r = run("records", "extract", "-m", m, tmp_path / "mail.lmzr", "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert {k: (tmp_path / "out" / k).read_bytes() for k in files} == files
    # damage: exit code 2, nothing partial left behind
    bad = bytearray(z.read_bytes())
    bad[len(bad) // 2] ^= 0x10
    (tmp_path / "bad.jsonl.lmzr").write_bytes(bytes(bad))
    r = run("records", "extract", "-m", m, tmp_path / "bad.jsonl.lmzr")
    assert r.exit_code == 2 and not (tmp_path / "bad.jsonl").exists()


def test_layout_is_as_documented(fake_model):
    """docs/FORMAT.md, Records file: header (flags 0x0C), framing, varint b + blob per record, end
    marker, seek index; byte for byte."""
    recs = [b"a,b\n", b"", b"1,2\n"]
    blob = _file(fake_model, recs, framing="lines")
    h = ct.read_header(blob, records=True)
    assert blob[:6] == b"\x89LMZ\x02\x0c" and h.stack_id == 0 and h.max_frame == 1 << 24
    blobs = lmz.compress_records(recs, model=fake_model)
    body = bytes([0]) + b"".join(ct.varint(len(b)) + b for b in blobs)
    import zlib
    end = ct.pack_end(sum(map(len, recs)), zlib.crc32(b"".join(recs)))
    index = ct.pack_index([(len(ct.varint(len(b))) + len(b), len(r)) for b, r in zip(blobs, recs)])
    assert blob == blob[:h.size] + body + end + index
