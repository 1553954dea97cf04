"""Lane groups (MixStack ``groups``, mix preset 8): each byte's decisions run group by group, so the
decoder can run the model's next step for one group while the stack decodes the others
(loop._decode_groups). The same bits with the decoder's thread on or off, with the fused kernels
or the numpy coder, and with the model run per group or on the whole frame."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import TEXT
from fakes import FakeModel

from lmz.runtime import api, loop
from lmz.runtime import container as ct
from lmz.runtime import stack_params as sp
from lmz.runtime.coder import Decoder, Encoder
from lmz.runtime.errors import LmzError
from lmz.runtime.freqs import scores_to_freqs
from lmz.runtime.stack import MixStack, bitloop

SMALL = dict(table_bits=16, bh_bits=16, hist_bits=10, match_bits=12)


def _threads() -> int:
    return sum(t.name.startswith("lmz-model") for t in threading.enumerate())


def _lanes(L=7, T=200, seed=0):
    rng = np.random.default_rng(seed)
    data = np.frombuffer(TEXT, dtype=np.uint8).astype(np.int64)
    M = np.zeros((L, T), dtype=np.int64)
    for i in range(L):
        off = int(rng.integers(0, len(data) - T))
        M[i] = data[off: off + T]
    lens = np.array([T, T - 7, 90, 1, 0, T, 150][:L])
    return M, lens


def _scores(t, M):
    prev = M[:, t - 1] if t > 0 else np.zeros(M.shape[0], dtype=np.int64)
    s = ((prev[:, None] * 7 + np.arange(256)[None, :] * 13) % 97) - 48
    s[np.arange(M.shape[0]), M[:, t]] += 40 * (t % 2)
    return s.astype(np.int32)


def _state(st):
    return [st.T, st.BH, st.W, st.W2k, st.A, st.MT, st.hist, st.c0]


def test_groups_bounds_and_degrading():
    assert MixStack(7, groups=2, **SMALL).lane_groups == [(0, 3), (3, 7)]
    assert MixStack(3, groups=16, **SMALL).lane_groups == [(0, 1), (1, 2), (2, 3)]  # min(groups, lanes)
    assert MixStack(1, groups=2, **SMALL).lane_groups == [(0, 1)]
    assert MixStack(7, groups=2, use_model=False, **SMALL).lane_groups == [(0, 7)]  # model-free: one
    for bad in (0, 17):
        with pytest.raises(ValueError):
            MixStack(4, groups=bad, **SMALL)


@pytest.mark.parametrize("groups", [2, 3])
def test_group_paths_give_the_same_bits(groups):
    """Fused kernels, the numpy coder (per-bit, the other groups coding no-ops) and the group-by-group
    decoding calls: the same streams, the same state, the bytes back."""
    M, lens = _lanes()
    L, T = M.shape
    streams, stacks = [], []
    for fused in (False, True):
        st = MixStack(L, groups=groups, **SMALL)
        st.fused = fused
        enc = Encoder(L, capacity=16)
        for t in range(T):
            st.encode_scores(_scores(t, M), M[:, t], lens > t, enc)
        streams.append(enc.finish())
        stacks.append(st)
    assert streams[0] == streams[1]
    ref = MixStack(L, **SMALL)  # groups=1 is another arithmetic
    enc = Encoder(L, capacity=16)
    for t in range(T):
        ref.encode_scores(_scores(t, M), M[:, t], lens > t, enc)
    assert enc.finish() != streams[0]
    for mode in ("fused", "numpy", "groups", "freqs"):
        st = MixStack(L, groups=groups, **SMALL)
        st.fused = mode != "numpy"
        dec = Decoder(streams[0])
        for t in range(T):
            s = _scores(t, M)
            if mode == "groups":
                st.decode_begin(lens > t)
                got = np.concatenate([st.decode_group(g, dec, s[lo:hi]) for g, (lo, hi) in enumerate(st.lane_groups)])
                assert np.array_equal(st.decode_end(), got)
            elif mode == "freqs":
                got = st.decode_step(scores_to_freqs(s), lens > t, dec)
            else:
                got = st.decode_scores(s, lens > t, dec)
            assert np.array_equal(got, np.where(lens > t, M[:, t], 0))
        for a, b in zip(_state(stacks[0]), _state(st)):
            assert np.array_equal(a, b)
    # predict_step (measuring) codes in the same order
    st = MixStack(L, groups=groups, **SMALL)
    for t in range(T):
        st.predict_step(scores_to_freqs(_scores(t, M)), M[:, t], lens > t)
    for a, b in zip(_state(stacks[0]), _state(st)):
        assert np.array_equal(a, b)


def test_group_views_do_not_recompile():
    """The groups' views are C-contiguous like the whole arrays: one compiled signature each."""
    M, lens = _lanes()
    n = None
    for groups in (1, 2):
        st = MixStack(M.shape[0], groups=groups, **SMALL)
        enc = Encoder(M.shape[0])
        for t in range(5):
            st.encode_scores(_scores(t, M), M[:, t], lens > t, enc)
        dec = Decoder(enc.finish())
        st = MixStack(M.shape[0], groups=groups, **SMALL)
        for t in range(5):
            st.decode_scores(_scores(t, M), lens > t, dec)
        counts = [len(f.signatures) for f in (bitloop.encode_byte, bitloop.decode_byte, bitloop.scores_cum)]
        assert n is None or counts == n  # groups=2 compiled nothing new
        n = counts


