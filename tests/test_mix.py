"""MixStack: encoder/decoder agreement through the real coder, determinism, p1 range, inactive lanes,
pinned lookup tables. Small tables so the whole file runs in a few seconds."""
from __future__ import annotations

import numpy as np
import pytest

from lmz.runtime.coder import Decoder, Encoder
from lmz.runtime.freqs import PROB_ONE, scores_to_freqs
from lmz.runtime.lanes import FramePlan
from lmz.runtime.stack import MixStack, tables
from lmz.runtime.stack import stack as mix

SMALL = dict(table_bits=16, bh_bits=16, hist_bits=10, match_bits=12)
TEXT = (b"It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
        b"age of foolishness, it was the epoch of belief, it was the epoch of incredulity. \x00\xff\x80"
        b"0123456789 <tag attr='x'>markup</tag>\n") * 3


def _lanes(lanes=6, ragged=True, seed=0):
    rng = np.random.default_rng(seed)
    data = np.frombuffer(TEXT, dtype=np.uint8).astype(np.int64)
    T = 160
    M = np.zeros((lanes, T), dtype=np.int64)
    lens = np.full(lanes, T)
    if ragged:
        lens = np.array([T, T - 3, 40, T, 1, 0][:lanes] + [T] * max(0, lanes - 6))
    for i in range(lanes):
        off = int(rng.integers(0, len(data) - T))
        M[i, : lens[i]] = data[off: off + lens[i]]
    if lanes > 1:
        M[1, 20:90] = rng.integers(0, 256, 70)  # some incompressible bytes
    return M, lens


def _freqs(t, M, kind):
    """A stand-in model: scores from the previous byte (deterministic), or extreme tables."""
    L = M.shape[0]
    prev = M[:, t - 1] if t > 0 else np.zeros(L, dtype=np.int64)
    if kind == "extreme":  # the true next byte (or a wrong one) gets almost all the mass
        s = np.zeros((L, 256), dtype=np.int64)
        nxt = M[:, t] if t % 3 else (M[:, t] + 1) & 255
        s[np.arange(L), nxt] = 4000
        return scores_to_freqs(s)
    s = ((prev[:, None] * 7 + np.arange(256)[None, :] * 13) % 97) - 48
    return scores_to_freqs(s)


def _state(st):
    return [st.T.copy(), st.BH.copy(), st.W.copy(), st.A.copy(), st.MT.copy(), st.hist.copy()] + (
        [st.W2.copy()] if st.W2 is not None else []) + ([st.lw.copy(), st.lea.copy()] if st.img_lms else [])


def _roundtrip(params, kind="plain", lanes=6, ragged=True):
    M, lens = _lanes(lanes, ragged)
    L, T = M.shape
    use_model = params.get("use_model", True)
    enc_st = MixStack(L, **params)
    enc = Encoder(L)
    p1s = []
    orig_put = enc.put_bits

    def put_bits(bits, p1, active=None):
        p1s.append(np.asarray(p1).copy())
        orig_put(bits, p1, active)

    enc.put_bits = put_bits
    for t in range(T):
        f = _freqs(t, M, kind) if use_model else None
        enc_st.encode_step(f, M[:, t], lens > t, enc)
    coded = enc.finish()
    dec_st = MixStack(L, **params)
    dec = Decoder(coded)
    out = np.zeros_like(M)
    for t in range(T):
        f = _freqs(t, M, kind) if use_model else None
        out[:, t] = dec_st.decode_step(f, lens > t, dec)
    return M, out, coded, enc_st, dec_st, np.array(p1s)


@pytest.mark.parametrize("use_model", [True, False])
def test_roundtrip_identical_state(use_model):
    M, out, coded, es, ds, p1s = _roundtrip(dict(SMALL, use_model=use_model))
    assert np.array_equal(out, M)
    for a, b in zip(_state(es), _state(ds)):
        assert np.array_equal(a, b)
    assert ((p1s >= 1) & (p1s <= PROB_ONE - 1)).all()


