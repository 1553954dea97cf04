"""Dictionaries: records coded from a mix stack primed on the user's data, each on its own."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from conftest import TEXT
from typer.testing import CliRunner

import lmz
from lmz.runtime import dictionary as dm
from lmz.runtime import stack_params as sp
from lmz.runtime.cli import app
from lmz.runtime.container import varint
from lmz.runtime.errors import ChecksumError, LmzError, ModelMismatchError, UsageError

GOLDEN = Path(__file__).parent / "golden" / "dict1"
PRIME = b"".join(b'{"id": %d, "name": "%s", "ok": %s}\n' % (i, TEXT[i % 97: i % 97 + 12], b"true" if i % 3 else b"false")
                 for i in range(120))
RECS = [b'{"id": 7, "name": "It was the b", "ok": true}\n' * 3, b"", b"x", TEXT[:300],
        b'{"id": 1000, "name": "new", "ok": false}\n', bytes(range(256))]


@pytest.fixture(scope="module")
def d():
    return lmz.train_dictionary([PRIME])


def test_round_trip_alone_and_in_any_order(d):
    blobs = lmz.compress_records(RECS, dictionary=d)
    assert lmz.decompress_records(blobs, dictionary=d) == RECS
    assert list(lmz.iter_decompress_records(blobs, dictionary=d, batch=2)) == RECS
    for i in range(len(RECS)):  # each decodes without the others, whatever came before
        assert lmz.decompress_record(blobs[i], dictionary=d) == RECS[i]
    # a record's bytes do not depend on the records coded before it, nor on the threads
    assert lmz.compress_records(RECS[::-1], dictionary=d) == blobs[::-1]
    assert lmz.compress_records(RECS * 2, dictionary=d, threads=2) == blobs * 2
    assert lmz.decompress_records(blobs * 2, dictionary=d, threads=2) == RECS * 2
    # the prime is what the dictionary is for: a record like it codes far smaller than without it
    other = lmz.train_dictionary([bytes(range(256)) * 4])
    assert len(blobs[0]) * 2 < len(lmz.compress_records(RECS[:1], dictionary=other)[0])


def test_file_round_trip_and_fingerprint(d, tmp_path):
    p = tmp_path / "d.lmzd"
    p.write_bytes(d.to_bytes())
    e = lmz.Dictionary.load(p)
    assert e.fingerprint == d.fingerprint and e.prime == PRIME and e.spec.params == d.spec.params
    assert e.spec.params["columns"] == 1
    assert lmz.compress_records(RECS, dictionary=e) == lmz.compress_records(RECS, dictionary=d)


def test_sampling_a_prime_from_large_samples():
    big = [bytes([i]) * 5000 for i in range(40)]  # 200,000 bytes
    d = lmz.train_dictionary(big, size=3 * dm.PIECE)
    assert len(d.prime) == 3 * dm.PIECE and d.prime[0] == 0 and d.prime[-2] != 0 and d.prime[-1:] == b"\n"
    with pytest.raises(UsageError):
        lmz.train_dictionary([])
    with pytest.raises(UsageError):
        lmz.train_dictionary([b"a"], size=0)


def test_golden_records_decode():
    """Pinned bits: a dictionary file and records coded with it (tests/golden/make_golden.py writes new
    folders; never this one)."""
    d = lmz.Dictionary.load(GOLDEN / "dict.lmzd")
    blobs = _split((GOLDEN / "records.bin").read_bytes())
    raw = (GOLDEN / "raw.bin").read_bytes().split(b"\0")
    assert lmz.decompress_records(blobs, dictionary=d) == raw
    assert lmz.compress_records(raw, dictionary=d) == blobs


def _split(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = struct.unpack_from("<I", data, i)[0]
        out.append(data[i + 4: i + 4 + n])
        i += 4 + n
    return out


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_damaged_dictionary_files_are_errors(d):
    good = d.to_bytes()
    blob = d.spec.blob
    bad = [b"", good[:3], b"LMZX" + good[4:], good[:-1], good[:40], good + b"\0",
           good[:10] + bytes([good[10] ^ 4]) + good[11:],  # a flipped bit: the CRC
           _with_crc(b"LMZD\x02" + varint(len(blob)) + blob + varint(len(PRIME)) + PRIME),  # version 2
           _with_crc(b"LMZD\x01" + varint(len(blob)) + blob + varint(len(PRIME) + 9) + PRIME),  # prime length lies
           _with_crc(b"LMZD\x01" + varint(1 << 40) + blob),  # parameters length lies
           _with_crc(b"LMZD\x01" + varint(2) + b"{}" + varint(1) + b"a"),  # the base preset: it uses the model
           _with_crc(b"LMZD\x01" + varint(len(blob)) + blob + varint(0))]  # no prime
    model_params = sp.dump_params(dict(d.spec.params, use_model=True))
    bad.append(_with_crc(b"LMZD\x01" + varint(len(model_params)) + model_params + varint(1) + b"a"))
    junk = sp.dump_params(dict(d.spec.params, orders=[0, 9]))
    bad.append(_with_crc(b"LMZD\x01" + varint(len(junk)) + junk + varint(1) + b"a"))
    huge = sp.dump_params(dict(d.spec.params, bh_bits=30))  # 2 GiB of bit histories: refused before allocating
    bad.append(_with_crc(b"LMZD\x01" + varint(len(huge)) + huge + varint(1) + b"a"))
    for b in bad:
        with pytest.raises(LmzError):
            lmz.Dictionary.from_bytes(b)


def test_wrong_dictionary_or_damaged_record_never_gives_wrong_bytes(d):
    blob = lmz.compress_records([TEXT[:200]], dictionary=d)[0]
    other = lmz.train_dictionary([TEXT])
    with pytest.raises(ChecksumError):
        lmz.decompress_record(blob, dictionary=other)
    for b in [blob[:1], blob[:2], blob[:-3], bytes([blob[0] ^ 0x40]) + blob[1:],
              blob[:3] + bytes([blob[3] ^ 1]) + blob[4:], b"\xff\xff\xff\x7f\x00\x00abc"]:
        try:
            got = lmz.decompress_record(b, dictionary=d)
        except LmzError:
            continue
        assert got == TEXT[:200]


def test_records_file_with_a_dictionary(d, tmp_path, fake_model):
    lines = [r + b"\n" for r in TEXT.split(b"\n")[:2]] + [b'{"id": 5, "ok": true}\n'] * 4
    p = tmp_path / "r.lmzr"
    with lmz.RecordsWriter(p, dictionary=d) as w:
        w.write_many(lines)
    with lmz.RecordsReader(p, dictionary=d) as r:
        assert len(r) == len(lines) and r[2] == lines[2] and list(r) == lines
        assert r.header.fingerprint == d.fingerprint[:16] and r.model is None
    with pytest.raises(UsageError, match="made with a dictionary"):
        lmz.RecordsReader(p)[0]
    with pytest.raises(ModelMismatchError):
        lmz.RecordsReader(p, dictionary=lmz.train_dictionary([TEXT]))[0]
    with pytest.raises(UsageError, match="not both"):
        lmz.RecordsWriter(tmp_path / "x.lmzr", model=fake_model, dictionary=d)


def test_cli_train_dict_compress_get_extract(tmp_path):
    run = CliRunner().invoke
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "a.jsonl").write_bytes(PRIME[:3000])
    (tmp_path / "samples" / "b.jsonl").write_bytes(PRIME[3000:])
    dpath = tmp_path / "d.lmzd"
    r = run(app, ["records", "train-dict", str(tmp_path / "samples"), "-o", str(dpath)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert lmz.Dictionary.load(dpath).prime == PRIME
    src = tmp_path / "ev.jsonl"
    data = b"".join(RECS[:1] + RECS[4:5]) * 3
    src.write_bytes(data)
    r = run(app, ["records", "compress", "--dict", str(dpath), "-T", "2", str(src)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    z = tmp_path / "ev.jsonl.lmzr"
    r = run(app, ["records", "get", "--dict", str(dpath), str(z), "1"], catch_exceptions=False)
    assert r.exit_code == 0 and r.stdout_bytes == data.split(b"\n")[1] + b"\n"
    r = run(app, ["records", "list", str(z)], catch_exceptions=False)  # nothing decoded: no dictionary needed
    assert r.exit_code == 0 and "dictionary" in r.output
    r = run(app, ["records", "extract", "--dict", str(dpath), str(z), "-o", str(tmp_path / "back")],
            catch_exceptions=False)
    assert r.exit_code == 0 and (tmp_path / "back").read_bytes() == data
    r = run(app, ["records", "extract", str(z), "-o", str(tmp_path / "back2")], catch_exceptions=False)
    assert r.exit_code != 0 and "--dict" in r.output and not (tmp_path / "back2").exists()
    r = run(app, ["records", "compress", "--dict", str(tmp_path / "nope"), str(src), "-f"], catch_exceptions=False)
    assert r.exit_code != 0 and "no such dictionary" in r.output


def test_primed_state_cache(tmp_path, monkeypatch):
    """A second load reads the primed state from the cache; a damaged or foreign cache file is
    ignored (primed again); with the cache off nothing is written. Always the same bytes."""
    monkeypatch.setenv("LMZ_CACHE_DIR", str(tmp_path))
    d = lmz.train_dictionary([PRIME + b"cache test\n"])
    want = lmz.compress_records(RECS, dictionary=d)
    (f,) = list(tmp_path.iterdir())
    assert f.name == f"dict-{d.fingerprint[:32]}.npz"
    e = lmz.Dictionary.from_bytes(d.to_bytes())
    assert lmz.compress_records(RECS, dictionary=e) == want
    raw = bytearray(f.read_bytes())
    for damage in (raw[: len(raw) // 2], raw[:-300] + bytes(300), b"not a cache"):
        f.write_bytes(bytes(damage))
        e = lmz.Dictionary.from_bytes(d.to_bytes())
        assert lmz.compress_records(RECS, dictionary=e) == want
    # a cache file of another dictionary under this one's name: its arrays' shapes or digest differ
    other = lmz.train_dictionary([TEXT])
    other.primed()
    (tmp_path / f"dict-{other.fingerprint[:32]}.npz").replace(f)
    e = lmz.Dictionary.from_bytes(d.to_bytes())
    assert lmz.compress_records(RECS, dictionary=e) == want
    monkeypatch.setenv("LMZ_CACHE_DIR", "")
    for p in tmp_path.iterdir():
        p.unlink()
    e = lmz.Dictionary.from_bytes(d.to_bytes())
    assert lmz.compress_records(RECS, dictionary=e) == want and not list(tmp_path.iterdir())
