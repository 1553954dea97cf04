"""The per-decision hot path, compiled: one prediction and one update of every component for all
lanes of a stack, and the byte loop that serves encoding and cost measurement (``code_byte``: the
bits are known, so all 8 decisions run in one call). Decoding interleaves ``predict_bit`` ->
coder -> ``update_bit`` per bit. All arithmetic is integer (int64 unless a table says otherwise),
so the bits are the same on every CPU.

Mixer inputs, columns of ``x``: [0, nd) direct counters, [nd, K) bit-history state maps, K the
match model, K + 1 the bias (256), K + 2 the model (with use_model); ``S`` is the numpy-side
``Stack`` state bundle (a tuple of arrays and ints built in stack.py).
"""
from __future__ import annotations

import numpy as np

from ..freqs import EXP_LEN, EXP_LUT, PROB_ONE
from ..jit import njit
from . import apm, bithistory, counters, fastcoder, mixer
from .prefetch import prefetch
from .tables import ST_MAX

__all__ = ["predict_bit", "update_bit", "code_byte", "encode_byte", "decode_byte", "scores_cum"]


@njit(cache=True, nogil=True, inline="always")
def predict_bit(k, c0, act, cfg, base, chk, node, T, hbase, hchk, hnode, BH, smcol, mbyte, mlb, cum,
                actb, W, W2, c1, c1a, A, sse_w, tabs, sc, p):
    """Predict decision k (0..7) of the byte for every lane into p (inactive lanes: 1).

    cfg = (use_model, n_orders, nd_orders, mixer_ctx, mixer2, moff); tabs = (STRETCH, SQUASH);
    sc = scratch arrays (idx, pe, ne, hidx, state, x, mctx, dot, pr_mix, dot2, pr_mix2, ai, apo)."""
    use_model, n_orders, nd_orders, mixer_ctx, use_mixer2, moff = cfg
    STRETCH, SQUASH = tabs
    idx, pe, ne, hidx, state, x, mctx, dt, prm, dt2, prm2, ai, apo = sc
    L, nd = base.shape
    K = nd + hbase.shape[1]
    # direct counters: slot = context base ^ node offset of c0 (a prefetch hint now, read below)
    for la in range(L):
        o = node[c0[la]]
        for j in range(nd):
            s = base[la, j] ^ o
            idx[la, j] = s
            prefetch(T, s)
    bithistory.read(BH, hbase, hchk, hnode, c0, hidx, state, idx, nd, smcol)
    # match model: a counter per (length bucket, expected bit) while the predicted byte agrees with c0
    for la in range(L):
        mb = mbyte[la]
        if (mb >> (8 - k)) == c0[la]:
            idx[la, K] = moff + (mlb[la] << 1) + ((mb >> (7 - k)) & 1)
        else:
            idx[la, K] = moff
    counters.read(T, idx, chk, pe, ne, x, STRETCH)
    N = x.shape[1]
    if use_model:  # P(1 | prefix) = F(prefix 1) / F(prefix) from the model's cumulative freqs
        w = 1 << (8 - k)
        for la in range(L):
            lo = (c0[la] << (8 - k)) - 256
            c_lo = cum[la, lo]
            c_mid = cum[la, lo + (w >> 1)]
            c_hi = cum[la, lo + w]
            pm = ((c_hi - c_mid) << 16) // max(c_hi - c_lo, 1)
            x[la, N - 1] = STRETCH[min(pm, 65535)]
    # mixer weight set
    for la in range(L):
        ctx = c0[la]
        if mixer_ctx >= 1:  # + how many of the orders 1.. have been seen in this context
            seen = 0
            for j in range(1, nd_orders):
                seen += ne[la, j] > 0
            for j in range(n_orders - nd_orders):
                seen += state[la, j] > 0
            ctx += seen << 8
            if mixer_ctx >= 2:  # + whether the match model predicts this bit
                if (mbyte[la] >> (8 - k)) == c0[la]:
                    ctx += 256 * n_orders
                if mixer_ctx >= 3 and use_model:  # + the model's confidence (4 levels)
                    ctx += min(abs(x[la, N - 1]) >> 9, 3) * (512 * n_orders)
        mctx[la] = ctx + actb[la]
    mixer.dot(W, mctx, x, dt, prm, SQUASH)
    if use_mixer2:
        mixer.dot(W2, c1, x, dt2, prm2, SQUASH)
    for la in range(L):
        d = dt[la]
        if use_mixer2:
            d = (d + dt2[la]) >> 1
        dt[la] = d
    apm.predict(A, dt, c0, c1a, ai, apo)
    for la in range(L):
        if use_mixer2:
            pr = SQUASH[dt[la] + ST_MAX]
        else:
            pr = prm[la]
        q = (pr * sse_w[0] + apo[0, la] * sse_w[1] + apo[1, la] * sse_w[2] + 8) >> 4
        q = min(max(q, 1), 65535)
        p[la] = q if act[la] else 1


