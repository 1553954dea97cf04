"""Byte contexts of the stack: the last 8 bytes ``h8`` (orders 0..8 by masking), the current word
``wh`` and the previous word ``wp`` (letters a-z, case-folded), per lane; ``hash_text`` turns them
into 64-bit context hashes (one per order and word column; the 2-D contexts come from image.py),
and ``split`` cuts each hash into a table slot base and check bits (direct counters: table_bits
and 16 check bits; bit histories: bh_bits and 8 check bits). Each column adds one mixer input
through counters.py / bithistory.py.
"""
from __future__ import annotations

import numpy as np

from ..jit import njit
from .tables import mix64_1

__all__ = ["update", "hash_text", "split", "update_columns", "hash_columns", "NF", "column_state", "update_indirect",
           "hash_indirect"]

_WORD_MUL = np.uint64(0x2F0F3A5B3C4D5E6F)
# Column contexts (the ``columns`` parameter): lines are records and fields are cut at , ; TAB |.
# Per lane, ``cst`` holds [0] the current line's field count, [1] the previous line's, [2] the
# position of the previous line's newline, [3, 3 + NF) the current line's field starts,
# [3 + NF, 3 + 2 NF) the previous line's. The byte "above" is the byte at the same offset in the same
# field of the previous line (256: none), read from the match model's history ring.
NF = 32


def column_state(lanes: int) -> np.ndarray:
    cst = np.zeros((lanes, 3 + 2 * NF), dtype=np.int64)
    cst[:, 0] = 1  # one field, starting at position 0
    return cst


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
def update_columns(t, syms, act, cst):
    """After byte t of every active lane: a newline starts a line (the current one becomes the
    previous), a separator a field (at most NF per line: later separators are part of the last)."""
    for la in range(syms.shape[0]):
        if not act[la]:
            continue
        s = syms[la]
        if s == 10:
            n = cst[la, 0]
            for j in range(n):
                cst[la, 3 + NF + j] = cst[la, 3 + j]
            cst[la, 1] = n
            cst[la, 2] = t
            cst[la, 3] = t + 1
            cst[la, 0] = 1
        elif (s == 44 or s == 59 or s == 9 or s == 124) and cst[la, 0] < NF:
            cst[la, 3 + cst[la, 0]] = t + 1
            cst[la, 0] += 1


@njit(cache=True, nogil=True, inline="always")
def hash_columns(t1, hist, cst, c1, lsalt, col0, hb):
    """Two context columns from col0 for the byte at position t1 of every lane: (above, field number,
    offset in the field) and (above, the previous byte)."""
    H = hist.shape[1]
    for la in range(hb.shape[0]):
        f = cst[la, 0] - 1
        off = t1 - cst[la, 3 + f]
        above = 256
        if f < cst[la, 1]:
            ps = cst[la, 3 + NF + f]
            pe = cst[la, 3 + NF + f + 1] - 1 if f + 1 < cst[la, 1] else cst[la, 2]
            pos = ps + off
            if pos <= pe and t1 - pos < H:  # the field's end (its separator or newline) counts as above
                above = np.int64(hist[la, pos & (H - 1)])
        ls = lsalt[la]
        hb[la, col0] = mix64_1(np.uint64(above + (min(off, 15) << 9) + (f << 13)) + np.uint64(0xC011) + ls)
        hb[la, col0 + 1] = mix64_1(np.uint64(above + (c1[la] << 9)) + np.uint64(0xC012) + ls)


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


# Indirect contexts (the ``indirect`` parameter): per lane, the last two bytes that followed each byte
# value (ind1 [L, 256]) and each pair of bytes (ind2 [L, 65536]), uint16; the contexts are what
# followed the current order-1 / order-2 context the last two times, with that context.
@njit(cache=True, nogil=True, inline="always")
def update_indirect(syms, act, h8, ind1, ind2):
    """Before h8 takes byte syms: the byte follows h8's last byte and last two bytes."""
    for la in range(syms.shape[0]):
        if act[la]:
            c1 = np.int64(h8[la] & np.uint64(0xFF))
            c2 = np.int64(h8[la] & np.uint64(0xFFFF))
            ind1[la, c1] = np.uint16(((np.int64(ind1[la, c1]) << 8) | syms[la]) & 0xFFFF)
            ind2[la, c2] = np.uint16(((np.int64(ind2[la, c2]) << 8) | syms[la]) & 0xFFFF)


@njit(cache=True, nogil=True, inline="always")
def hash_indirect(h8, ind1, ind2, lsalt, col0, hb):
    """Two context columns from col0: (order-1 context, its last two followers), the same for order 2."""
    for la in range(hb.shape[0]):
        c2 = np.int64(h8[la] & np.uint64(0xFFFF))
        c1 = c2 & 0xFF
        ls = lsalt[la]
        hb[la, col0] = mix64_1(np.uint64(c1 | np.int64(ind1[la, c1]) << 8) + np.uint64(0x1D1) + ls)
        hb[la, col0 + 1] = mix64_1(np.uint64(c2 | np.int64(ind2[la, c2]) << 16) + np.uint64(0x1D2) + ls)
