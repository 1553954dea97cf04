"""ONNX graph of the fixed-window transformer family (same math as runtime/reference_transformer.py).

Every tensor holds integers in float32 with sums below 2**24; the attention normalisation is an
int32 Div of non-negative integers (truncation == floor). Layer l computes only the positions
later layers need, so chunk 1 (decoder) and chunk C (encoder) give identical integers.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto

from lmz.spec.fixedpoint import LUT_SHIFT
from lmz.spec.transformer import EXP_SIZE, rel_bias_ext, rel_index, span

from .graph import GraphBuilder, io_specs


def build_transformer(w: dict, cfg: dict, chunk: int, lanes: int | None = None):
    W, D, nl, H = cfg["window"], cfg["d_model"], cfg["n_layer"], cfg["n_head"]
    dh, a, sh = D // H, span(cfg), cfg["att_shift"]
    g = GraphBuilder()
    f = lambda k: g.weight(w[k], k)  # noqa: E731
    i64 = lambda v: g.const(np.asarray(v), np.int64)  # noqa: E731
    emb, exp_lut, w_head, b_head = f("emb"), f("exp_lut"), f("w_head"), f("b_head")
    c127, cm127, c0, c128 = g.const(127.0), g.const(-127.0), g.const(0.0), g.const(128.0)
    c_lo, c_hi = g.const(0.0), g.const(float(EXP_SIZE - 1))

    def act(acc, lo):
        return g.op("Clip", g.floor_shift(acc, 7), lo, c127)

    def linear(x, i, name):
        return g.op("Add", g.op("MatMul", x, f(f"w_{name}{i}")), f(f"b_{name}{i}"))

    win = g.op("Concat", g.op("Cast", "state", to=TensorProto.INT64), "bytes", axis=1)  # [L, N]
    x = g.op("Gather", emb, win, axis=0)  # [L, N, D]
    nk = W + chunk
    for i in range(nl):
        nq = nk - a
        qkv = act(linear(x, i, "qkv"), cm127)  # [L, nk, 3D]
        qkv = g.op("Reshape", qkv, i64([0, nk, 3, H, dh]))
        qkv = g.op("Transpose", qkv, perm=[2, 0, 3, 1, 4])  # [3, L, H, nk, dh]
        q, k, v = g.op("Split", qkv, i64([1, 1, 1]), axis=0, n_out=3)
        sq = i64([0])
        q, k, v = (g.op("Squeeze", t, sq) for t in (q, k, v))
        q = g.op("Slice", q, i64([a]), i64([nk]), i64([2]))  # queries: the last nq positions
        s = g.floor_shift(g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2])), sh)  # [L, H, nq, nk]
        rb = g.weight(rel_bias_ext(w, i), f"rel_bias_ext{i}")  # [H, span + 2]
        ridx = g.op("Cast", g.const(rel_index(cfg, nq, nk), np.int16 if a < 32767 else np.int32), to=TensorProto.INT64)
        bias = g.op("Gather", rb, ridx, axis=1)  # [H, nq, nk]
        s = g.op("Add", s, bias)
        diff = g.op("Sub", g.op("ReduceMax", s, i64([-1]), keepdims=1), s)
        idx = g.op("Cast", g.op("Clip", diff, c_lo, c_hi), to=TensorProto.INT64)
        e = g.op("Gather", exp_lut, idx, axis=0)  # [L, H, nq, nk], 0..2**k
        num = g.op("MatMul", e, g.op("Add", v, c128))  # [L, H, nq, dh], non-negative
        den = g.op("ReduceSum", e, i64([-1]), keepdims=1)  # [L, H, nq, 1], positive
        o = g.op("Div", g.op("Cast", num, to=TensorProto.INT32), g.op("Cast", den, to=TensorProto.INT32))
        o = g.op("Sub", g.op("Cast", o, to=TensorProto.FLOAT), c128)
        o = g.op("Reshape", g.op("Transpose", o, perm=[0, 2, 1, 3]), i64([0, nq, D]))  # [L, nq, D]
        xq = g.op("Slice", x, i64([a]), i64([nk]), i64([1]))
        x = g.op("Clip", g.op("Add", xq, g.floor_shift(linear(o, i, "o"), 7)), cm127, c127)
        hdn = act(linear(x, i, "1"), c0)
        x = g.op("Clip", g.op("Add", x, g.floor_shift(linear(hdn, i, "2"), 7)), cm127, c127)
        nk = nq
    scores = g.floor_shift(g.op("Add", g.op("MatMul", x, w_head), b_head), LUT_SHIFT)  # [L, chunk, 256]
    g.output(scores, "scores")
    st = g.op("Slice", win, i64([chunk]), i64([W + chunk]), i64([1]))
    g.output(g.op("Cast", st, to=TensorProto.FLOAT), "state_out")
    ins, outs = io_specs(chunk, W, lanes)
    return g.model(ins, outs, "lmz_transformer")