@pytest.mark.parametrize("groups", [1, 2, 3])
def test_per_group_model_steps_equal_the_whole_batch(tiny_model, groups):
    """The ONNX model is exact per lane: run on a group's lanes with that group's slice of the state,
    it gives the whole batch's scores and state (what lets the decoder run it per group)."""
    L, T = 11, 24
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, (L, T)).astype(np.int64)
    bounds = [g * L // groups for g in range(groups + 1)]
    state = tiny_model.initial_state(L)
    gstates = [tiny_model.initial_state(bounds[g + 1] - bounds[g]) for g in range(groups)]
    for t in range(T):
        scores, state = tiny_model.step(X[:, t: t + 1], state)
        for g in range(groups):
            lo, hi = bounds[g], bounds[g + 1]
            gs, gstates[g] = tiny_model.step(X[lo:hi, t: t + 1], gstates[g])
            assert np.array_equal(gs, scores[lo:hi])
            assert np.array_equal(gstates[g], state[lo:hi])


@pytest.mark.parametrize("model", ["fake", "tiny"])
def test_groups_round_trip_with_the_pipeline_on_and_off(monkeypatch, model, request):
    m = FakeModel() if model == "fake" else request.getfixturevalue("tiny_model")
    data = TEXT * 3
    blobs, outs = [], []
    monkeypatch.setattr(loop, "_cores", lambda: 2)  # the decoder's thread even on one core
    for pipe in (False, True):
        monkeypatch.setattr(loop, "PIPELINE", pipe)
        blobs.append(api.compress(data, model=m, mix="on", lanes=7, mix_params={"groups": 2, "columns": 0}))
        for dpipe in (False, True):
            monkeypatch.setattr(loop, "PIPELINE", dpipe)
            outs.append(api.decompress(blobs[-1], model=m))
    assert blobs[0] == blobs[1]
    assert all(o == data for o in outs)
    assert _threads() == 0
    # preset 8 is named in the header; the default (MixStack.CURRENT) is preset 10 = preset 8 with the
    # column contexts; groups=1 is preset 6's stream, another arithmetic
    assert api.read_header(blobs[0]).preset == 8
    assert api.read_header(api.compress(data, model=m, mix="on", lanes=7)).preset == 10
    g1 = api.compress(data, model=m, mix="on", lanes=7, mix_params={"groups": 1, "columns": 0})
    assert g1 != blobs[0] and api.read_header(g1).preset == 6 and api.decompress(g1, model=m) == data


@pytest.mark.parametrize("model", ["fake", "tiny"])
def test_cum_made_in_the_model_thread_gives_the_same_bits(monkeypatch, model, request):
    """takes_cum: the loop runs cum_of(scores) in the model's thread (encoder and group decoder);
    the streams equal those of the stack turning the scores into frequencies itself."""
    m = FakeModel() if model == "fake" else request.getfixturevalue("tiny_model")
    data = TEXT * 3
    monkeypatch.setattr(loop, "_cores", lambda: 2)
    monkeypatch.setattr(loop, "PIPELINE", True)
    calls = []
    real = MixStack.cum_of
    monkeypatch.setattr(MixStack, "cum_of", staticmethod(lambda sc: calls.append(1) or real(sc)))
    blobs, outs = [], []
    for takes in (True, False):
        monkeypatch.setattr(MixStack, "takes_cum", takes)
        n = len(calls)
        blobs.append(api.compress(data, model=m, mix="on", lanes=7))
        outs.append(api.decompress(blobs[-1], model=m))
        assert (len(calls) > n) == takes
    assert blobs[0] == blobs[1] and outs == [data, data]
    scores = _scores(3, _lanes()[0])
    cum = MixStack.cum_of(scores)
    assert cum.shape == (7, 257) and np.array_equal(cum[:, 1:], np.cumsum(scores_to_freqs(scores), axis=1))
    st = MixStack(7, groups=2, **SMALL)
    with pytest.raises(ValueError):
        st._begin_byte(None, None, cum=cum[:5])


def test_groups_only_where_they_apply():
    """New streams get CURRENT's groups only with the model and without image contexts."""
    assert MixStack.new_params({})["groups"] == 2
    assert MixStack.new_params({"use_model": False})["groups"] == 1  # would code as 1 group anyway
    assert MixStack.new_params({"img_w": 64})["groups"] == 1
    assert MixStack.new_params({"img_w": 64, "groups": 2})["groups"] == 2  # asked for: kept


def test_pipeline_used_by_the_decoder(monkeypatch):
    """With groups and the pipeline on, the decoder calls the model per group (in its thread)."""
    calls = []

    class Counting(FakeModel):
        def step(self, data, state):
            calls.append((threading.current_thread().name, data.shape[0]))
            return super().step(data, state)

    m = Counting()
    blob = api.compress(TEXT * 2, model=m, mix="on", lanes=5, mix_params={"groups": 2})
    calls.clear()
    monkeypatch.setattr(loop, "PIPELINE", True)
    monkeypatch.setattr(loop, "_cores", lambda: 2)
    assert api.decompress(blob, model=m) == TEXT * 2
    assert {n for n, _ in calls} == {"lmz-model-groups"} and {k for _, k in calls} == {2, 3}
    calls.clear()
    monkeypatch.setattr(loop, "_cores", lambda: 1)  # one core: the whole frame's step, no thread
    assert api.decompress(blob, model=m) == TEXT * 2
    assert {n for n, _ in calls} == {"MainThread"} and {k for _, k in calls} == {5}


class Boom(RuntimeError):
    pass


def test_model_error_in_the_decoder_thread_reaches_the_caller(monkeypatch):
    blob = api.compress(TEXT * 2, model=FakeModel(), mix="on", lanes=5, mix_params={"groups": 2})

    class Failing(FakeModel):
        calls = 0

        def step(self, data, state):
            Failing.calls += 1
            if Failing.calls == 9:
                raise Boom("model step failed")
            return super().step(data, state)

    monkeypatch.setattr(loop, "PIPELINE", True)
    monkeypatch.setattr(loop, "_cores", lambda: 2)  # the thread even on one core
    with pytest.raises(Boom):
        api.decompress(blob, model=Failing())
    assert _threads() == 0


def test_stack_error_stops_the_decoder_thread(monkeypatch):
    blob = api.compress(TEXT * 2, model=FakeModel(), mix="on", lanes=5, mix_params={"groups": 2})
    calls = {"n": 0}
    real = MixStack.decode_group

    def failing(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 21:
            raise Boom("stack failed")
        return real(self, *a, **k)

    monkeypatch.setattr(loop, "PIPELINE", True)
    monkeypatch.setattr(loop, "_cores", lambda: 2)
    monkeypatch.setattr(MixStack, "decode_group", failing)
    with pytest.raises(Boom):
        api.decompress(blob, model=FakeModel())
    assert _threads() == 0


def test_preset_8_and_bad_groups_in_a_stream(fake_model):
    p6 = sp.PRESETS[sp.STACK_MIX][6]
    assert sp.PRESETS[sp.STACK_MIX][8] == dict(p6, groups=2)
    assert sp.to_preset(sp.STACK_MIX, dict(p6, groups=2)) == (8, {})
    assert sp.to_preset(sp.STACK_MIX, dict(p6)) == (6, {})  # groups=1: the old presets, unchanged
    from test_crafted import v2_stream

    fp = fake_model.info.fingerprint
    for bad in (b'{"groups":0}', b'{"groups":17}', b'{"groups":-1}', b'{"groups":"2"}', b'{"groups":2.0}',
                b'{"groups":true}', b'{"groups":[2]}'):
        with pytest.raises(LmzError):
            api.decompress(v2_stream(fp, sp.STACK_MIX, 6, bad) + ct.pack_end(0, 0), model=fake_model)