def test_roundtrip_extreme_model_p1_range():
    M, out, coded, es, ds, p1s = _roundtrip(dict(SMALL), kind="extreme")
    assert np.array_equal(out, M)
    assert p1s.dtype.kind == "i"
    assert p1s.min() >= 1 and p1s.max() <= PROB_ONE - 1
    assert p1s.max() > 65000 and p1s.min() < 500  # it does get confident


def _encode(params, kind="plain"):
    M, lens = _lanes()
    st = MixStack(M.shape[0], **params)
    enc = Encoder(M.shape[0])
    for t in range(M.shape[1]):
        st.encode_step(_freqs(t, M, kind), M[:, t], lens > t, enc)
    return enc.finish(), st


def test_deterministic():
    ca, sa = _encode(dict(SMALL))
    cb, sb = _encode(dict(SMALL))
    assert ca == cb
    for x, y in zip(_state(sa), _state(sb)):
        assert np.array_equal(x, y)


def test_learns():
    """Repeated text costs far less than 8 bits/byte without a model."""
    M, out, coded, es, ds, p1s = _roundtrip(dict(SMALL, use_model=False), lanes=4, ragged=False)
    assert 8 * sum(map(len, coded)) < 0.6 * 8 * M.size


def test_inactive_lanes_do_not_touch_shared_state():
    M, lens = _lanes(2, ragged=False)
    T = M.shape[1]
    one = MixStack(1, **SMALL)
    two = MixStack(2, **SMALL)
    e1, e2 = Encoder(1), Encoder(2)
    act2 = np.array([True, False])
    for t in range(T):
        f = _freqs(t, M, "plain")
        one.encode_step(f[:1], M[:1, t], np.array([True]), e1)
        two.encode_step(f, M[:, t], act2, e2)
    for name in ("T", "BH", "W", "A"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    c1, c2 = e1.finish(), e2.finish()
    assert c2[0] == c1[0] and c2[1] == b"\0"  # the inactive lane coded nothing: its flush byte only
    dec = Decoder(c2)
    st = MixStack(2, **SMALL)
    for t in range(T):
        s = st.decode_step(_freqs(t, M, "plain"), act2, dec)
        assert s[1] == 0 and s[0] == M[0, t]


def test_loop_integration():
    from fakes import FakeModel  # tests/ is on sys.path under pytest (no __init__.py)

    from lmz.runtime import loop

    spec = loop.make_stack("on", **SMALL)
    raw = TEXT * 2
    lanes = 3
    plan = FramePlan.cut(0, len(raw), lanes)
    coded = loop.encode_frame(FakeModel(chunk=4), spec.make(plan), raw, plan)
    spec2 = loop.stack_from_header(spec.stack_id, spec.blob)  # params through the container's JSON
    assert spec2.stack_id == mix.STACK_ID == 1
    back = loop.decode_frame(FakeModel(chunk=1), spec2.make(plan), coded, plan)
    assert b"".join(back) == raw


def test_table_checksums():
    assert tables.table_checksums() == {
        "squash": "88877a13ed4e0f0d47d1f89c43664e3ddd4b7879f7e5f774b7e00a2bf4c3dcee",
        "stretch": "580a7b19855bcb2db54376d39ac3eff6d6e00f16aeb387ed8255ec9b263e1b4e",
        "c0_22": "dbe892d7ee96227fda72b5fe33a43c8e779cb4e4982fe6dfdcd4ea7999e3fda3",
        "bh_next": "570849e621d3ced73f6c475cdef9af9ae0484caea2de48b77c6d6b71516a9d62",
    }
    assert tables.SQUASH[0] >= 1 and tables.SQUASH[-1] <= PROB_ONE - 1 and tables.SQUASH[tables.ST_MAX] == 32768
    assert (np.diff(tables.SQUASH) >= 0).all() and (np.diff(tables.STRETCH) >= 0).all()
    # stretch inverts squash to within the tables' 16-bit resolution
    x = np.arange(-tables.ST_MAX, tables.ST_MAX + 1)
    err = np.abs(tables.stretch(tables.squash(x)) - x)
    assert err.max() <= 12 and err[300:-300].max() <= 3


def test_all_inactive_step_and_zero_freqs():
    st = MixStack(3, **SMALL)
    enc = Encoder(3)
    f = np.zeros((3, 256), dtype=np.int64)
    f[:, 65] = PROB_ONE  # zero frequencies elsewhere: p1 must still be in range
    before = _state(st)
    st.encode_step(f, np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool), enc)
    for a, b in zip(before[:4], _state(st)[:4]):
        assert np.array_equal(a, b)
    st.encode_step(f, np.full(3, 65), np.ones(3, dtype=bool), enc)
    coded = enc.finish()
    ds = MixStack(3, **SMALL)
    dec = Decoder(coded)
    assert (ds.decode_step(f, np.zeros(3, dtype=bool), dec) == 0).all()
    assert (ds.decode_step(f, np.ones(3, dtype=bool), dec) == 65).all()


