"""Fixed-point conventions shared by every model family (numpy only: no torch, no onnxruntime).

Every lmz model is a dict of integer numpy arrays (`weights`) plus a config dict. The modules
of `lmz.spec` (one per family: `gru.py`, `transformer.py`) recompute, with int64 numpy, exactly
the integers the ONNX graph computes, so that `lmz-export` can refuse a graph that differs in a
single integer, the tests compare onnxruntime with it bit for bit on every CPU, and a reader can
see the whole model in a page.

Conventions (the torch models in `lmz/models/` train through the same steps with
straight-through estimators; the graphs in `lmz/export/` compute them in float32):
- weights are int8-range integers q in [-127, 127] meaning q / 2**W_BITS (= q / 128);
- activations (hidden states) are integers in [-127, 127] meaning a / 128;
- a matmul of the two therefore counts units of 2**-(W_BITS + 7); all pre-activations, biases
  and the input tables live in that unit ("acc units"); any sum stays below 2**24 in magnitude;
- a nonlinearity f is a 256-entry table indexed by clip(floor(acc / 2**LUT_SHIFT), -128, 127),
  i.e. the pre-activation sampled in steps of 1/16 over [-8, 8);
- scores (the output) are floor(acc / 2**LUT_SHIFT): log-probabilities in 1/16 nat, the unit
  `lmz/runtime/freqs.py` expects.
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
