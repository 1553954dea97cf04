"""The fixed-window transformer family's integer math (int64 numpy): the spec of
`lmz/export/transformer_graph.py` and `lmz/models/transformer.py`.

KV-free sliding-window transformer. A call takes bytes [L, C] and the state (the last W bytes,
zeros at a lane's start) and forms the window [L, N = W + C]. Every layer attends causally over
at most `span = W / n_layer` earlier positions (plus the position itself), so the output at a
position depends on exactly the W + 1 bytes ending there: layer l's queries need layer l-1's
outputs at `span` earlier positions, which need the layer below at `span` more, and so on down
to the raw window. Layer l therefore only computes positions [W - (n_layer-1-l)*span, N) and the
graph does no wasted work; the one-step graph (C = 1) and the chunked one give the same integers.

Units (see fixedpoint.py): weights q/128 (int8), activations a/128 in [-127, 127], matmuls in acc
units 2**-14. Per layer, with x the residual stream (activation units):
    q, k, v = clip(floor((x @ w_qkv + b_qkv) / 2**7), -127, 127)                 (per head dh wide)
    s[i, j] = floor(q_i . k_j / 2**att_shift) + rel_bias[h, i - j]   (logits in 1/32 nat)
              for 0 <= i - j <= span, else masked
    e[i, j] = exp_lut[clip(max_j s[i, j] - s[i, j], 0, 255)]   exp_lut[d] = rint(2**k exp(-d/32)),
              masked keys get e = 0 (exp_lut[255] = 0)
    o_i     = floor(sum_j e[i, j] (v_j + 128) / sum_j e[i, j]) - 128   (exact: all terms >= 0;
              k is the largest with (span + 1) * 2**k * 255 < 2**24)
    x       = clip(x + floor((o @ w_o + b_o) / 2**7), -127, 127)
    hdn     = clip(floor((x @ w_1 + b_1) / 2**7), 0, 127)                        (ReLU)
    x       = clip(x + floor((hdn @ w_2 + b_2) / 2**7), -127, 127)
Input: x = emb[byte] (activation units; no position table: positions enter through rel_bias).
Scores: floor((x @ w_head + b_head) / 2**LUT_SHIFT).
"""
from __future__ import annotations

import numpy as np

from .fixedpoint import EXACT_LIMIT, LUT_SHIFT

ATT_FRAC = 5  # attention logits in units of 1/32 nat
EXP_SIZE = 256
MASK = -(1 << 20)  # added to masked logits (then clipped to the last, zero, exp_lut entry)


def state_size(cfg: dict) -> int:
    return cfg["window"]


def span(cfg: dict) -> int:
    W, nl = cfg["window"], cfg["n_layer"]
    if W % nl:
        raise ValueError(f"window {W} must be a multiple of n_layer {nl}")
    return W // nl


def exp_bits(cfg: dict) -> int:
    """Largest k with (span + 1) * 2**k * 255 < 2**24 (the attention numerator stays exact), at most 12."""
    a = span(cfg) + 1
    k = 0
    while k < 12 and a * (1 << (k + 1)) * 255 < EXACT_LIMIT:
        k += 1
    return k


def make_exp_lut(cfg: dict) -> np.ndarray:
    """exp_lut[d] = rint(2**k * exp(-d / 32)), d = 0..255; the last entry is 0 (masked keys)."""
    k = exp_bits(cfg)
    t = np.rint((1 << k) * np.exp(-np.arange(EXP_SIZE, dtype=np.float64) / (1 << ATT_FRAC))).astype(np.int64)
    t[-1] = 0
    return t


def rel_index(cfg: dict, nq: int, nk: int) -> np.ndarray:
    """[nq, nk] column of rel_bias_ext for query i (absolute nk-nq+i) and key j: the distance
    d = span + i - j when 0 <= d <= span, else span + 1 (the mask column)."""
    a = span(cfg)
    d = a + np.arange(nq)[:, None] - np.arange(nk)[None, :]
    return np.where((d >= 0) & (d <= a), d, a + 1)


def rel_bias_ext(w: dict, i: int) -> np.ndarray:
    rb = np.asarray(w[f"rel_bias{i}"], dtype=np.int64)
    return np.concatenate([rb, np.full((rb.shape[0], 1), MASK, np.int64)], axis=1)


def forward(w: dict, cfg: dict, data: np.ndarray, state: np.ndarray):
    """data int [L, C] bytes, state int [L, W] (the last W bytes) -> (scores int64 [L, C, 256], state)."""
    W, D, nl, H = cfg["window"], cfg["d_model"], cfg["n_layer"], cfg["n_head"]
    dh, a, sh = D // H, span(cfg), cfg["att_shift"]
    data = np.asarray(data, dtype=np.int64)
    L, C = data.shape
    win = np.concatenate([np.asarray(state, dtype=np.int64), data], axis=1)  # [L, N]
    exp_lut = np.asarray(w["exp_lut"], dtype=np.int64)
    x = np.asarray(w["emb"], dtype=np.int64)[win]  # [L, N, D]
    for i in range(nl):
        nk = x.shape[1]
        nq = nk - a
        qkv = np.clip((x @ w[f"w_qkv{i}"] + w[f"b_qkv{i}"]) >> 7, -127, 127)  # [L, nk, 3D]
        heads = qkv.reshape(L, nk, 3, H, dh).transpose(2, 0, 3, 1, 4)  # [3, L, H, nk, dh]
        q, k, v = heads[0][:, :, a:], heads[1], heads[2]
        s = ((q @ k.transpose(0, 1, 3, 2)) >> sh) + rel_bias_ext(w, i)[:, rel_index(cfg, nq, nk)][None]
        e = exp_lut[np.clip(s.max(-1, keepdims=True) - s, 0, EXP_SIZE - 1)]  # [L, H, nq, nk]
        o = (e @ (v + 128)) // e.sum(-1, keepdims=True) - 128  # [L, H, nq, dh]
        o = o.transpose(0, 2, 1, 3).reshape(L, nq, D)
        x = np.clip(x[:, a:] + ((o @ w[f"w_o{i}"] + w[f"b_o{i}"]) >> 7), -127, 127)
        hdn = np.clip((x @ w[f"w_1{i}"] + w[f"b_1{i}"]) >> 7, 0, 127)
        x = np.clip(x + ((hdn @ w[f"w_2{i}"] + w[f"b_2{i}"]) >> 7), -127, 127)
    scores = (x @ w["w_head"] + w["b_head"]) >> LUT_SHIFT  # [L, C, 256]
    return scores, win[:, -W:].copy()
