"""Tiny random-weight models, exported on the fly by the tests (numpy + onnx; no torch)."""
from __future__ import annotations

import numpy as np

from lmz.spec.fixedpoint import make_luts

from .exporter import export_model


def random_gru_weights(hidden=16, n_layer=1, seed=0, tab_limit=1 << 20):
    rng = np.random.default_rng(seed)
    H = hidden
    w = {"tab": rng.integers(-tab_limit // 8, tab_limit // 8, (256, 3 * H)),
         "wo": rng.integers(-127, 128, (H, 256)), "bo": rng.integers(-20000, 20000, 256)}
    for i in range(n_layer):
        w[f"wh_rz{i}"] = rng.integers(-127, 128, (H, 2 * H))
        w[f"wh_n{i}"] = rng.integers(-127, 128, (H, H))
        w[f"bhn{i}"] = rng.integers(-20000, 20000, H)
        if i:
            w[f"wi{i}"] = rng.integers(-127, 128, (H, 3 * H))
            w[f"bi{i}"] = rng.integers(-20000, 20000, 3 * H)
    w.update(make_luts())
    cfg = {"family": "gru", "hidden": H, "n_layer": n_layer, "embed": H, "tab_limit": tab_limit}
    return w, cfg


def random_transformer_weights(seed=0, window=16, d_model=16, n_layer=2, n_head=2, d_ff=32, att_shift=10,
                               bias_limit=1 << 20, rel_limit=4095):
    """Random integer weights of a tiny fixed-window transformer (scaled so attention is not degenerate)."""
    from lmz.spec.transformer import make_exp_lut, span

    rng = np.random.default_rng(seed)
    D, F = d_model, d_ff
    cfg = {"family": "transformer", "window": window, "d_model": D, "n_layer": n_layer, "n_head": n_head,
           "d_ff": F, "att_shift": att_shift, "bias_limit": bias_limit, "rel_limit": rel_limit}
    a = span(cfg)
    ri = lambda m, *shape: rng.integers(-m, m + 1, shape)  # noqa: E731
    w = {"emb": ri(127, 256, D), "w_head": ri(127, D, 256), "b_head": ri(20000, 256), "exp_lut": make_exp_lut(cfg)}
    for i in range(n_layer):
        w[f"w_qkv{i}"], w[f"b_qkv{i}"] = ri(60, D, 3 * D), ri(20000, 3 * D)
        w[f"w_o{i}"], w[f"b_o{i}"] = ri(60, D, D), ri(20000, D)
        w[f"w_1{i}"], w[f"b_1{i}"] = ri(60, D, F), ri(20000, F)
        w[f"w_2{i}"], w[f"b_2{i}"] = ri(60, F, D), ri(20000, D)
        w[f"rel_bias{i}"] = -np.arange(a + 1)[None] * rng.integers(0, 8, (n_head, 1)) + ri(40, n_head, a + 1)
    return w, cfg


RANDOM_WEIGHTS = {"gru": random_gru_weights, "transformer": random_transformer_weights}


def export_random_model(path, family="gru", chunk=1, seed=0, check=True, **config):
    """Write a tiny random integer model honouring the runtime contract; returns `path`."""
    weights, cfg = RANDOM_WEIGHTS[family](seed=seed, **config)
    export_model(weights, cfg, path, chunk=chunk, check=check,
                 meta={"lmz.train": {"note": f"random weights, seed {seed}"}})
    return path
