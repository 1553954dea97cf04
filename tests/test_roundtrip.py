"""Round trips through the lane loop, the container and the API, with the fake model and with tiny
exported ONNX models (chunk 1 and chunk 8: the chunked encoder must give the same bitstream)."""
from __future__ import annotations

import hashlib
import io
import os

import numpy as np
import pytest
from conftest import TEXT
from fakes import FakeModel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmz.runtime import api
from lmz.runtime import container as ct
from lmz.runtime.errors import ModelMismatchError, ModelNotFoundError
from lmz.runtime.lanes import FramePlan, choose_lanes
from lmz.runtime.loop import ModelOnly, decode_frame, encode_frame

CASES = {
    "empty": b"",
    "one": b"x",
    "zero": b"\0",
    "all-equal": b"a" * 3000,
    "random": np.random.default_rng(0).bytes(5000),
    "text": TEXT,
    "binary": bytes(range(256)) * 8 + np.arange(3000, dtype="<u2").tobytes(),
}


@pytest.mark.parametrize("name", CASES)
def test_api_round_trip(name, fake_model):
    data = CASES[name]
    c = api.compress(data, model=fake_model, mix="off")
    assert api.decompress(c, model=fake_model) == data
    assert api.read_header(c).content_size == len(data)


def test_text_compresses(fake_model):
    c = api.compress(TEXT, model=fake_model, mix="off")
    assert len(c) < 0.6 * len(TEXT)


@pytest.mark.parametrize("lanes", [1, 2, 7, 64, 5000])
def test_lane_counts_and_frames(lanes, fake_model):
    data = (TEXT * 3)[:3500]
    c = api.compress(data, model=fake_model, mix="off", lanes=lanes, frame_size=1500)
    assert api.scan(c)["frames"] == 3
    assert api.decompress(c, model=fake_model) == data


def test_choose_lanes():
    assert choose_lanes(0) == 0 and choose_lanes(10) == 1
    assert choose_lanes(1 << 22) == 256 and choose_lanes(40000) == 9
    assert choose_lanes(10, lanes=64) == 10


def test_chunked_encoder_gives_the_same_bits(fake_model):
    data = TEXT[:999]
    ref = encode_frame(fake_model, ModelOnly(), data, FramePlan.cut(0, len(data), 4))
    for c in (3, 8, 2000):
        assert encode_frame(FakeModel(chunk=c), ModelOnly(), data, FramePlan.cut(0, len(data), 4)) == ref
    lens = ct.lane_lengths(len(data), 4)
    assert b"".join(decode_frame(fake_model, ModelOnly(), ref, FramePlan(0, lens))) == data


def test_streaming_api(fake_model):
    data = TEXT * 3
    out = io.BytesIO()
    n, w = api.Compressor(fake_model, mix="off", frame_size=1000).copy_stream(io.BytesIO(data), out)
    assert n == len(data) and w == len(out.getvalue())
    assert api.read_header(out.getvalue()).content_size is None  # unknown size: not recorded
    back = io.BytesIO()
    r, m = api.Decompressor(fake_model).copy_stream(io.BytesIO(out.getvalue()), back)
    assert back.getvalue() == data and r == w and m == len(data)


def test_model_mismatch_and_missing(fake_model):
    c = api.compress(TEXT, model=fake_model, mix="off")
    with pytest.raises(ModelMismatchError, match="mismatch"):
        api.decompress(c, model=FakeModel(seed=3))
    with pytest.raises(ModelNotFoundError, match="fake"):
        api.decompress(c)  # the name recorded in the stream is not an installed model
    with pytest.raises(ModelNotFoundError):
        api.compress(b"x", model="no-such-model")


def test_mix_stack_round_trip(fake_model):
    pytest.importorskip("lmz.runtime.stack")
    data = TEXT[:1500]
    small = dict(table_bits=15, bh_bits=15, hist_bits=10, match_bits=10)
    c = api.compress(data, model=fake_model, mix="on", lanes=3, mix_params=small)
    h = api.read_header(c)
    assert h.stack_name == "mix" and b"\"table_bits\":15" in h.stack_params
    assert api.decompress(c, model=fake_model) == data


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600), lanes=st.integers(1, 40), frame=st.integers(1, 700))
def test_property_round_trip(data, lanes, frame, fake_model):
    c = api.compress(data, model=fake_model, mix="off", lanes=lanes, frame_size=frame)
    assert api.decompress(c, model=fake_model) == data


# -- real (tiny, random-weight) ONNX models ---------------------------------------------------
def test_onnx_loop_round_trip(tiny_model, tiny_model8):
    data = TEXT[:700] + bytes(range(256))
    ref = encode_frame(tiny_model, ModelOnly(), data, FramePlan.cut(0, len(data), 5))
    assert encode_frame(tiny_model8, ModelOnly(), data, FramePlan.cut(0, len(data), 5)) == ref  # chunked graph, same bits
    lens = ct.lane_lengths(len(data), 5)
    assert b"".join(decode_frame(tiny_model, ModelOnly(), ref, FramePlan(0, lens))) == data


@pytest.mark.parametrize("data", [b"", b"q", b"abc", TEXT[:2000]])
def test_onnx_api_round_trip(data, tiny_paths):
    c = api.compress(data, model=tiny_paths[8], mix="off", provider="cpu", lanes=3)  # shorter than a chunk too
    assert api.decompress(c, model=tiny_paths[1], provider="cpu") == data
    assert api.read_header(c).model_name == "tiny8"


# -- big streams (LMZ_SLOW=1) -----------------------------------------------------------------
class _Gen(io.RawIOBase):
    """`size` bytes of half-text, half-random data, generated on the fly."""

    def __init__(self, size):
        self.left, self.rng, self.h = size, np.random.default_rng(0), hashlib.sha256()

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.left, 1 << 20)
        blk = (TEXT * (n // len(TEXT) + 1))[:n]
        blk = bytes(np.where(self.rng.random(n) < 0.1, self.rng.integers(0, 256, n),
                             np.frombuffer(blk, np.uint8)).astype(np.uint8))
        b[:n] = blk
        self.h.update(blk)
        self.left -= n
        return n


class _Hash:
    def __init__(self):
        self.h = hashlib.sha256()

    def write(self, b):
        self.h.update(b)
        return len(b)


@pytest.mark.skipif(os.environ.get("LMZ_SLOW") != "1", reason="set LMZ_SLOW=1")
def test_huge_stream_bounded_memory(tmp_path, fake_model):
    import resource

    size = int(os.environ.get("LMZ_SLOW_BYTES", 1 << 30))
    gen = _Gen(size)
    path = tmp_path / "big.lmz"
    with open(path, "wb") as f:
        api.Compressor(fake_model, mix="off").copy_stream(io.BufferedReader(gen, 1 << 16), f)
    sink = _Hash()
    with open(path, "rb") as f:
        api.Decompressor(fake_model).copy_stream(f, sink)
    assert sink.h.digest() == gen.h.digest()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert peak_mib < 1024, peak_mib  # independent of the input size (a few frames of 4 MiB + model)


def test_progress_counts_every_byte(fake_model):
    data = TEXT * 2
    seen = []
    c = api.Compressor(fake_model, mix="off", lanes=3, frame_size=1000, progress=seen.append).compress(data)
    assert sum(seen) == len(data)
    seen.clear()
    assert api.Decompressor(fake_model, progress=seen.append).decompress(c) == data
    assert sum(seen) == len(data)
