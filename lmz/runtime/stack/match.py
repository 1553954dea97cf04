"""Match model: the most recent occurrence of the last ``match_min`` bytes in any lane (a shared
hash index ``MT`` of ``t * lanes + lane``, verified against the lanes' history rings up to 32 bytes
back) predicts the next byte. While the bits coded so far agree with it, the expected bit selects
a counter per (length bucket, expected bit) in the counter table (one mixer input, and the mixer's
weight set knows whether it predicts).

Per byte: ``lookup`` (before the byte: find a candidate for lanes without a match, then the
predicted byte ``mbyte`` (| 256, or 0) and length bucket ``mlb``), ``update`` (after it: extend or
drop, index the context, write the byte into the ring). Reads of ``MT`` and the rings happen before
any write, and the index keeps the largest position per slot, so lanes never race.
"""
from __future__ import annotations

import numpy as np

from ..jit import njit
from .tables import mix64_1

__all__ = ["lookup", "update"]

_VERIFY = 32


@njit(cache=True, nogil=True, inline="always")
def lookup(t, mm, match_bits, h8, lsalt, MT, mlen, mptr, hist, mh, mbyte, mlb):
    """Returns whether mh (each lane's index slot, indexed after the byte) was computed (t >= mm)."""
    L, H = hist.shape
    have = t >= mm
    if have:
        mask = np.uint64(0xFFFFFFFFFFFFFFFF) if mm >= 8 else (np.uint64(1) << np.uint64(8 * mm)) - np.uint64(1)
        for la in range(L):
            h = mix64_1((h8[la] & mask) + np.uint64(0x51ED27) + lsalt[la])
            m = np.int64(h >> np.uint64(64 - match_bits))
            mh[la] = m
            if mlen[la] != 0:
                continue
            cand = MT[m]
            if cand < 0:
                continue
            s = cand // L
            lane2 = cand - s * L
            if s <= t - H + _VERIFY:  # no longer in the ring with room to verify
                continue
            ln = 0
            for j in range(1, _VERIFY + 1):
                if s - j < 0 or t - j < 0 or hist[lane2, (s - j) & (H - 1)] != hist[la, (t - j) & (H - 1)]:
                    break
                ln += 1
            if ln >= mm:
                mlen[la] = ln
                mptr[la] = lane2 * H + (s & (H - 1))
    for la in range(L):
        n = mlen[la]
        if n > 0:
            p = mptr[la]
            mbyte[la] = np.int64(hist[p // H, p & (H - 1)]) | 256
        else:
            mbyte[la] = 0
        mlb[la] = n if n < 16 else 16 + min((n - 16) >> 3, 15)
    return have


@njit(cache=True, nogil=True, inline="always")
def update(t, syms, act, have_mh, mh, MT, mlen, mptr, mbyte, hist):
    """After byte t (syms: 0 where inactive): extend or drop each match, index the context (largest
    position wins a slot; only active lanes) and write the byte into the ring."""
    L, H = hist.shape
    for la in range(L):
        s = syms[la]
        if mlen[la] > 0 and (mbyte[la] & 255) == s:
            mlen[la] = min(mlen[la] + 1, 65535)
            p = mptr[la]
            mptr[la] = (p & ~(H - 1)) | ((p + 1) & (H - 1))
        else:
            mlen[la] = 0
            mptr[la] = 0
        if have_mh and act[la]:
            v = t * L + la
            if v > MT[mh[la]]:
                MT[mh[la]] = v
        hist[la, t & (H - 1)] = s
