"""Byte contexts of the stack: the last 8 bytes ``h8`` (orders 0..8 by masking), the current word
``wh`` and the previous word ``wp`` (letters a-z, case-folded), per lane; ``hash_text`` turns them
into 64-bit context hashes (one per order and word column; the 2-D contexts come from image.py),
and ``split`` cuts each hash into a table slot base and check bits (direct counters: table_bits
and 16 check bits; bit histories: bh_bits and 8 check bits). Each column adds one mixer input
through counters.py / bithistory.py.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .tables import mix64_1

__all__ = ["update", "hash_text", "split"]

_WORD_MUL = np.uint64(0x2F0F3A5B3C4D5E6F)


@njit(cache=True, nogil=True, inline="always")
def update(syms, act, h8, wh, wp, c1):
    """After a byte (syms: 0 where inactive): shift it into h8 and c1 (active lanes), advance the
    word hashes (all lanes: an inactive lane sees byte 0, a non-letter)."""
    for la in range(syms.shape[0]):
        s = syms[la]
        if act[la]:
            h8[la] = (h8[la] << np.uint64(8)) | np.uint64(s)
            c1[la] = s
        low = s | 32
        if 97 <= low <= 122:
            wh[la] = (wh[la] + np.uint64(low) + np.uint64(1)) * _WORD_MUL
        else:
            if wh[la] != np.uint64(0):
                wp[la] = wh[la]
            wh[la] = np.uint64(0)


@njit(cache=True, nogil=True, inline="always")
def hash_text(h8, wh, wp, omask, osalt, lsalt, words, hb):
    """hb[:, j] for the orders (j < len(omask)) and the word columns after them."""
    no = omask.shape[0]
    for la in range(h8.shape[0]):
        ls = lsalt[la]
        for j in range(no):
            hb[la, j] = mix64_1((h8[la] & omask[j]) + (osalt[j] + ls))
        if words >= 1:
            hb[la, no] = mix64_1(wh[la] + np.uint64(0x7777) + ls)
        if words >= 2:
            hb[la, no + 1] = mix64_1(wh[la] + mix64_1(wp[la] + np.uint64(0x5555) + ls))


@njit(cache=True, nogil=True, inline="always")
def split(hb, perm, nd, table_bits, bh_bits, base, chk, hbase, hchk):
    """Column perm[j] of hb becomes column j: the first nd direct counters, the rest bit histories."""
    L, K = hb.shape
    for la in range(L):
        for j in range(K):
            h = hb[la, perm[j]]
            if j < nd:
                base[la, j] = np.int64(h >> np.uint64(64 - table_bits))
                chk[la, j] = np.int64((h >> np.uint64(48 - table_bits)) & np.uint64(0xFFFF))
            else:
                hbase[la, j - nd] = np.int64(h >> np.uint64(64 - bh_bits))
                hchk[la, j - nd] = np.int64((h >> np.uint64(56 - bh_bits)) & np.uint64(0xFF))
