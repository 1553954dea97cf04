"""Many steps of a stack in one compiled call.

When the stack has no 2-D image contexts (computed in numpy), nothing outside numba is needed
between two bytes, so a run of steps ``[t0, t1)`` of every lane (the byte's begin: match lookup;
its 8 decisions and coder events: ``bitloop.encode_byte`` / ``decode_byte``; its end: match and
context updates, context hashes) runs here in one call instead of one Python round trip per byte:
model-free stacks always (``use_model`` False), and the encoder of stacks that read the model too,
given the model's cumulative frequencies of every step of the run (``cums``; the encoder knows
every input byte, so the model can run ahead). The lane groups of such a stack (``bounds``) code
each byte's decisions group by group, as ``MixStack.encode_step`` does. The kernels call the very
component functions the per-step path calls, in the same order, so the bits are the same
(tests/test_stack_fast.py compares the two paths). This is what makes one long lane (the whole
frame, where the stack learns most) affordable: per-step Python overhead no longer multiplies
with the lane count.

The step kernels and the byte kernels they call compile without numba's reference counting
(``_nrt=False``): they allocate nothing (scratch comes from the caller: ``fs`` here, ``scr`` in
bitloop.py), and the per-bit inlined components bind many arrays, each binding an atomic
increment and decrement under reference counting (measured: 45% of a model-free frame's time).
"""
from __future__ import annotations

import numpy as np

from ..jit import njit
from . import bitloop, contexts, match, period, raster

__all__ = ["encode_steps", "decode_steps", "step_scratch"]


def step_scratch(lanes: int, group: int) -> tuple:
    """The step kernels' scratch (int64): [lanes + group] (the bytes, a group's bits), [3, 2, group]
    (a group's APM knots, outputs, updates), [2, 8, group] (a group's p1s and bits)."""
    return (np.zeros(lanes + group, dtype=np.int64), np.zeros((3, 2, group), dtype=np.int64),
            np.zeros((2, 8, group), dtype=np.int64))


@njit(cache=True, nogil=True, inline="always")
def _begin(t, lens, act, mm, match_bits, h8, lsalt, MT, mlen, mptr, hist, mh, mbyte, mlb, c0):
    for la in range(lens.shape[0]):
        act[la] = lens[la] > t
        c0[la] = 1
    return match.lookup(t, mm, match_bits, h8, lsalt, MT, mlen, mptr, hist, mh, mbyte, mlb)


@njit(cache=True, nogil=True, _nrt=False)
def _end(t, syms, act, have, mh, MT, mlen, mptr, mbyte, hist, h8, wh, wp, c1, omask, osalt, lsalt, words, hb,
         permk, nd, table_bits, bh_bits, base, chk, hbase, hchk, columns, cst, israster, S0, starts, rgeo, actb, c1a, rst, ind, ind_col, ind1, ind2, per, per_col, pst):
    for la in range(syms.shape[0]):
        if not act[la]:
            syms[la] = 0
    if israster:
        raster.update(syms, act, rst)
    if ind:
        contexts.update_indirect(syms, act, h8, ind1, ind2)
    if per:
        period.update(t, syms, act, pst)
    match.update(t, syms, act, have, mh, MT, mlen, mptr, mbyte, hist)
    contexts.update(syms, act, h8, wh, wp, c1)
    contexts.hash_text(h8, wh, wp, omask, osalt, lsalt, words, hb)
    if columns:
        contexts.update_columns(t, syms, act, cst)
        contexts.hash_columns(t + 1, hist, cst, c1, lsalt, omask.shape[0] + words, hb)
    if ind:
        contexts.hash_indirect(h8, ind1, ind2, lsalt, ind_col, hb)
    if per:
        period.hash_period(t + 1, hist, c1, pst, lsalt, per_col, hb)
    if israster:
        raster.hash_raster(t + 1, starts, hist, rgeo, lsalt, omask.shape[0] + words, hb, actb, S0, c1a, rst)
    contexts.split(hb, permk, nd, table_bits, bh_bits, base, chk, hbase, hchk)