@njit(cache=True, nogil=True, inline="always")
def update_bit(y, c0, act, cfg, chk, T, lim, hchk, BH, bh_next, W, W2, c1, A, rates, gdiv, sc, scr):
    """Update every component with the coded bits y[L] (inactive lanes: never), then c0.

    rates = (mixer_lr, apm_rate); scr = (first, cnt, ones, wcnt, acnt, ad, y scratch of the byte loop)."""
    use_mixer2 = cfg[4]
    idx, pe, ne, hidx, state, x, mctx, dt, prm, dt2, prm2, ai, apo = sc
    first, cnt, ones, wcnt, acnt, ad, _ = scr
    counters.update(T, idx, chk, pe, ne, lim, act, y, first, cnt, ones)
    bithistory.update(BH, hidx, state, hchk, act, y, bh_next)
    mixer.train(W, mctx, prm, y, x, act, rates[0], gdiv, wcnt)
    if use_mixer2:
        mixer.train(W2, c1, prm2, y, x, act, rates[0], gdiv, wcnt)
    apm.update(A, ai, act, y, rates[1], acnt, ad)
    for la in range(c0.shape[0]):
        c0[la] = (c0[la] << 1) | y[la]


@njit(cache=True, nogil=True, _nrt=False)
def code_byte(syms, c0, act, cfg, base, chk, node, T, lim, hbase, hchk, hnode, BH, bh_next, smcol, mbyte, mlb,
              cum, actb, W, W2, c1, c1a, A, sse_w, rates, gdiv, tabs, sc, scr, P, B):
    """All 8 decisions of a byte whose bits are known: P[k] = p1, B[k] = the bit (0 where inactive)."""
    L = syms.shape[0]
    y = scr[6]
    for k in range(8):
        predict_bit(k, c0, act, cfg, base, chk, node, T, hbase, hchk, hnode, BH, smcol, mbyte, mlb, cum,
                    actb, W, W2, c1, c1a, A, sse_w, tabs, sc, P[k])
        for la in range(L):
            y[la] = ((syms[la] >> (7 - k)) & 1) if act[la] else 0
            B[k, la] = y[la]
        update_bit(y, c0, act, cfg, chk, T, lim, hchk, BH, bh_next, W, W2, c1, A, rates, gdiv, sc, scr)


