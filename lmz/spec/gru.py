"""The GRU family's integer math, the spec its ONNX graph (`lmz/export/gru_graph.py`) and its
torch QAT model (`lmz/models/gru.py`) must match integer for integer (see fixedpoint.py)."""
from __future__ import annotations

import numpy as np

from .fixedpoint import A_ONE, lut, to_scores


def state_size(cfg: dict) -> int:
    return cfg["n_layer"] * cfg["hidden"]


def forward(w: dict, cfg: dict, data: np.ndarray, state: np.ndarray):
    """data int [L, C] bytes, state int [L, n_layer*H] -> (scores int64 [L, C, 256], state).

    PyTorch's GRU cell in integers. Per layer l (x = byte for l == 0, else the new h below):
        xin  = tab[x]  (l == 0: W_ih @ emb[x] + biases, folded)  or  x @ wi_l + bi_l
        a    = xin_rz + h @ wh_rz
        r, z = sig(a_r), sig(a_z)                              in 0..128 (= gate * 128)
        hn   = floor((h @ wh_n + bhn) / 128)
        n    = tanh(xin_n + r * hn)                            in -127..127
        h    = floor((z * h + (128 - z) * n) / 128)
    scores = floor((h_top @ wo + bo) / 2**LUT_SHIFT)
    """
    H, nl = cfg["hidden"], cfg["n_layer"]
    data = np.asarray(data, dtype=np.int64)
    L, C = data.shape
    hs = [np.asarray(state[:, i * H:(i + 1) * H], dtype=np.int64) for i in range(nl)]
    sig, tanh = w["sig_lut"], w["tanh_lut"]
    out = np.empty((L, C, 256), dtype=np.int64)
    for t in range(C):
        x = None
        for i in range(nl):
            h = hs[i]
            xin = w["tab"][data[:, t]] if i == 0 else x @ w[f"wi{i}"] + w[f"bi{i}"]
            a = xin[:, :2 * H] + h @ w[f"wh_rz{i}"]
            r, z = lut(sig, a[:, :H]), lut(sig, a[:, H:])
            hn = (h @ w[f"wh_n{i}"] + w[f"bhn{i}"]) >> 7
            n = lut(tanh, xin[:, 2 * H:] + r * hn)
            h = (z * h + (A_ONE - z) * n) >> 7
            hs[i] = x = h
        out[:, t] = to_scores(x @ w["wo"] + w["bo"])
    return out, np.concatenate(hs, axis=1)
