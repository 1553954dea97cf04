"""ONNX graph of the GRU family, unrolled over a fixed chunk (same integers as lmz/spec/gru.py)."""
from __future__ import annotations

import numpy as np

from lmz.spec.fixedpoint import LUT_SHIFT

from .graph import GraphBuilder, io_specs


def build_gru(w: dict, cfg: dict, chunk: int, lanes: int | None = None):
    """Every matrix product is an int8 MatMulInteger on the hidden state split into its positive
    and negative halves (graph.u8_halves); the tables, gates and shifts stay float32 integers."""
    H, nl = cfg["hidden"], cfg["n_layer"]
    g = GraphBuilder()
    f = lambda k: g.weight(w[k], k)  # noqa: E731
    sig, tanh = f("sig_lut"), f("tanh_lut")
    tab_rz, tab_n = g.weight(w["tab"][:, :2 * H], "tab_rz"), g.weight(w["tab"][:, 2 * H:], "tab_n")
    wh_rz = [g.s8_halves(w[f"wh_rz{i}"], f"wh_rz{i}") for i in range(nl)]
    wh_n = [g.s8_halves(w[f"wh_n{i}"], f"wh_n{i}") for i in range(nl)]
    wi_rz = [None] + [g.s8_halves(w[f"wi{i}"][:, :2 * H], f"wi_rz{i}") for i in range(1, nl)]
    wi_n = [None] + [g.s8_halves(w[f"wi{i}"][:, 2 * H:], f"wi_n{i}") for i in range(1, nl)]
    bi_rz = [None] + [g.weight(w[f"bi{i}"][:2 * H], f"bi_rz{i}") for i in range(1, nl)]
    bi_n = [None] + [g.weight(w[f"bi{i}"][2 * H:], f"bi_n{i}") for i in range(1, nl)]
    bhn = [f(f"bhn{i}") for i in range(nl)]
    wo, bo = g.s8_halves(w["wo"], "wo"), f("bo")
    c128, split_hh = g.const(128.0), g.const(np.array([H, H]), np.int64)

    hs = list(g.op("Split", "state", g.const(np.array([H] * nl), np.int64), axis=1, n_out=nl)) if nl > 1 else ["state"]
    halves = {}  # hidden state -> its u8 halves, made once per tensor

    def half(h):
        if h not in halves:
            halves[h] = g.u8_halves(h)
        return halves[h]

    score_steps = []
    for t in range(chunk):
        x_t = g.op("Gather", "bytes", g.const(t, np.int64), axis=1)  # [L]
        inp = None
        for i in range(nl):
            h = hs[i]
            if i == 0:
                in_rz, in_n = g.op("Gather", tab_rz, x_t, axis=0), g.op("Gather", tab_n, x_t, axis=0)
            else:
                in_rz = g.op("Add", g.matmul_s8(half(inp), wi_rz[i]), bi_rz[i])
                in_n = g.op("Add", g.matmul_s8(half(inp), wi_n[i]), bi_n[i])
            rz = g.lut(sig, g.op("Add", in_rz, g.matmul_s8(half(h), wh_rz[i])), LUT_SHIFT)
            r, z = g.op("Split", rz, split_hh, axis=1, n_out=2)
            hn = g.floor_shift(g.op("Add", g.matmul_s8(half(h), wh_n[i]), bhn[i]), 7)
            n = g.lut(tanh, g.op("Add", in_n, g.op("Mul", r, hn)), LUT_SHIFT)
            mix = g.op("Add", g.op("Mul", z, h), g.op("Mul", g.op("Sub", c128, z), n))
            h = g.floor_shift(mix, 7)
            hs[i] = inp = h
        s = g.floor_shift(g.op("Add", g.matmul_s8(half(inp), wo), bo), LUT_SHIFT)  # [L, 256]
        score_steps.append(g.op("Unsqueeze", s, g.const(np.array([1]), np.int64)))
    scores = score_steps[0] if chunk == 1 else g.op("Concat", *score_steps, axis=1)
    g.output(scores, "scores")
    st = hs[0] if nl == 1 else g.op("Concat", *hs, axis=1)
    g.output(st, "state_out")
    ins, outs = io_specs(chunk, nl * H, lanes)
    return g.model(ins, outs, "lmz_gru")