@njit(cache=True, nogil=True, _nrt=False)
def encode_byte(syms, c0, act, cfg, base, chk, node, T, lim, hbase, hchk, hnode, BH, bh_next, smcol, mbyte, mlb,
                cum, actb, W, W2, c1, c1a, A, sse_w, rates, gdiv, tabs, sc, scr, P, B, low, rng, buf, pos):
    """code_byte, then the byte's 8 binary events into the encoder arrays (Encoder.put_bits, lane by
    lane: the lanes' coders are independent, so this is the order-free equivalent of 8 put_bits calls).
    The encoder's buffer needs room for 16 more bytes per lane."""
    code_byte(syms, c0, act, cfg, base, chk, node, T, lim, hbase, hchk, hnode, BH, bh_next, smcol, mbyte, mlb,
              cum, actb, W, W2, c1, c1a, A, sse_w, rates, gdiv, tabs, sc, scr, P, B)
    for la in range(syms.shape[0]):
        a = act[la]
        for k in range(8):
            fastcoder.put_bit(la, B[k, la] != 0, np.uint64(P[k, la]), a, low, rng, buf, pos)


@njit(cache=True, nogil=True, _nrt=False)
def decode_byte(c0, act, cfg, base, chk, node, T, lim, hbase, hchk, hnode, BH, bh_next, smcol, mbyte, mlb,
                cum, actb, W, W2, c1, c1a, A, sse_w, rates, gdiv, tabs, sc, scr, P, code, rng, buf, pos, last):
    """Decode a byte: 8 x (predict_bit -> Decoder.get_bits of every lane -> update_bit)."""
    L = c0.shape[0]
    y = scr[6]
    for k in range(8):
        predict_bit(k, c0, act, cfg, base, chk, node, T, hbase, hchk, hnode, BH, smcol, mbyte, mlb, cum,
                    actb, W, W2, c1, c1a, A, sse_w, tabs, sc, P[k])
        for la in range(L):
            y[la] = fastcoder.get_bit(la, np.uint64(P[k, la]), act[la], code, rng, buf, pos, last)
        update_bit(y, c0, act, cfg, chk, T, lim, hchk, BH, bh_next, W, W2, c1, A, rates, gdiv, sc, scr)


_EXP = EXP_LUT.copy()
_KNUM = (PROB_ONE - 256) << 32


@njit(cache=True, nogil=True, _nrt=False)
def scores_cum(scores, cum):
    """cum[la, 1:] = cumsum(scores_to_freqs(scores[la])) (freqs.py, the same integer steps, including
    numpy's int32 wrap-around of max - s and its negative-index reading of EXP_LUT); cum[:, 0] stays 0.
    Returns False (cum unusable) where numpy would raise IndexError (scores spanning more than 2**31).
    Allocates nothing: the lane's row of cum holds the raw weights, then the frequencies, then their sums."""
    L = scores.shape[0]
    for la in range(L):
        raw = cum[la, 1:]
        mx = np.int64(scores[la, 0])
        mn = mx
        for s in range(1, 256):
            v = np.int64(scores[la, s])
            mx = max(mx, v)
            mn = min(mn, v)
        am = 0  # numpy's argmax: the first maximum
        while np.int64(scores[la, am]) != mx:
            am += 1
        tot = 0
        if mx - mn <= 0x7FFFFFFF:  # no int32 wrap-around (always, for a model's scores)
            for s in range(256):
                r = _EXP[min(mx - np.int64(scores[la, s]), EXP_LEN - 1)]
                raw[s] = r
                tot += r
        else:
            for s in range(256):
                d = mx - np.int64(scores[la, s])
                if d > 0x7FFFFFFF:  # numpy computes max - s in int32: it wraps around
                    d = ((d + 0x80000000) & 0xFFFFFFFF) - 0x80000000
                if d > EXP_LEN - 1:
                    d = EXP_LEN - 1
                if d < 0:  # a wrapped difference indexes EXP_LUT from its end, as in numpy
                    d += EXP_LEN
                    if d < 0:
                        return False
                r = _EXP[d]
                raw[s] = r
                tot += r
        k = _KNUM // tot
        fsum = 0
        for s in range(256):
            f = 1 + ((raw[s] * k) >> 32)
            raw[s] = f
            fsum += f
        raw[am] += PROB_ONE - fsum
        acc = 0
        for s in range(256):
            acc += raw[s]
            raw[s] = acc
    return True
