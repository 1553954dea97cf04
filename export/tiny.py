"""Tiny random-weight models, exported on the fly by the tests (numpy + onnx; no torch)."""
from __future__ import annotations

import numpy as np

from lmz.runtime.reference import make_luts
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


RANDOM_WEIGHTS = {"gru": random_gru_weights}


def export_random_model(path, family="gru", chunk=1, seed=0, check=True, **config):
    """Write a tiny random integer model honouring the runtime contract; returns `path`."""
    weights, cfg = RANDOM_WEIGHTS[family](seed=seed, **config)
    export_model(weights, cfg, path, chunk=chunk, check=check,
                 meta={"lmz.train": {"note": f"random weights, seed {seed}"}})
    return path
