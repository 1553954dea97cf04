"""2-D contexts of raster images of known geometry (stack parameter ``raster``; PGM/PPM/BMP frames),
compiled.

``raster = [row, channels, first]``: from frame-relative byte ``first`` on, the lane's bytes are
pixels of rows of ``row`` bytes, ``channels`` interleaved bytes per pixel (1: gray, 3: RGB, 2 or 6:
16-bit samples; a row may end in padding, coded as pixels); the bytes before ``first`` (a file
header) get constant 2-D contexts. For the byte about to be coded (channel ``c`` of its pixel) the
neighbours are the same channel's W, WW, N, NN, NW, NE, NNE, NWW, NNW read from the lane's history
ring; one that is outside the image (or not in the lane's history) is replaced as in image.py
(W <-> N, the others by N or W, 128 if neither is known). With more than one channel, the pixel's
channel before (``P1``) and the same channel's W1 / N1 of the neighbours give the colour-difference
predictions ``W + (P1 - W1)`` and ``N + (P1 - N1)``. Two normalised LMS predictors per channel
(``update``, state from ``new_state``) predict the byte from its neighbours.

Each of the ``N_RASTER`` context values becomes one context column (bit histories; a mixer input
each) hashed with its id and the channel. The byte's local activity ``|W - NW| + |N - NW| +
|N - NE|`` selects one of 8 mixer weight sets (``actb``), and the first LMS prediction is APM 2's
context byte (``c1a``). Integer arithmetic only.
"""
from __future__ import annotations

import numpy as np

from ..jit import njit
from .tables import mix64_1

__all__ = ["N_RASTER", "hash_raster", "update", "new_state", "check"]

N_RASTER = 17
NI = 8  # linear predictor inputs: N, NW, NE, WW, NN, NNE minus W, and the two colour differences
SHIFTS = (4, 1)  # step shifts of the two linear predictors
MAX_ROW = 1 << 24
MAX_CHANNELS = 6  # RGB with 16-bit samples: 6 bytes per pixel


def check(geo, size: int) -> None:
    """ValueError unless ``geo`` = [row, channels, first] is a geometry for `size` bytes."""
    if len(geo) != 3:
        raise ValueError("raster must be [] or [row, channels, first]")
    row, ch, first = (int(v) for v in geo)
    if not (1 <= ch <= MAX_CHANNELS and ch <= row <= MAX_ROW and 0 <= first <= size):
        raise ValueError(f"raster geometry {list(geo)} does not fit a frame of {size} bytes")


def new_state(lanes: int, channels: int) -> tuple:
    """The linear predictors' state: weights [L, channels, 2, NI] (x 2**-16), the inputs of the
    byte about to be coded [L, NI], its (pending, channel, W) [L, 3], the weighted sums and
    predictions [L, 2] each, the recent mean absolute errors [L, channels, 2] (x 16)."""
    L, C = lanes, max(channels, 1)
    return (np.zeros((L, C, 2, NI), dtype=np.int64), np.zeros((L, NI), dtype=np.int64),
            np.zeros((L, 3), dtype=np.int64), np.zeros((L, 2), dtype=np.int64), np.zeros((L, 2), dtype=np.int64),
            np.zeros((L, C, 2), dtype=np.int64))


@njit(cache=True, nogil=True)
def update(syms, act, rst):
    """After the byte syms of every lane: each predictor's weights move by e * d / (|d|^2 + 16) /
    2**shift (floor division; clipped to +-4), its error mean 1/8 of the way to |e|."""
    lw, ld, lm, lpd, lpred, lea = rst
    for la in range(syms.shape[0]):
        if not (act[la] and lm[la, 0]):
            continue
        c, W, y = lm[la, 1], lm[la, 2], syms[la]
        S = np.int64(16)
        for i in range(NI):
            S += ld[la, i] * ld[la, i]
        for k in range(2):
            e = ((y - W) << 16) - lpd[la, k]
            div = S << SHIFTS[k]
            for i in range(NI):
                w = lw[la, c, k, i] + (e * ld[la, i]) // div
                lw[la, c, k, i] = min(max(w, -(1 << 18)), 1 << 18)
            ae = abs(y - lpred[la, k]) << 4
            lea[la, c, k] += (ae - lea[la, c, k]) >> 3
        lm[la, 0] = 0


@njit(cache=True, nogil=True, inline="always")
def _clip(v):
    return min(max(v, 0), 255)


@njit(cache=True, nogil=True, inline="always")
def _px(hist, la, t1, back, ok, H):
    """(pixel `back` bytes back, known) in lane la's history before position t1."""
    if ok and back <= t1 and back < H:
        return np.int64(hist[la, (t1 - back) & (H - 1)]), True
    return np.int64(0), False


@njit(cache=True, nogil=True, inline="always")
def _ilog2(v):
    n = 0
    while v > 1:
        v >>= 1
        n += 1
    return n


@njit(cache=True, nogil=True, inline="always")
def _qerr(d):
    """A signed difference in 4 bits: sign and log2 of the magnitude (at most 7)."""
    m = min(_ilog2(abs(d) + 1), 7)
    return m | 8 if d < 0 else m


