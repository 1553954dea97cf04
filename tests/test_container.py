"""The container: header round trip, reserved bits, bad magic/version, truncation and bit flips give
clear LmzError subclasses (never another exception), incompressible data barely grows."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from conftest import TEXT

from lmz.runtime import api
from lmz.runtime import container as ct
from lmz.runtime import stack_params as sp
from lmz.runtime.errors import ChecksumError, CorruptError, FormatError, LmzError, TruncatedError

FP = "12" * 32


MIX_DEFAULT = sp.dump_params(sp.PRESETS[sp.STACK_MIX][1])


@pytest.mark.parametrize("size", [None, 0, 12345, 2**40])
@pytest.mark.parametrize("params", [MIX_DEFAULT, sp.dump_params(dict(sp.PRESETS[sp.STACK_MIX][1], table_bits=16))])
def test_header_round_trip(size, params):
    h = ct.Header(FP, "text", ct.STACK_MIX, params, 1 << 20, size)
    b = h.pack()
    g = ct.read_header(b + b"rest")
    assert g == ct.Header(FP[:16], "text", ct.STACK_MIX, params, 1 << 20, size) and g.size == len(b)
    assert b[:4] == b"\x89LMZ" and b[0] >= 0x80 and b[4] == 2
    assert len(b) <= 40 + len(b"table_bits") + 8  # a preset id, not the parameters


def test_default_headers_are_small():
    """A default stream's header is a preset id (the whole parameter set was 467 bytes in version 1)."""
    assert len(ct.Header(FP, "text", ct.STACK_MIX, MIX_DEFAULT, 1 << 22, 1500).pack()) <= 40
    assert len(ct.Header(FP, "text").pack()) <= 40
    assert len(ct.pack_end(1500, 0)) <= 8


def _repack(b: bytes, **fields) -> bytes:
    """Rewrite version/flags of a packed header and fix its checksum (to test the field checks)."""
    body = bytearray(b[:-4])
    if "version" in fields:
        body[4] = fields["version"]
    if "flags" in fields:
        body[5] = fields["flags"]
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def test_header_errors():
    b = ct.Header(FP, "m").pack()
    with pytest.raises(FormatError, match="not an lmz stream"):
        ct.read_header(b"PK\x03\x04" + b[4:])
    with pytest.raises(FormatError, match="not an lmz stream"):
        ct.read_header(b"\x89L")
    with pytest.raises(FormatError, match="version 3"):
        ct.read_header(_repack(b, version=3))
    with pytest.raises(FormatError, match="reserved"):
        ct.read_header(_repack(b, flags=0x80))
    with pytest.raises(ChecksumError, match="header checksum"):
        ct.read_header(b[:12] + bytes([b[12] ^ 1]) + b[13:])
    for n in range(4, len(b)):
        with pytest.raises(FormatError):
            ct.read_header(b[:n])


def test_varint():
    for v in [0, 1, 127, 128, 300, 2**32, 2**63]:
        assert ct.Reader(ct.varint(v)).varint("x") == v
    with pytest.raises(CorruptError):
        ct.Reader(b"\xff" * 11).varint("x")


def test_lane_lengths():
    assert list(ct.lane_lengths(10, 3)) == [4, 3, 3]
    assert ct.lane_lengths(5, 5).sum() == 5


@pytest.fixture(scope="module")
def blob(fake_model):
    return api.compress(TEXT[:900] + os.urandom(300), model=fake_model, lanes=5, frame_size=700)


def test_structure(blob, fake_model):
    info = api.scan(blob)
    assert info["frames"] == 2 and info["size"] == 1200
    assert api.decompress(blob, model=fake_model)[:900] == TEXT[:900]


def test_truncation_and_trailing_data(blob, fake_model):
    for n in list(range(0, len(blob), 23)) + [len(blob) - 1]:
        with pytest.raises(FormatError):  # TruncatedError or a "not lmz" FormatError
            api.decompress(blob[:n], model=fake_model)
    with pytest.raises(TruncatedError):
        api.decompress(blob[:-3], model=fake_model)
    with pytest.raises(FormatError, match="trailing"):
        api.decompress(blob + b"\0", model=fake_model)


def test_bit_flips_give_lmz_errors(blob, fake_model):
    rng = np.random.default_rng(0)
    positions = sorted(set(rng.integers(0, len(blob), 30).tolist()) | {0, 5, 70, len(blob) - 1})
    for pos in positions:
        bad = bytearray(blob)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            out = api.decompress(bytes(bad), model=fake_model)
        except LmzError as e:
            assert e.exit_code in (2, 3), e
        else:  # a flip may only go unnoticed if it did not change the output (never, in practice)
            assert out == api.decompress(blob, model=fake_model), pos


def test_random_data_grows_by_a_few_bytes(fake_model):
    data = np.random.default_rng(1).bytes(300_000)
    c = api.compress(data, model=fake_model, mix="off", lanes=64)
    header = len(ct.Header(fake_model.info.fingerprint, "fake", content_size=1).pack())
    assert len(c) - len(data) <= header + len(ct.pack_end(len(data), 0)) + 8
    assert api.decompress(c, model=fake_model) == data


def test_expanding_lanes_are_stored(fake_model):
    data = TEXT[:2000] + np.random.default_rng(2).bytes(2000)
    c = api.compress(data, model=fake_model, mix="off", lanes=4)
    f = ct.read_frame(ct.Reader(c[ct.read_header(c).size:]), ct.read_header(c))
    assert f.kind == ct.FRAME_MODELED and f.lane_stored == [False, False, True, True]
    assert api.decompress(c, model=fake_model) == data


def test_lane_checks_catch_a_different_model(fake_model):
    from fakes import FakeModel

    c = api.compress(TEXT, model=fake_model, mix="off", lanes=3)
    other = FakeModel(seed=5)
    other.info.fingerprint = fake_model.info.fingerprint  # a model that lies about its fingerprint
    with pytest.raises(ChecksumError):
        api.decompress(c, model=other)
