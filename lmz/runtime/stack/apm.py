"""APM / SSE stages: 33 interpolation knots over the stretch domain per context, int32 p20 values.

One array holds both of the stack's stages: APM 2 (context ``c0 | ctx << 8``, 65536 contexts) at 0
and APM 1 (context ``c0``) at ``A1OFF``. A prediction interpolates the two knots around the mixer's
output; the update moves the nearer knot by ``((y << 20) - A) >> rate``, divided by the number of
active lanes that picked the same knot in this decision (their mean delta).
"""
from __future__ import annotations

import numpy as np

from ..jit import njit
from .prefetch import prefetch
from .tables import SQUASH, ST_MAX

A1OFF = 65536 * 33

__all__ = ["A1OFF", "new_table", "predict", "update"]


def new_table() -> np.ndarray:
    knots = SQUASH[np.clip((np.arange(33) - 16) * 128, -ST_MAX, ST_MAX) + ST_MAX] << 4
    return np.tile(knots, 65536 + 256).astype(np.int32)


@njit(cache=True, nogil=True, inline="always")
def predict(A, dot, c0, ctx2, ai, out):
    """out[0] / out[1]: APM 1 / APM 2 as p16; ai[r, la] = the knot each one will update (APM 2's
    knots, hashed over 8.7 MB, get a prefetch hint for every lane first)."""
    L = dot.shape[0]
    for la in range(L):
        prefetch(A, (c0[la] | (ctx2[la] << 8)) * 33 + ((dot[la] + 2048) >> 7))
    for la in range(L):
        st = dot[la] + 2048
        lo = st >> 7
        wt = st & 127
        i1 = c0[la] * 33 + A1OFF + lo
        i2 = (c0[la] | (ctx2[la] << 8)) * 33 + lo
        out[0, la] = (np.int64(A[i1]) * (128 - wt) + np.int64(A[i1 + 1]) * wt) >> 11
        out[1, la] = (np.int64(A[i2]) * (128 - wt) + np.int64(A[i2 + 1]) * wt) >> 11
        ai[0, la] = i1 + (wt >> 6)
        ai[1, la] = i2 + (wt >> 6)


@njit(cache=True, nogil=True, inline="always")
def update(A, ai, act, y, rate, cnt, d):
    """``cnt`` (int32, A.size, zero between calls) and ``d`` ([2, >= L]) are scratch; ai may be wider
    than the L lanes too (a lane group's share of wider scratch)."""
    L = act.shape[0]
    for la in range(L):
        prefetch(cnt, ai[1, la])
    for r in range(2):
        for la in range(L):
            if act[la]:
                cnt[ai[r, la]] += 1
    for r in range(2):
        for la in range(L):
            if act[la]:
                i = ai[r, la]
                v = ((y[la] << 20) - np.int64(A[i])) >> rate
                c = np.int64(cnt[i])
                d[r, la] = v if c == 1 else v // c
    for r in range(2):
        for la in range(L):
            if act[la]:
                i = ai[r, la]
                A[i] += np.int32(d[r, la])
                cnt[i] = 0
