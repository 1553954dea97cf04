"""The compiled fast paths equal their numpy references, event by event and byte by byte:

* fastcoder.put_bits / get_bits == coder.Encoder.put_bits / Decoder.get_bits (the numpy coder stays
  the reference; the kernels run on the coder's own arrays), carries and inactive lanes included;
* bitloop.scores_cum == cumsum(scores_to_freqs(scores)), ties and wide score ranges included;
* MixStack's fused byte kernels (coder events inside the compiled byte loop, scores taken raw) write
  the same streams and reach the same state as the per-bit numpy path.
"""
from __future__ import annotations

import numpy as np
import pytest

from lmz.runtime.coder import Decoder, Encoder
from lmz.runtime.freqs import PROB_ONE, scores_to_freqs
from lmz.runtime.stack import MixStack, bitloop, fastcoder

SMALL = dict(table_bits=16, bh_bits=16, hist_bits=10, match_bits=12)


def _events(rng, L, n):
    """Bits and p1s that stress the coder: extreme, confident-and-right and confident-and-wrong."""
    out = []
    for _ in range(n):
        kind = rng.integers(0, 4)
        if kind == 0:
            p1 = rng.integers(1, PROB_ONE, L)
        elif kind == 1:
            p1 = rng.choice(np.array([1, 2, 3, PROB_ONE - 3, PROB_ONE - 2, PROB_ONE - 1]), L)
        else:
            p1 = rng.integers(PROB_ONE - 40, PROB_ONE, L)
        bits = (rng.random(L) < (0.97 if kind == 2 else 0.5)).astype(np.int64)
        act = rng.random(L) < 0.9
        out.append((bits, p1.astype(np.int64), act))
    return out


def _encoder_state(e):
    return [e.low.copy(), e.rng.copy(), e.pos.copy(), e.buf[:, : int(e.pos.max())].copy()]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_coder_equals_numpy_coder(seed):
    rng = np.random.default_rng(seed)
    L, n = 37, 3000
    ev = _events(rng, L, n)
    ref, fast = Encoder(L, capacity=16), Encoder(L, capacity=16)
    carries = 0
    for i, (bits, p1, act) in enumerate(ev):
        before = ref.low.copy()
        ref.put_bits(bits, p1, act if i % 2 else None)
        carries += int((ref.low < before).sum() + (ref.low >= 1 << 48).sum())
        if fast.bound + 2 > fast.buf.shape[1]:
            fast.bound = int(fast.pos.max())
            fast._grow(fast.bound + 2)
        fastcoder.put_bits(bits, p1, act if i % 2 else np.ones(L, bool), fast.low, fast.rng, fast.buf, fast.pos)
        fast.bound += 2  # two byte shifts at most per event
        if i % 97 == 0:
            for a, b in zip(_encoder_state(ref), _encoder_state(fast)):
                assert np.array_equal(a, b)
    assert carries > 0  # the carry path was exercised
    coded = ref.finish()
    assert fast.finish() == coded
    # decoding: numpy get_bits and the kernel, each from the same stream, give the bits back
    d_ref, d_fast = Decoder(coded), Decoder(coded)
    out = np.zeros(L, dtype=np.int64)
    for i, (bits, p1, act) in enumerate(ev):
        a = act if i % 2 else np.ones(L, bool)
        got = d_ref.get_bits(p1, a)
        fastcoder.get_bits(p1, a, d_fast.code, d_fast.rng, d_fast.buf, d_fast.pos, d_fast.last, out)
        assert np.array_equal(got, out)
        assert np.array_equal(got, np.where(a, bits, 0))
        assert np.array_equal(d_ref.code, d_fast.code) and np.array_equal(d_ref.pos, d_fast.pos)


