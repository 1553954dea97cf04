"""Logistic mixer in the stretch domain: integer weights (x 2**-16), one weight set per context.

``dot``: p = squash(clip((w . x) >> 16)); ``train``: each active lane adds
``((x * err * lr) >> 16) // gdiv[members]`` to its set, where members = active lanes that used the
same set in this decision (integer adds commute, so the order of lanes does not matter).
"""
from __future__ import annotations

import math

import numpy as np

from ..jit import njit
from .tables import ST_MAX

__all__ = ["new_weights", "gdiv_table", "dot", "train"]


def new_weights(sets: int, n: int, model_input: bool) -> np.ndarray:
    w0 = np.full(n, 16384, dtype=np.int64)
    if model_input:
        w0[-1] = 65536
    return np.tile(w0, (sets, 1))


def gdiv_table(lanes: int, norm: int) -> np.ndarray:
    """Divisor of the summed gradient of a set hit by c lanes: 0 c (mean), 1 isqrt(c), 2 1 (sum)."""
    return np.array([max(1, (c, math.isqrt(c), 1)[norm]) for c in range(lanes + 1)], dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def dot(W, ctx, x, out_dot, out_pr, squash):
    L, N = x.shape
    for la in range(L):
        c = ctx[la]
        s = 0
        for n in range(N):
            s += W[c, n] * x[la, n]
        d = min(max(s >> 16, -ST_MAX), ST_MAX)
        out_dot[la] = d
        out_pr[la] = squash[d + ST_MAX]


@njit(cache=True, nogil=True, inline="always")
def train(W, ctx, pr, y, x, act, lr, gdiv, cnt):
    """``cnt`` (int64, one per weight set, zero between calls) is scratch."""
    L, N = x.shape
    for la in range(L):
        if act[la]:
            cnt[ctx[la]] += 1
    for la in range(L):
        if not act[la]:
            continue
        c = ctx[la]
        g = gdiv[cnt[c]]
        e = ((y[la] << 16) - pr[la]) * lr
        if g & (g - 1) == 0:  # a power of two (often 1): floor division is an arithmetic shift
            sh = 0
            while (1 << sh) < g:
                sh += 1
            for n in range(N):
                W[c, n] += ((x[la, n] * e) >> 16) >> sh
        else:
            for n in range(N):
                W[c, n] += ((x[la, n] * e) >> 16) // g
    for la in range(L):
        if act[la]:
            cnt[ctx[la]] = 0
