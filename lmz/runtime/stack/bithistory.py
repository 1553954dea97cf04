"""Bit histories: one byte of paq-like state (tables.BH_NEXT, 241 states) per hashed context node
plus a check byte, ``BH[slot] = check8 << 8 | state`` (uint16). A bit-history column maps its state
through its own state map (256 counters in the counter table, see counters.py), so it adds one
mixer input. Where several (lane, column) members meet in one slot in a decision, the first
(lowest position) decides the transition.
"""
from __future__ import annotations

import numpy as np

from ..jit import njit
from .prefetch import prefetch

__all__ = ["new_table", "read", "update"]


def new_table(bits: int) -> np.ndarray:
    return np.zeros(1 << bits, dtype=np.uint16)


@njit(cache=True, nogil=True, inline="always")
def read(BH, hbase, hchk, node, c0, hidx, state, idx, nd, smcol):
    """Slot of each lane's node ``hbase ^ node[c0]``, its state (0 unless the check matches), and
    the state-map counter slot ``smcol[j] + state`` into column nd + j of idx. All slots first,
    each with a prefetch hint, then the reads: the misses of all lanes overlap."""
    L, nh = hbase.shape
    for la in range(L):
        o = node[c0[la]]
        for j in range(nh):
            hi = hbase[la, j] ^ o
            hidx[la, j] = hi
            prefetch(BH, hi)
    for la in range(L):
        for j in range(nh):
            hi = hidx[la, j]
            hv = np.int64(BH[hi])
            st = hv & 255 if (hv >> 8) == hchk[la, j] else 0
            state[la, j] = st
            idx[la, nd + j] = smcol[j] + st


@njit(cache=True, nogil=True, inline="always")
def update(BH, hidx, state, hchk, act, y, nxt):
    """Each slot takes the transition of its first (lowest (lane, column)) member: the members
    write in reverse order, so the first one's write is the last."""
    L, nh = hidx.shape
    for la in range(L - 1, -1, -1):
        if not act[la]:
            continue
        for j in range(nh - 1, -1, -1):
            BH[hidx[la, j]] = nxt[state[la, j], y[la]] | (hchk[la, j] << 8)
