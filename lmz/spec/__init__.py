"""The fixed-point spec of every model family: numpy int64 code computing exactly the integers
the exported ONNX graphs compute (`lmz-export` checks graphs against it, the tests check
onnxruntime against it on every CPU). `fixedpoint.py` holds the conventions all families share.

    scores, state = lmz.spec.forward(weights, cfg, data[L, C], state)
"""
from __future__ import annotations

import numpy as np

from . import gru, transformer
from .fixedpoint import A_ONE, ACC_BITS, EXACT_LIMIT, LUT_SHIFT, LUT_SIZE, W_BITS, lut, make_luts, to_scores

__all__ = ["FAMILIES", "forward", "state_size", "ACC_BITS", "A_ONE", "EXACT_LIMIT", "LUT_SHIFT", "LUT_SIZE",
           "W_BITS", "lut", "make_luts", "to_scores"]

FAMILIES = {"gru": gru, "transformer": transformer}


def _family(cfg: dict):
    fam = cfg["family"]
    if fam not in FAMILIES:
        raise ValueError(f"unknown model family {fam!r}")
    return FAMILIES[fam]


def forward(weights: dict, cfg: dict, data: np.ndarray, state: np.ndarray):
    """data int [L, C] bytes, state [L, S] -> (scores int64 [L, C, 256], new state)."""
    return _family(cfg).forward(weights, cfg, data, state)


def state_size(cfg: dict) -> int:
    return _family(cfg).state_size(cfg)
