"""Record-length detection and record contexts (stack parameter ``period``), compiled.

Tables of fixed-size records (structs, headerless images, fixed-width columns) repeat with a period
that nothing in the byte contexts sees. Per lane, every byte value remembers its last three
positions; when its last three gaps are equal (d, 2 <= d <= MAX_PERIOD), distance d scores a point.
Scores are halved every HALVE bytes, and the period R is the distance with the highest score once
that score reaches MIN_SCORE (0: none yet). Three context columns then hash the byte R back
("above"), with the byte 2R back, with the previous byte, and with the byte R - 1 back (above
right); each with R's low bits, so that a change of period starts new statistics.

State per lane (``new_state``): positions [L, 256, 3], scores [L, MAX_PERIOD + 1], the period and
the next halving step [L, 2]. Integer arithmetic only.
"""
from __future__ import annotations

import numpy as np

from ..jit import njit
from .tables import mix64_1

__all__ = ["new_state", "update", "hash_period", "N_PERIOD", "MAX_PERIOD"]

N_PERIOD = 3
MAX_PERIOD = 4096
HALVE = 4096
MIN_SCORE = 16


def new_state(lanes: int) -> tuple:
    pos = np.full((lanes, 256, 3), -1, dtype=np.int64)
    return pos, np.zeros((lanes, MAX_PERIOD + 1), dtype=np.int64), np.zeros((lanes, 2), dtype=np.int64)


@njit(cache=True, nogil=True)
def update(t, syms, act, pst):
    """After byte t of every active lane: score the byte's gap, halve the scores every HALVE bytes,
    move the period to a better-scored distance."""
    pos, score, per = pst
    for la in range(syms.shape[0]):
        if not act[la]:
            continue
        b = syms[la]
        p1, p2, p3 = pos[la, b, 0], pos[la, b, 1], pos[la, b, 2]
        d = t - p1
        if p3 >= 0 and d == p1 - p2 and d == p2 - p3 and 2 <= d <= MAX_PERIOD:
            score[la, d] += 1
            r = per[la, 0]
            if d != r and score[la, d] >= MIN_SCORE and (r == 0 or score[la, d] > score[la, r]):
                per[la, 0] = d
        pos[la, b, 2], pos[la, b, 1], pos[la, b, 0] = p2, p1, t
        if t >= per[la, 1]:
            per[la, 1] = t + HALVE
            for i in range(MAX_PERIOD + 1):
                score[la, i] >>= 1


@njit(cache=True, nogil=True)
def hash_period(t1, hist, c1, pst, lsalt, col0, hb):
    """hb[:, col0 : col0 + N_PERIOD] for the byte at position t1 of every lane."""
    per = pst[2]
    H = hist.shape[1]
    for la in range(hb.shape[0]):
        R = per[la, 0]
        above, above2, right = 256, 256, 256
        if R and R <= t1 and R < H:
            above = np.int64(hist[la, (t1 - R) & (H - 1)])
            right = np.int64(hist[la, (t1 - R + 1) & (H - 1)])
            if 2 * R <= t1 and 2 * R < H:
                above2 = np.int64(hist[la, (t1 - 2 * R) & (H - 1)])
        ls = lsalt[la] + np.uint64((R & 0xFFF) << 40)
        hb[la, col0] = mix64_1(np.uint64(above | above2 << 9) + np.uint64(0x9E71) + ls)
        hb[la, col0 + 1] = mix64_1(np.uint64(above | c1[la] << 9) + np.uint64(0x9E72) + ls)
        hb[la, col0 + 2] = mix64_1(np.uint64(above | right << 9) + np.uint64(0x9E73) + ls)