def test_scores_cum_equals_scores_to_freqs():
    rng = np.random.default_rng(5)
    cases = [rng.integers(-60, 60, (50, 256)), rng.integers(-3000, 3000, (50, 256)),
             np.zeros((3, 256), dtype=np.int64), rng.integers(0, 3, (40, 256))]  # ties for argmax
    big = np.zeros((2, 256), dtype=np.int64)
    big[:, 7] = 2**31 - 1  # max - s does not wrap here; one far-away symbol
    cases.append(big)
    wrap = np.zeros((2, 256), dtype=np.int64)  # max - s wraps around in int32 (to -256 and -2):
    wrap[:, 3] = 2**31 - 1  # numpy then reads EXP_LUT from its end
    wrap[0, 9], wrap[1, 9] = -2**31 + 255, -2**31 + 1
    cases.append(wrap)
    for s in cases:
        s = s.astype(np.int32)
        cum = np.zeros((s.shape[0], 257), dtype=np.int64)
        assert bitloop.scores_cum(s, cum)
        assert np.array_equal(cum[:, 1:], np.cumsum(scores_to_freqs(s), axis=1))
        # a strided view (a model chunk's column) too
        s3 = np.repeat(s[:, None, :], 3, axis=1)
        cum2 = np.zeros_like(cum)
        assert bitloop.scores_cum(s3[:, 1], cum2)
        assert np.array_equal(cum, cum2)
    bad = np.zeros((1, 256), dtype=np.int32)
    bad[0, 3], bad[0, 9] = 2**31 - 1, -2  # max - s wraps to -2**31 + 1: numpy cannot index with it
    with pytest.raises(IndexError):
        scores_to_freqs(bad)
    assert not bitloop.scores_cum(bad, np.zeros((1, 257), dtype=np.int64))


def _lanes(L=5, T=300, seed=0):
    rng = np.random.default_rng(seed)
    text = (b"the quick brown fox jumps over the lazy dog; " * 40 + bytes(range(256))
            + b"".join(b"%d;fox %d,dog|%s\n" % (i, i * 7, b"x" * (i % 5)) for i in range(40)))
    data = np.frombuffer(text, dtype=np.uint8).astype(np.int64)
    M = np.zeros((L, T), dtype=np.int64)
    for i in range(L):
        off = int(rng.integers(0, len(data) - T))
        M[i] = data[off: off + T]
    M[1, 50:120] = rng.integers(0, 256, 70)
    lens = np.array([T, T - 7, 90, 1, 0][:L])
    return M, lens


def _scores(t, M):
    prev = M[:, t - 1] if t > 0 else np.zeros(M.shape[0], dtype=np.int64)
    s = ((prev[:, None] * 7 + np.arange(256)[None, :] * 13) % 97) - 48
    s[np.arange(M.shape[0]), M[:, t]] += 40 * (t % 2)  # sometimes confident and right
    return s.astype(np.int32)


def _state(st):
    return [st.T, st.BH, st.W, st.W2k, st.A, st.MT, st.hist, st.c0, st.cst, st.c1a, st.actb, *st.rst, st.ind1, st.ind2, *st.pst]


# the raster stack (mix preset 11) on rows of 21 bytes, 3 channels, after a 5-byte header
RASTER = dict(SMALL, use_model=False, orders=[0, 1, 2], words=0, mixer_ctx=0, raster=[21, 3, 5])


@pytest.mark.parametrize("params", [dict(SMALL, mixer2=1), dict(SMALL, use_model=False),
                                    dict(SMALL, mixer2=1, columns=1), RASTER,
                                    dict(SMALL, use_model=False, indirect=1, period=1)])
def test_fused_stack_equals_numpy_path(params):
    M, lens = _lanes()
    L, T = M.shape
    streams, stacks = [], []
    for fused, raw in ((False, False), (True, False), (True, True)):
        st = MixStack(L, **params)
        st.fused = fused
        enc = Encoder(L, capacity=16)
        for t in range(T):
            s = _scores(t, M)
            if raw and st.use_model:
                st.encode_scores(s, M[:, t], lens > t, enc)
            else:
                st.encode_step(scores_to_freqs(s) if st.use_model else None, M[:, t], lens > t, enc)
        streams.append(enc.finish())
        stacks.append(st)
    assert streams[0] == streams[1] == streams[2]
    for st in stacks[1:]:
        for a, b in zip(_state(stacks[0]), _state(st)):
            assert np.array_equal(a, b)
    for fused in (False, True):
        st = MixStack(L, **params)
        st.fused = fused
        dec = Decoder(streams[0])
        for t in range(T):
            s = _scores(t, M)
            got = (st.decode_scores(s, lens > t, dec) if fused and st.use_model else
                   st.decode_step(scores_to_freqs(s) if st.use_model else None, lens > t, dec))
            assert np.array_equal(got, np.where(lens > t, M[:, t], 0))
        for a, b in zip(_state(stacks[0]), _state(st)):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("runs,kind", [([300], "plain"), ([1, 64, 300], "plain"), ([1, 64, 300], "columns"),
                                       ([1, 64, 300], "raster"), ([1, 64, 300], "records")])
