"""Records: independent small blobs with 3 bytes of overhead, batched, checked, never wrong bytes."""
from __future__ import annotations

import pytest
from conftest import TEXT

import lmz
from lmz.runtime import records
from lmz.runtime.errors import LmzError

RECS = [TEXT[i: i + n] for i, n in zip(range(0, 900, 37), [1, 2, 5, 40, 80, 300, 7, 0, 64, 129] * 3)]


def test_round_trip_any_order_and_alone(fake_model):
    blobs = lmz.compress_records(RECS, model=fake_model, batch=4)
    assert lmz.decompress_records(blobs, model=fake_model) == RECS
    assert list(lmz.iter_decompress_records(blobs, model=fake_model, batch=3)) == RECS
    for i in (0, 5, 7, len(RECS) - 1):  # each record decodes without the others
        assert lmz.decompress_record(blobs[i], model=fake_model) == RECS[i]
    # the same bytes whatever the batching: a record's coding depends only on the record
    assert lmz.compress_records(RECS, model=fake_model, batch=1) == blobs


def test_overhead_is_three_bytes_under_128(fake_model):
    blobs = lmz.compress_records([b"", b"a", TEXT[:100]], model=fake_model)
    assert blobs[0] == b"\x00" + (0).to_bytes(2, "little")  # an empty record: length 0, crc32(b"") = 0
    assert len(blobs[1]) <= 3 + 2 and len(blobs[2]) < 100


def test_corrupt_and_truncated_records_are_errors(fake_model):
    blob = lmz.compress_records([TEXT[:200]], model=fake_model)[0]
    bad = [blob[:1], blob[:2], b"", blob[:-3], bytes([blob[0] ^ 0x40]) + blob[1:],
           blob[:3] + bytes([blob[3] ^ 1]) + blob[4:], b"\xff\xff\xff\x7f\x00\x00abc", b"\x00\x00\x00extra"]
    for b in bad:
        try:
            got = lmz.decompress_record(b, model=fake_model)
        except LmzError:
            continue
        assert got == TEXT[:200]  # never other bytes


def test_a_huge_claim_is_refused_without_work(fake_model):
    with pytest.raises(LmzError, match="cannot come from|at most"):
        lmz.decompress_record(b"\xff\xff\xff\x07\x00\x00" + bytes(4), model=fake_model)


def test_with_an_onnx_model(tiny_model):
    blobs = records.compress_records(RECS[:6], model=tiny_model)
    assert records.decompress_records(blobs, model=tiny_model) == RECS[:6]