@njit(cache=True, nogil=True, _nrt=False)
def encode_steps(M, lens, t0, t1, ints, cst, act, c0, h8, lsalt, MT, mlen, mptr, hist, mh, mbyte, mlb, wh, wp, omask,
                 osalt, hb, permk, base, chk, hbase, hchk, cfg, node, T, lim, hnode, BH, bh_next, smcol, cums, actb,
                 W, W2, c1, c1a, starts, rgeo, rst, ind1, ind2, pst, A, sse_w, rates, gdiv, tabs, sc, scr, P, B, low, rng,
                 buf, pos, bounds, fs):
    """Code steps t0..t1-1 of M [L, >= t1] (lane bytes, lanes end at lens) into the encoder arrays
    (which need room for 16 bytes per step and lane). ints = (match_min, match_bits, words, nd,
    table_bits, bh_bits, columns, ...); cst: the column contexts' state (contexts.py); cums [t1 - t0,
    L, 257]: the model's cumulative frequencies of each step (use_model; else [1, L, 257], unread);
    bounds: the lane groups' edges (0, ..., L); fs: step_scratch(L, the largest group)."""
    mm, match_bits, words, nd, table_bits, bh_bits, columns, israster, S0, ind, ind_col, per, per_col = ints
    L = lens.shape[0]
    f1, f2, f8 = fs
    syms = f1[:L]
    G = bounds.shape[0] - 1
    for t in range(t0, t1):
        have = _begin(t, lens, act, mm, match_bits, h8, lsalt, MT, mlen, mptr, hist, mh, mbyte, mlb, c0)
        for la in range(L):
            syms[la] = M[la, t] if act[la] else 0
        cum = cums[t - t0] if cfg[0] else cums[0]
        if G == 1:
            bitloop.encode_byte(syms, c0, act, cfg, base, chk, node, T, lim, hbase, hchk, hnode, BH, bh_next, smcol,
                                mbyte, mlb, cum, actb, W, W2, c1, c1a, A, sse_w, rates, gdiv, tabs, sc, scr, P, B,
                                low, rng, buf, pos)
        else:
            for g in range(G):  # the group's lanes: leading-dimension views; its [2, *] / [8, *] scratch from fs
                lo, hi = bounds[g], bounds[g + 1]
                gsc = (sc[0][lo:hi], sc[1][lo:hi], sc[2][lo:hi], sc[3][lo:hi], sc[4][lo:hi], sc[5][lo:hi],
                       sc[6][lo:hi], sc[7][lo:hi], sc[8][lo:hi], sc[9][lo:hi], sc[10][lo:hi], f2[0], f2[1])
                gscr = (scr[0], scr[1], scr[2], scr[3], scr[4], f2[2], f1[L:])
                bitloop.encode_byte(syms[lo:hi], c0[lo:hi], act[lo:hi], cfg, base[lo:hi], chk[lo:hi], node, T, lim,
                                    hbase[lo:hi], hchk[lo:hi], hnode, BH, bh_next, smcol, mbyte[lo:hi], mlb[lo:hi],
                                    cum[lo:hi], actb[lo:hi], W, W2, c1[lo:hi], c1a[lo:hi], A, sse_w, rates, gdiv,
                                    tabs, gsc, gscr, f8[0], f8[1],
                                    low[lo:hi], rng[lo:hi], buf[lo:hi], pos[lo:hi])
        _end(t, syms, act, have, mh, MT, mlen, mptr, mbyte, hist, h8, wh, wp, c1, omask, osalt, lsalt, words, hb,
             permk, nd, table_bits, bh_bits, base, chk, hbase, hchk, columns, cst, israster, S0, starts, rgeo, actb, c1a, rst, ind, ind_col, ind1, ind2, per, per_col, pst)


@njit(cache=True, nogil=True, _nrt=False)
def decode_steps(out, lens, t0, t1, ints, cst, act, c0, h8, lsalt, MT, mlen, mptr, hist, mh, mbyte, mlb, wh, wp, omask,
                 osalt, hb, permk, base, chk, hbase, hchk, cfg, node, T, lim, hnode, BH, bh_next, smcol, cum, actb,
                 W, W2, c1, c1a, starts, rgeo, rst, ind1, ind2, pst, A, sse_w, rates, gdiv, tabs, sc, scr, P, code, rng, buf, pos, last, fs):
    """Decode steps t0..t1-1 of every lane into out [L, >= t1] (uint8; inactive lanes get 0); fs:
    step_scratch(L, ...)."""
    mm, match_bits, words, nd, table_bits, bh_bits, columns, israster, S0, ind, ind_col, per, per_col = ints
    L = lens.shape[0]
    syms = fs[0][:L]
    for t in range(t0, t1):
        have = _begin(t, lens, act, mm, match_bits, h8, lsalt, MT, mlen, mptr, hist, mh, mbyte, mlb, c0)
        bitloop.decode_byte(c0, act, cfg, base, chk, node, T, lim, hbase, hchk, hnode, BH, bh_next, smcol, mbyte,
                            mlb, cum, actb, W, W2, c1, c1a, A, sse_w, rates, gdiv, tabs, sc, scr, P, code, rng, buf,
                            pos, last)
        for la in range(L):
            syms[la] = c0[la] - 256
            out[la, t] = syms[la]
        _end(t, syms, act, have, mh, MT, mlen, mptr, mbyte, hist, h8, wh, wp, c1, omask, osalt, lsalt, words, hb,
             permk, nd, table_bits, bh_bits, base, chk, hbase, hchk, columns, cst, israster, S0, starts, rgeo, actb, c1a, rst, ind, ind_col, ind1, ind2, per, per_col, pst)
