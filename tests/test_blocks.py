"""Per-block stack decisions (runtime/blocks.py, --mix auto, frame type 03): each block is stored,
coded without the model, or coded with the stream's stack, by fixed rules on its bytes; every choice
round-trips, and the output is the same whatever the number of worker processes."""
from __future__ import annotations

import numpy as np
import pytest

from lmz.runtime import api, blocks
from lmz.runtime import container as ct

RNG = np.random.default_rng(7)
NOISE = RNG.integers(0, 256, 40_000, dtype=np.uint8).tobytes()
PROSE = (b"It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
         b"age of foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 300
# a binary table: little-endian records with control bytes, the kind of data the model never saw
BINARY = b"".join(np.array([i, i * 7 % 1000, 3], dtype="<u4").tobytes() for i in range(3000))


def test_byte_stats():
    h0, ctrl, letters = blocks.byte_stats(NOISE)
    assert h0 > 7.9 and ctrl > 0.1 and letters < 0.3
    h0, ctrl, letters = blocks.byte_stats(PROSE)
    assert h0 < 5 and ctrl == 0 and letters > 0.6
    assert blocks.byte_stats(BINARY)[1] > 0.5


class Coders:
    """Fake coders that record their calls and give sizes chosen by the test."""

    def __init__(self, with_ratio: float, without_ratio: float, binary_ratio: float = 0.5):
        self.calls, self.ratios = [], {"with": with_ratio, "without": without_ratio, "binary": binary_ratio}

    def make(self, kind):
        def code(raw: bytes, offset: int) -> bytes:
            self.calls.append((kind, len(raw)))
            return kind.encode() + bytes(max(0, int(len(raw) * self.ratios[kind]) - len(kind)))
        return code

    def choose(self, raw: bytes) -> bytes:
        return blocks.choose_frame(raw, 0, self.make("with"), self.make("without"), self.make("binary"))


def test_incompressible_blocks_are_stored_after_one_sample():
    c = Coders(0.5, 0.5, 0.999)
    assert c.choose(NOISE) == ct.pack_frame(NOISE, None, None)
    assert c.calls == [("binary", blocks.SAMPLE)]  # the model never ran, the block was not coded


def test_binary_blocks_skip_the_model():
    c = Coders(0.1, 0.1, 0.5)
    assert c.choose(BINARY).startswith(b"binary")
    assert c.calls == [("binary", len(BINARY))]


def test_text_blocks_are_decided_on_a_sample():
    big = PROSE * 2
    assert len(big) > blocks.SAMPLE
    c = Coders(0.5, 0.6)
    assert c.choose(big).startswith(b"with")
    assert c.calls == [("with", blocks.SAMPLE), ("without", blocks.SAMPLE), ("with", len(big))]
    c = Coders(0.5, 0.51)  # within the margin: the model-free lane learns more on the whole block
    assert c.choose(big).startswith(b"without")
    small = PROSE[:5000]
    for a, b, want in ((0.5, 0.6, b"with"), (0.6, 0.5, b"without")):
        c = Coders(a, b)
        assert c.choose(small).startswith(want)  # a small block: both coded, the smaller kept
        assert c.calls == [("with", 5000), ("without", 5000)]


def _frame_types(blob: bytes) -> list[int]:
    return [kind for kind, _ in api.scan(blob)["frame_kinds"]]


def test_auto_round_trips_every_kind_of_block(fake_model):
    data = PROSE[:16384] + BINARY[:16384] + NOISE[:16384]
    kw = dict(frame_size=16384, mix_params={"table_bits": 16, "bh_bits": 16})
    blob = api.compress(data, model=fake_model, **kw)  # mix="auto" is the default
    types = _frame_types(blob)  # the repetitive prose: whichever codes its sample smaller
    assert types[0] in (ct.FRAME_MODELED, ct.FRAME_OWN_STACK) and types[1:] == [ct.FRAME_OWN_STACK, ct.FRAME_STORED]
    assert api.decompress(blob, model=fake_model) == data
    on = api.compress(data, model=fake_model, mix="on", **kw)
    assert ct.FRAME_OWN_STACK not in _frame_types(on) and len(blob) < len(on)
    # a damaged byte inside the frame with its own stack is caught
    bad = bytearray(blob)
    bad[len(blob) - len(NOISE[:16384]) - 40] ^= 0x10
    with pytest.raises(ct.FormatError):
        api.decompress(bytes(bad), model=fake_model)


def test_auto_output_is_the_same_with_workers(fake_model):
    data = PROSE[:6000] + BINARY[:6000] + NOISE[:3000]
    kw = dict(frame_size=4096, mix_params={"table_bits": 16, "bh_bits": 16}, index=True)
    one = api.Compressor(fake_model, **kw).compress(data)
    with api.Compressor(fake_model, threads=2, **kw) as c:
        assert c.compress(data) == one
    with api.Decompressor(fake_model, threads=2) as d:
        assert d.decompress(one) == data


def test_a_text_block_the_model_stores_is_coded_without_it():
    """With the mix, one expanding lane stores the whole frame: the block is then coded without the model."""
    big = PROSE * 2
    calls = []

    def with_model(raw, offset):
        calls.append("with")
        return ct.pack_frame(raw, None, None) if len(raw) > blocks.SAMPLE else b"w" * (len(raw) // 2)

    def without_model(raw, offset):
        calls.append("without")
        return b"o" * (len(raw) * 6 // 10)

    assert blocks.choose_frame(big, 0, with_model, without_model).startswith(b"o")
    assert calls == ["with", "without", "with", "without"]


def test_other_models_are_tried_on_binary_blocks():
    """An image, audio or user model is not skipped on binary-looking blocks: the sample decides."""
    c = Coders(0.1, 0.5, 0.5)
    assert blocks.choose_frame(BINARY, 0, c.make("with"), c.make("without"), c.make("binary"),
                               text_model=False).startswith(b"with")
    assert c.calls == [("with", blocks.SAMPLE), ("binary", blocks.SAMPLE), ("with", len(BINARY))]


def test_progress_counts_each_byte_once(fake_model):
    """Samples and small blocks coded several ways are not counted twice by the progress callback."""
    data = PROSE[:40000] + BINARY[:8000] + NOISE[:40000]
    seen = []
    c = api.Compressor(fake_model, frame_size=40000, progress=seen.append,
                       mix_params={"table_bits": 16, "bh_bits": 16})
    assert api.decompress(c.compress(data), model=fake_model) == data
    assert sum(seen) == len(data)


def test_scan_lists_frames_and_leaves_the_callers_file_open(fake_model):
    import io

    data = PROSE[:4000] + BINARY[:4000] + NOISE[:4000]
    blob = api.compress(data, model=fake_model, frame_size=4000, mix_params={"table_bits": 16, "bh_bits": 16})
    f = io.BytesIO(blob)
    info = api.scan(f)
    assert not f.closed  # a file object passed in is the caller's to close
    assert [k for k, _ in info["frame_kinds"]][1:] == [ct.FRAME_OWN_STACK, ct.FRAME_STORED]
    assert info["frames"] == 3 and info["stored_frames"] == 1 and sum(info["own_stack_frames"].values()) >= 1