@njit(cache=True, nogil=True)
def hash_raster(t1, starts, hist, geo, lsalt, col0, hb, actb, S0, c1a, rst):
    """hb[:, col0 : col0 + N_RASTER], actb and c1a for the byte at step t1 of every lane (lane la
    starts at frame position starts[la])."""
    row, ch, first = geo[0], geo[1], geo[2]
    H = hist.shape[1]
    for la in range(hb.shape[0]):
        v = hb[la, col0:col0 + N_RASTER]  # the lane's context values (all >= 0), hashed in place below
        ls = lsalt[la]
        q = starts[la] + t1 - first  # byte index in the pixels
        if q < 0:  # the header: constant contexts
            for j in range(N_RASTER):
                hb[la, col0 + j] = mix64_1(np.uint64(j + 1) * np.uint64(0x51ED270B) + ls)
            actb[la] = 0
            c1a[la] = 0
            continue
        x, y = q % row, q // row
        c = x % ch
        hw, hww, hn = x >= ch, x >= 2 * ch, y >= 1
        hnn, hne = y >= 2, x + ch < row
        W, kw = _px(hist, la, t1, ch, hw, H)
        N, kn = _px(hist, la, t1, row, hn, H)
        if not kn:
            N = W if kw else 128
        if not kw:
            W = N
        WW, k = _px(hist, la, t1, 2 * ch, hww, H)
        if not k:
            WW = W
        NN, k = _px(hist, la, t1, 2 * row, hnn, H)
        if not k:
            NN = N
        NW, k = _px(hist, la, t1, row + ch, hn and hw, H)
        if not k:
            NW = N
        NE, k = _px(hist, la, t1, row - ch, hn and hne, H)
        if not k:
            NE = N
        NNE, k = _px(hist, la, t1, 2 * row - ch, hnn and hne, H)
        if not k:
            NNE = NE
        NWW, k = _px(hist, la, t1, row + 2 * ch, hn and hww, H)
        if not k:
            NWW = NW
        NNW, k = _px(hist, la, t1, 2 * row + ch, hnn and hw, H)
        if not k:
            NNW = NN
        e = (kw * 1) | (kn * 2)
        grad = _clip(W + N - NW)
        # colour: the pixel's channel before this one, and the same at W and N
        dw, dn, P1 = 0, 0, 0
        if c > 0:
            P1, _ = _px(hist, la, t1, 1, True, H)
            W1, k1 = _px(hist, la, t1, ch + 1, hw, H)
            N1, k2 = _px(hist, la, t1, row + 1, hn, H)
            dw = P1 - W1 if k1 else 0
            dn = P1 - N1 if k2 else 0
        cw, cn = _clip(W + dw), _clip(N + dn)
        cg = _clip(grad + ((dw + dn) >> 1))
        v[0] = (W << 8 | N) << 2 | e
        v[1] = (N << 8 | NE) << 2 | e
        v[2] = grad << 2 | e
        v[3] = (N << 8 | NN) << 2 | e
        v[4] = (_clip(2 * N - NN) << 8 | _clip(2 * W - WW)) >> 2 << 2 | e
        v[5] = (_clip(W + NE - N) << 8 | ((W + N + 1) >> 1)) << 2 | e
        v[6] = (((W - NW) // 8 + 32) << 12 | ((N - NW) // 8 + 32) << 6 | ((NE - N) // 8 + 32)) << 8 | grad
        v[7] = (_clip(N + NE - NNE) << 8 | W >> 2) << 2 | e
        v[8] = ((grad >> 2) << 8 | (_clip(N + NE - NNE) >> 2)) << 2 | e
        v[9] = ((W >> 4) << 8 | (N >> 4) << 4 | (NE >> 4)) << 2 | e
        v[10] = (cw << 8 | cn) << 2 | e
        v[11] = (cg << 8 | P1) << 2 | e
        ew = _qerr(W - _clip(WW + NW - NWW))
        en = _qerr(N - _clip(NW + NN - NNW))
        v[12] = (grad << 4 | ew) << 4 | en
        lo, hi = min(W, N), max(W, N)
        med = lo if NW >= hi else (hi if NW <= lo else W + N - NW)
        tx = (W > med) | (N > med) << 1 | (NW > med) << 2 | (NE > med) << 3 | (WW > med) << 4 | (NN > med) << 5
        v[13] = (med << 6 | tx) << 2 | e
        v[14] = (((W + N + NE + NW + 2) >> 2) << 4 | _qerr(W - N)) << 4 | _qerr(N - NE)
        # the linear predictors
        lw, ld, lm, lpd, lpred, lea = rst
        ld[la, 0], ld[la, 1], ld[la, 2] = N - W, NW - W, NE - W
        ld[la, 3], ld[la, 4], ld[la, 5] = WW - W, NN - W, NNE - W
        ld[la, 6], ld[la, 7] = dw, dn
        lm[la, 0], lm[la, 1], lm[la, 2] = 1, c, W
        for k in range(2):
            acc = np.int64(0)
            for i in range(NI):
                acc += ld[la, i] * lw[la, c, k, i]
            lpd[la, k] = acc
            lpred[la, k] = _clip(W + ((acc + 32768) >> 16))
            v[15 + k] = lpred[la, k] << 3 | min(_ilog2(lea[la, c, k] + 1), 7)
        for j in range(N_RASTER):
            v[j] = mix64_1(v[j] + np.uint64((j * 8 + c + 1) << 40) + ls)
        a = abs(W - NW) + abs(N - NW) + abs(N - NE)
        actb[la] = min(_ilog2(a + 1), 7) * S0
        c1a[la] = lpred[la, 0]
