"""Numpy reference of the exported integer math (no torch, no onnxruntime).

Every lmz model is a dict of integer numpy arrays (`weights`) plus a config dict. This module
recomputes, with int64 numpy, exactly the integers the ONNX graph computes, so that:
- `lmz-export` can refuse a graph that differs in a single integer,
- the tests compare onnxruntime with it bit for bit on every CPU,
- a reader can see the whole model in a page.

Fixed-point conventions shared by every family (the torch models in `models/` train through
the same steps with straight-through estimators):
- weights are int8-range integers q in [-127, 127] meaning q / 2**W_BITS (= q / 128);
- activations (hidden states) are integers in [-127, 127] meaning a / 128;
- a matmul of the two therefore counts units of 2**-(W_BITS + 7); all pre-activations, biases
  and the input tables live in that unit ("acc units"); any sum stays below 2**24 in magnitude;
- a nonlinearity f is a 256-entry table indexed by clip(floor(acc / 2**LUT_SHIFT), -128, 127),
  i.e. the pre-activation sampled in steps of 1/16 over [-8, 8);
- scores (the output) are floor(acc / 2**LUT_SHIFT): log-probabilities in 1/16 nat, the unit
  `runtime/freqs.py` expects.
"""
from __future__ import annotations

import numpy as np

W_BITS = 7  # weight q means q / 128 (|w| <= 127/128)
A_ONE = 128  # activation a means a / 128 (stored in [-127, 127])
ACC_BITS = W_BITS + 7  # acc units: 2**-14
LUT_SHIFT = ACC_BITS - 4  # table index step 1/16 in real units
LUT_SIZE = 256
EXACT_LIMIT = 1 << 24  # float32 holds every integer below this exactly


def lut_points() -> np.ndarray:
    """Real-valued midpoints of the 256 table cells: (k + 0.5) / 16 for k in -128..127."""
    return (np.arange(-128, 128, dtype=np.float64) + 0.5) / 16.0


def make_luts() -> dict[str, np.ndarray]:
    """The nonlinearity tables. Built once with float64 at export time and then stored in the
    model as integers, so the runtime never evaluates a transcendental."""
    x = lut_points()
    return {
        "sig_lut": np.rint(128.0 / (1.0 + np.exp(-x))).astype(np.int64),  # 0..128
        "tanh_lut": np.rint(127.0 * np.tanh(x)).astype(np.int64),  # -127..127
    }


def lut(table: np.ndarray, acc: np.ndarray) -> np.ndarray:
    idx = np.clip(acc >> LUT_SHIFT, -128, 127) + 128
    return table[idx]


def to_scores(acc: np.ndarray) -> np.ndarray:
    return acc >> LUT_SHIFT


# ---------------------------------------------------------------------------------- GRU family
def gru_state_size(cfg: dict) -> int:
    return cfg["n_layer"] * cfg["hidden"]


def gru_forward(w: dict, cfg: dict, data: np.ndarray, state: np.ndarray):
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


FAMILIES = {"gru": (gru_forward, gru_state_size)}


def forward(weights: dict, cfg: dict, data: np.ndarray, state: np.ndarray):
    fam = cfg["family"]
    if fam not in FAMILIES:
        raise ValueError(f"unknown model family {fam!r}")
    return FAMILIES[fam][0](weights, cfg, data, state)


def state_size(cfg: dict) -> int:
    return FAMILIES[cfg["family"]][1](cfg)

from .reference_transformer import transformer_forward, transformer_state_size; FAMILIES["transformer"] = (transformer_forward, transformer_state_size)  # noqa: E402,E702
