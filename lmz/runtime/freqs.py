"""The one mapping from a model's integer scores to the coder's integer frequencies.

Every exported model emits, for each position, 256 integer *scores* (log-probabilities in
units of 1/SCORE_UNIT nat, up to an additive constant). The coder needs integer
frequencies that sum to exactly ``2**PROB_BITS``. Both the encoder and the decoder (and the
sampler, and the export check) go through :func:`scores_to_freqs`, which uses integer
arithmetic only, so every machine builds the same table from the same scores.

    freq_raw[s] = EXP_LUT[min(max(scores) - scores[s], EXP_LEN - 1)]          (1 .. 2**16)
    freq[s]     = 1 + (freq_raw[s] * K) >> 32,  K = (2**16 - 256) * 2**32 // sum(freq_raw)
    freq[argmax] += 2**16 - sum(freq)                                         (sum == 2**16)
"""
from __future__ import annotations

import numpy as np

PROB_BITS = 16
PROB_ONE = 1 << PROB_BITS
SCORE_UNIT = 16  # scores count 1/16 nat
EXP_LEN = 256  # differences past 255/16 ≈ 16 nats all map to the floor


def _exp_lut() -> np.ndarray:
    """EXP_LUT[d] = floor(2**16 * exp(-d / 16)), built by an integer recurrence.

    The multiplier is a literal integer (round(2**40 * exp(-1/16))), so no libm is involved
    and the table is the same everywhere. A test pins its checksum.
    """
    mult = 1032895585848  # round(2**40 * exp(-1/16))
    v = 1 << 56  # 2**16 in 40 fractional bits
    out = np.empty(EXP_LEN, dtype=np.int64)
    for d in range(EXP_LEN):
        out[d] = max(v >> 40, 1)
        v = (v * mult) >> 40
    return out


EXP_LUT = _exp_lut()


def scores_to_freqs(scores: np.ndarray) -> np.ndarray:
    """[..., 256] integer scores (any int/float dtype holding integers) -> int64 freqs.

    The result sums to exactly PROB_ONE along the last axis and every entry is >= 1. The
    normalisation multiplies by a per-row integer reciprocal (one division per row):
    k = floor((2**16 - 256) * 2**32 / total), freq = 1 + (raw * k) >> 32, so the sum before the
    remainder goes to the argmax is at most 2**16.
    """
    s = np.asarray(scores)
    if s.dtype != np.int32:
        s = s.astype(np.int32)
    d = s.max(axis=-1, keepdims=True) - s
    np.minimum(d, EXP_LEN - 1, out=d)
    raw = EXP_LUT[d]
    k = ((PROB_ONE - 256) << 32) // raw.sum(axis=-1, keepdims=True)
    f = 1 + ((raw * k) >> 32)
    rest = PROB_ONE - f.sum(axis=-1)
    am = np.argmax(s, axis=-1)[..., None]
    np.put_along_axis(f, am, np.take_along_axis(f, am, -1) + rest[..., None], -1)
    return f


def ideal_bits(freqs: np.ndarray, symbols: np.ndarray) -> float:
    """Ideal code length in bits of `symbols` under `freqs` (for measuring the coder)."""
    f = np.take_along_axis(np.asarray(freqs, dtype=np.float64), np.asarray(symbols)[..., None], -1)[..., 0]
    return float(-np.log2(f / PROB_ONE).sum())