def test_compiled_steps_equal_step_by_step(runs, kind):
    """A model-free stack codes runs of steps in one compiled call (frameloop.py): the same streams,
    the same state and the same decoded bytes as the per-step path, however the steps are cut."""
    params = RASTER if kind == "raster" else dict(SMALL, use_model=False, sparse=[2, 12], columns=int(kind == "columns"),
                                                  indirect=int(kind == "records"), period=int(kind == "records"))
    M, lens = _lanes()
    L, T = M.shape
    ref = MixStack(L, **params)
    assert ref.compiled_steps and not MixStack(L, **SMALL).compiled_steps
    enc = Encoder(L, capacity=16)
    for t in range(T):
        ref.encode_step(None, M[:, t], lens > t, enc)
    want = enc.finish()
    st = MixStack(L, **params)
    enc = Encoder(L, capacity=16)
    for t1 in runs:
        st.encode_steps(M, lens, t1, enc)
    assert enc.finish() == want
    for a, b in zip(_state(ref), _state(st)):
        assert np.array_equal(a, b)
    st = MixStack(L, **params)
    dec = Decoder(want)
    out = np.zeros((L, T), dtype=np.uint8)
    for t1 in runs:
        st.decode_steps(out, lens, t1, dec)
    assert np.array_equal(out, np.where(np.arange(T)[None, :] < lens[:, None], M, 0))
    for a, b in zip(_state(ref), _state(st)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("runs,groups", [([300], 1), ([1, 64, 299, 300], 2), ([7, 300], 3)])
def test_compiled_encode_with_the_model_equals_step_by_step(runs, groups):
    """The encoder of a stack that reads the model codes runs of steps in one compiled call, given
    the model's cum_of for each step (loop._encode_runs): the same stream and state as encode_cum
    step by step, lane groups and lanes that end early included; a wrong block is refused."""
    params = dict(SMALL, mixer2=1, columns=1, groups=groups)
    M, lens = _lanes()
    L, T = M.shape
    cums = np.stack([MixStack.cum_of(_scores(t, M)) for t in range(T)])
    ref = MixStack(L, **params)
    assert ref.compiled_encode and not ref.compiled_steps and len(ref.lane_groups) == min(groups, L)
    enc = Encoder(L, capacity=16)
    for t in range(T):
        ref.encode_cum(cums[t], M[:, t], lens > t, enc)
    want = enc.finish()
    st = MixStack(L, **params)
    enc = Encoder(L, capacity=16)
    t0 = 0
    for t1 in runs:
        st.encode_steps(M, lens, t1, enc, cums=cums[t0:t1])
        t0 = t1
    assert enc.finish() == want
    for a, b in zip(_state(ref), _state(st)):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="needs cums"):
        MixStack(L, **params).encode_steps(M, lens, 5, Encoder(L), cums=cums[:4])


def test_the_step_and_byte_kernels_compile_without_reference_counting():
    """The per-bit kernels bind many arrays per decision; under numba's reference counting each
    binding is an atomic increment and decrement (45% of a model-free frame's time, measured), so
    they are compiled without it (frameloop.py), which also forbids them to allocate."""
    from lmz.runtime.stack import frameloop
    for f in (bitloop.code_byte, bitloop.encode_byte, bitloop.decode_byte, frameloop.encode_steps,
              frameloop.decode_steps, frameloop._end):
        assert f.targetoptions.get("_nrt") is False, f.__name__
