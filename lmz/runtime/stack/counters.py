"""Adaptive probability counters in one checked hash table (``T``, int64 slots).

A slot is ``p22 << 32 | check16 << 16 | n16``: a 22-bit probability of a 1, the 16 check bits of
the context that owns the slot and a count. Three kinds of column read it: the direct counters of
the low orders (and of the 2-D contexts with ``ctx2d_direct``; they own a hashed slot per context
and partial byte ``c0``), the *state maps* of the bit-history columns (one slot per (column, state),
check 0) and the match model's counters (one per (length bucket, expected bit), check 0). Each
column adds one mixer input, ``stretch(p)``.

Update (one decision, all lanes at once): every (lane, column) member of a slot contributes if its
context owns the slot as its first member's does (lowest (lane, column) position leads); the slot
takes one batch update from the first member's pre-update value: ``n += members``, ``p`` moves to
the members' mean by ``members / (n + members + 1/2)`` (never overshoots); ``n`` is capped per
column (``lim``). A member whose check differs from the slot's sees it fresh (p = 1/2, n = 0).
"""
from __future__ import annotations

import numpy as np

from ..jit import njit
from .prefetch import prefetch

P_SHIFT = 32  # slot = p22 << 32 | check16 << 16 | n16
P_BITS = 22
P_HALF = 1 << (P_BITS - 1)

__all__ = ["P_SHIFT", "P_BITS", "P_HALF", "new_table", "read", "update"]


def new_table(direct_slots: int, extra: np.ndarray) -> np.ndarray:
    """`direct_slots` fresh slots (p = 1/2) followed by the pre-set slots `extra` (int64)."""
    T = np.full(direct_slots + extra.size, P_HALF << P_SHIFT, dtype=np.int64)
    T[direct_slots:] = extra
    return T


@njit(cache=True, nogil=True, inline="always")
def read(T, idx, chk, pe, ne, x, stretch):
    """pe/ne[la, j] = the (p, n) of slot idx[la, j] as seen by its context chk[la, j]; x[la, j] = stretch(p)."""
    L, NC = idx.shape
    for la in range(L):
        for j in range(NC):
            v = T[idx[la, j]]
            if ((v >> 16) & 0xFFFF) == chk[la, j]:
                p = v >> P_SHIFT
                n = v & 0xFFFF
            else:
                p = P_HALF
                n = 0
            pe[la, j] = p
            ne[la, j] = n
            x[la, j] = stretch[p >> (P_BITS - 16)]


@njit(cache=True, nogil=True, inline="always")
def update(T, idx, chk, pe, ne, lim, act, y, first, cnt, ones):
    """Batch update of the slots the active lanes read (see the module docstring).

    ``first`` (int32, T.size, all -1 between calls) and ``cnt``/``ones`` (L * NC) are scratch."""
    L, NC = idx.shape
    for la in range(L):
        for j in range(NC):
            prefetch(first, idx[la, j])
    for la in range(L):
        if not act[la]:
            continue
        for j in range(NC):
            s = idx[la, j]
            pos = la * NC + j
            h = first[s]
            if h < 0:
                first[s] = pos
                h = pos
                cnt[pos] = 0
                ones[pos] = 0
            hl = h // NC
            if chk[la, j] == chk[hl, h - hl * NC]:
                cnt[h] += 1
                ones[h] += y[la]
    for la in range(L):
        if not act[la]:
            continue
        for j in range(NC):
            s = idx[la, j]
            pos = la * NC + j
            if first[s] == pos:
                first[s] = -1
                c = cnt[pos]
                p0 = pe[la, j]
                n0 = ne[la, j]
                newp = p0 + (((ones[pos] << P_BITS) - c * p0) * 2) // (2 * (n0 + c) + 1)
                newn = min(n0 + c, lim[j])
                T[s] = (newp << P_SHIFT) | (chk[la, j] << 16) | newn