IMG = dict(SMALL, img_w=16, img_h=8, ctx2d=tuple(range(10)), img_act=1, apm_ctx=1, words=0,
           orders=(0, 1, 2))
# + two adaptive linear predictors: as 2-D contexts and (the first) as APM 2's context
IMG_LMS = dict(IMG, ctx2d=tuple(range(mix.N_CTX2D)), img_lms=(4, 1), apm_ctx=2)


def _image(n, seed=0):
    """Smooth 16-wide 'patches' of 128 bytes with noise: 2-D structure the contexts can see."""
    rng = np.random.default_rng(seed)
    y, x = np.divmod(np.arange(n) % 128, 16)
    return ((x * 5 + y * 9 + (np.arange(n) // 128) * 17 + rng.integers(0, 6, n)) & 255).astype(np.uint8).tobytes()


def test_image_contexts_roundtrip_across_frames_and_unaligned_lanes():
    """2-D contexts find rows from each lane's position in the input: frames and lanes that do not
    start on a row or patch boundary still decode, and positions change what is coded."""
    from fakes import FakeModel

    from lmz.runtime import api

    raw = _image(3000)
    kw = dict(mix="on", mix_params=IMG, frame_size=1000, lanes=3)  # frames of 1000 B, lanes of 333-334 B
    c = api.Compressor(FakeModel(chunk=4), "cpu", **kw).compress(raw)
    assert api.Decompressor(FakeModel(chunk=1), "cpu").decompress(c) == raw
    plain = api.Compressor(FakeModel(chunk=4), "cpu", mix="on", mix_params=SMALL, frame_size=1000,
                           lanes=3).compress(raw)
    assert len(c) < len(plain)  # the 2-D contexts help on 2-D data
    # the positions are part of the coding: a stack told other positions codes other bits
    M = np.frombuffer(raw[:600], dtype=np.uint8).astype(np.int64).reshape(3, 200)
    outs = []
    for starts in ([0, 200, 400], [5, 205, 405]):
        st, enc = MixStack(3, starts=starts, **IMG), Encoder(3)
        for t in range(200):
            st.encode_step(_freqs(t, M, "plain"), M[:, t], np.ones(3, bool), enc)
        outs.append(enc.finish())
    assert outs[0] != outs[1]


def test_image_params_validated():
    with pytest.raises(ValueError):
        MixStack(2, **dict(SMALL, ctx2d=(0,)))  # no img_w
    with pytest.raises(ValueError):
        MixStack(2, **dict(SMALL, img_w=16, ctx2d=(mix.N_CTX2D,)))
    with pytest.raises(ValueError):
        MixStack(2, starts=[0], **SMALL)


def test_model_carries_its_mix_params(tmp_path):
    """lmz-export --mix-params: the model's metadata sets the stack's defaults; the stream records them."""
    tiny = pytest.importorskip("lmz.export.tiny")
    from lmz.export.exporter import export_model
    from lmz.runtime import api

    w, cfg = tiny.RANDOM_WEIGHTS["gru"](seed=0)
    p = tmp_path / "img.onnx"
    export_model(w, cfg, p, meta={"lmz.mix": dict(img_w=16, img_h=8, ctx2d=[0, 2])})
    raw = _image(2000)
    c = api.compress(raw, model=str(p), provider="cpu", lanes=2)
    h = api.read_header(c)
    import json
    params = json.loads(h.stack_params)
    assert params["img_w"] == 16 and params["ctx2d"] == [0, 2]
    assert api.decompress(c, model=str(p), provider="cpu") == raw
    c2 = api.compress(raw, model=str(p), provider="cpu", lanes=2, mix_params=dict(ctx2d=[]))
    assert json.loads(api.read_header(c2).stack_params)["ctx2d"] == []


def test_second_mixer_roundtrip_and_old_streams_keep_their_settings():
    M, out, coded, es, ds, p1s = _roundtrip(dict(SMALL, mixer2=1))
    assert np.array_equal(out, M) and np.array_equal(es.W2, ds.W2)
    from lmz.runtime import loop

    spec = loop.make_stack("on")
    assert spec.params["mixer2"] == MixStack.CURRENT["mixer2"]  # new streams record it...
    old = loop.stack_from_header(spec.stack_id, b'{"algo": 1}')  # ...a stream without it decodes as before
    assert old.make(FramePlan.cut(0, 8, 2)).mixer2 == 0


@pytest.mark.parametrize("mixer2", [0, 1])
def test_direct_2d_contexts_roundtrip_identical_state(mixer2):
    """ctx2d_direct moves the 2-D contexts from bit histories to direct counters: encoder and
    decoder still evolve the same state, and it codes different bits than the bit histories."""
    p = dict(IMG, ctx2d_direct=1, mixer2=mixer2, img_act=0)
    M, out, coded, es, ds, p1s = _roundtrip(p)
    assert np.array_equal(out, M)
    for a, b in zip(_state(es), _state(ds)):
        assert np.array_equal(a, b)
    assert es.nh == 0 and es.nd == len(IMG["ctx2d"]) + 3  # orders 0-2 + the 2-D contexts
    assert coded != _roundtrip(dict(p, ctx2d_direct=0))[2]


def _patched(width_patches, rows_patches, w=16, h=8, seed=0):
    """A smooth image `width_patches` x `rows_patches` patches of h x w, cut into patches row-major
    (the corpora's layout); returns (stream, image)."""
    rng = np.random.default_rng(seed)
    H, W = rows_patches * h, width_patches * w
    coarse = rng.integers(0, 256, (H // 4 + 2, W // 4 + 2))  # a random field, smoothed 4x
    y, x = np.arange(H)[:, None], np.arange(W)[None, :]
    fy, fx = y % 4, x % 4
    a, b = coarse[y // 4, x // 4], coarse[y // 4, x // 4 + 1]
    cc, d = coarse[y // 4 + 1, x // 4], coarse[y // 4 + 1, x // 4 + 1]
    img = np.minimum(((a * (4 - fx) + b * fx) * (4 - fy) + (cc * (4 - fx) + d * fx) * fy) // 16
                     + rng.integers(0, 3, (H, W)), 255)
    stream = img.reshape(rows_patches, h, width_patches, w).transpose(0, 2, 1, 3).reshape(-1)
    return stream.astype(np.int64), img


def test_xpatch_neighbours_are_the_image_pixels():
    """img_xpatch: left of column 0 the pixel comes from the previous patch, above row 0 from the
    patch k (patches per image row) before, once k is found; each neighbour it reports is the
    image's pixel there."""
    k, w, h = 4, 16, 8
    stream, img = _patched(k, 7, w, h)
    st = MixStack(1, starts=[0], **dict(IMG, img_xpatch=1, hist_bits=12, use_model=False))
    offs = dict(W=(0, -1), N=(-1, 0), NW=(-1, -1), NE=(-1, 1), WW=(0, -2), NN=(-2, 0), NNE=(-2, 1))
    across = {name: 0 for name in offs}  # neighbours found in another patch
    for t, sym in enumerate(stream):
        nb = st._neighbours()
        p, r, c = divmod(t, w * h)[0], (t // w) % h, t % w
        y, x = (p // k) * h + r, (p % k) * w + c
        for name, (dy, dx) in offs.items():
            yy, xx = y + dy, x + dx
            inside = 0 <= r + dy and 0 <= c + dx < w
            coded = r + dy < 0 or c + dx < w  # the patch to the right comes later
            if yy >= 0 and 0 <= xx < img.shape[1] and coded and (inside or st.kper[0] or r + dy >= 0):
                assert nb[name][0] == img[yy, xx], (t, name)
                across[name] += not inside
        st.predict_step(None, np.array([sym]))
    assert st.kper[0] == k
    # row 0 of the patches after k can first be found (4 + k patches in), less those whose rows
    # did not match well enough (this field is steep: half of them)
    assert min(across.values()) > 0 and across["N"] >= w * (7 * k - 4 - k - 1) // 2


def test_xpatch_roundtrip_unaligned_and_loop_takes_lane_limits_from_params():
    from fakes import FakeModel

    from lmz.runtime import api, loop

    stream, _ = _patched(4, 6)
    raw = (stream & 255).astype(np.uint8).tobytes()
    p = dict(IMG, img_xpatch=1, hist_bits=12, min_lane=700, max_lanes=3)
    spec = loop.make_stack("on", **p)
    assert (spec.min_lane, spec.max_lanes) == (700, 3)
    kw = dict(mix="on", mix_params=p, frame_size=3000)  # frames and lanes off the patch grid
    c = api.Compressor(FakeModel(chunk=4), "cpu", **kw).compress(raw)
    assert api.Decompressor(FakeModel(chunk=1), "cpu").decompress(c) == raw
    plain = api.Compressor(FakeModel(chunk=4), "cpu", **dict(kw, mix_params=dict(p, img_xpatch=0))).compress(raw)
    assert len(c) < len(plain)
    with pytest.raises(ValueError):
        MixStack(2, **dict(IMG, img_h=0, img_xpatch=1))
    with pytest.raises(ValueError):
        MixStack(2, **dict(IMG, max_lanes=0))


def test_lms_learns_a_plane_and_roundtrips_identical_state():
    """img_lms: each per-lane linear predictor learns a plane (W + N - NW would be exact; they start
    from W, 5 off) and then misses its pixels by under 0.6 on average; encoder and decoder evolve
    the same weights, lanes ragged and inactive included; the step matters; it is validated."""
    w, h = 16, 8
    y, x = np.divmod(np.arange(8 * w * h) % (w * h), w)
    stream = 30 + 5 * x + 3 * y + (np.arange(8 * w * h) // (w * h)) * 7
    st = MixStack(1, starts=[0], **dict(IMG_LMS, use_model=False))
    err = []
    for t, sym in enumerate(stream):
        st.predict_step(None, np.array([sym]))  # predicts pixel t + 1 at the end of step t
        r, c = divmod((t + 1) % (w * h), w)
        if t + 1 < stream.size and r >= 2 and 2 <= c <= w - 2:  # inside the patch
            err.append(np.abs(st.lpred[0] - stream[t + 1]))
    err = np.array(err)  # [pixels, predictors]
    assert (err[-200:].mean(axis=0) < 0.6).all()  # W alone: 5 off
    M, out, coded, es, ds, p1s = _roundtrip(IMG_LMS)
    assert np.array_equal(out, M)
    for a, b in zip(_state(es), _state(ds)):
        assert np.array_equal(a, b)
    assert (es.lw != 0).any(axis=(0, 2)).all() and coded != _roundtrip(dict(IMG_LMS, img_lms=(4, 3)))[2]
    for bad in (dict(IMG, ctx2d=(10,)), dict(IMG, apm_ctx=2), dict(IMG_LMS, img_lms=(4,)), dict(IMG_LMS, img_lms=4),
                dict(IMG_LMS, img_lms=(4, 17)), dict(IMG_LMS, img_lms=(4, 1, 2)), dict(SMALL, img_lms=(3,))):
        with pytest.raises(ValueError):
            MixStack(2, **bad)
