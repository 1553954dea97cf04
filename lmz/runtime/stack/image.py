"""Image (2-D) contexts of the stack, per byte in numpy: the neighbour pixels of the byte about to
be coded (W, N, NW, NE, WW, NN, NNE, from each lane's history ring and its position in the input;
with ``img_xpatch`` across patch edges), the 2-D context values (``ctx2d`` ids; each becomes one
context column, i.e. one mixer input, through bit histories or direct counters), the activity
bucket that selects mixer weight sets (``img_act``) and APM 2's context (``apm_ctx``).
"""
from __future__ import annotations

import numpy as np

from .tables import clip255

__all__ = ["N_CTX2D", "ctx2d_values", "fill", "neighbours", "find_kper", "neighbours_xpatch"]

N_CTX2D = 12


def ctx2d_values(nb: dict, ids) -> list:
    """Context values (non-negative ints < 2**40) of the 2-D contexts `ids` from the neighbours."""
    W, N, NW, NE, WW, NN, NNE, e = (nb[k] for k in ("W", "N", "NW", "NE", "WW", "NN", "NNE", "edge"))
    table = {
        0: lambda: (W << 8 | N) << 2 | e,  # the two nearest pixels
        1: lambda: (N << 8 | NE) << 2 | e,
        2: lambda: clip255(W + N - NW) << 2 | e,  # gradient (plane) predictor
        3: lambda: (N << 8 | NN) << 2 | e,
        4: lambda: (clip255(2 * N - NN) << 8 | clip255(2 * W - WW)) >> 2 << 2 | e,  # linear extrapolations
        5: lambda: (clip255(W + NE - N) << 8 | ((W + N + 1) >> 1)) << 2 | e,
        6: lambda: (((W - NW) // 8 + 32) << 12 | ((N - NW) // 8 + 32) << 6 | ((NE - N) // 8 + 32)) << 8 | clip255(W + N - NW),
        7: lambda: (clip255(N + NE - NNE) << 8 | W >> 2) << 2 | e,
        8: lambda: ((clip255(W + N - NW) >> 2) << 8 | (clip255(N + NE - NNE) >> 2)) << 2 | e,  # coarse, for noise
        9: lambda: ((W >> 4) << 8 | (N >> 4) << 4 | (NE >> 4)) << 2 | e,
        10: lambda: (nb["lms"][:, 0] << 3 | nb["lerr"][:, 0]) << 2 | e,  # adaptive linear predictions (img_lms)
        11: lambda: (nb["lms"][:, 1] << 3 | nb["lerr"][:, 1]) << 2 | e,
    }
    return [table[i]() for i in ids]


def fill(**nb) -> dict:
    """Neighbour pixels from (value, known) pairs: an unknown one is replaced by the nearest known
    (W <-> N, NW/NE/NNE/NN -> N, WW -> W), or 128 if neither W nor N is; ``edge`` = which of W, N
    are known."""
    (W, has_w), (N, has_n) = nb["W"], nb["N"]
    N = np.where(has_n, N, np.where(has_w, W, 128))
    W = np.where(has_w, W, N)
    out = dict(W=W, N=N, edge=(has_w * 1) | (has_n * 2))
    for name, fallback in (("WW", W), ("NN", N), ("NW", N), ("NE", N), ("NNE", N)):
        v, known = nb[name]
        out[name] = np.where(known, v, fallback)
    return out



def neighbours(st) -> dict:
    """Pixels around the byte about to be coded (step t): W, WW, N, NN, NW, NE, NNE as int64
    arrays; a neighbour outside the patch (or before the lane's first byte) is replaced by the
    nearest one that exists (see _fill). With ``img_xpatch``, see _neighbours_xpatch."""
    if st.img_xpatch:
        return neighbours_xpatch(st)
    t, w, H = st.t, st.img_w, 1 << st.hist_bits
    pos = st.starts + t
    col = pos % w
    row = pos // w
    if st.img_h:
        row = row % st.img_h
    row = np.minimum(row, t // w)  # rows before the lane's first byte are not in its history

    def px(back):
        return st.hist[:, (t - back) & (H - 1)].astype(np.int64)

    has_n, has_nn, has_ne = row >= 1, row >= 2, col <= w - 2
    return fill(W=(px(1), (col >= 1) & (t >= 1)), N=(px(w), has_n), WW=(px(2), (col >= 2) & (t >= 2)),
                 NN=(px(2 * w), has_nn), NW=(px(w + 1), has_n & (col >= 1)), NE=(px(w - 1), has_n & has_ne),
                 NNE=(px(2 * w - 1), has_nn & has_ne))

def find_kper(st, pos) -> None:
    """At a patch start, k (patches per image row) for the lanes there: the k for which the
    top rows of the last 4 patches are closest (mean absolute difference) to the bottom rows
    of the patches k before each (all in the lane's history); 0 (unknown) unless that
    difference is about as small as the one between those patches' own first two rows (at
    most 5/4 of it + 1)."""
    t, w, H = st.t, st.img_w, 1 << st.hist_bits
    P = w * st.img_h
    kn = min(st.kmax, (t - w) // P - 3)  # the k for which all 4 bottom rows are in history
    at = np.flatnonzero(pos % P == 0)
    if kn < 1 or at.size == 0:
        return
    ks = np.arange(1, kn + 1, dtype=np.int64)[:, None, None]  # [K, 1, 1]
    m = np.arange(1, 5, dtype=np.int64)[None, :, None]  # the last 4 patches
    c = np.arange(w, dtype=np.int64)[None, None, :]
    btop = m * P - c  # [1, 4, w]: back to their top rows
    bbot = (m + ks - 1) * P + w - c  # [K, 4, w]: back to the bottom rows k patches before

    def rows(back):
        return st.hist[at[:, None, None, None], (t - back)[None] & (H - 1)].astype(np.int64)

    top = rows(btop)  # [n, 1, 4, w]
    mean = (np.abs(rows(bbot) - top).sum(axis=(2, 3)) << 6) // (4 * w)  # [n, K], x 64
    inner = (np.abs(rows(btop - w) - top).sum(axis=(1, 2, 3)) << 6) // (4 * w)  # [n]
    best = np.argmin(mean, axis=1)
    ok = 4 * mean[np.arange(at.size), best] <= 5 * inner + 4 * 64
    st.kper[at] = np.where(ok, best + 1, 0)

def neighbours_xpatch(st) -> dict:
    """As _neighbours, but a neighbour left of column 0 comes from the previous patch and one
    above row 0 from the patch kper before (its bottom rows; NE beyond the last column from
    the patch after that one), when that pixel is in the lane's history."""
    t, w, h, H = st.t, st.img_w, st.img_h, 1 << st.hist_bits
    P = w * h
    pos = st.starts + t
    find_kper(st, pos)
    col = pos % w
    row = (pos // w) % h
    k = st.kper

    def px(dr, dc):
        """pixel at (row + dr, col + dc) of the image, and whether it is known (dr <= 0)."""
        r2, c2 = row + dr, col + dc
        left, right, up = c2 < 0, c2 >= w, r2 < 0
        c2 = np.where(left, c2 + w, np.where(right, c2 - w, c2))
        dp = right * 1 - left - up * k  # patches forward
        r2 = np.where(up, r2 + h, r2)
        back = (row - r2) * w + (col - c2) - dp * P
        ok = (back >= 1) & (back <= t) & (back < H) & ~(up & (k == 0)) & ~(right & ~up)
        return st.hist[st.rows, (t - back) & (H - 1)].astype(np.int64), ok

    return fill(W=px(0, -1), N=px(-1, 0), WW=px(0, -2), NN=px(-2, 0), NW=px(-1, -1), NE=px(-1, 1),
                 NNE=px(-2, 1))
