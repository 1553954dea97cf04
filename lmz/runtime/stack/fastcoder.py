"""The numpy range coder's binary event (``Encoder.put_bits`` / ``Decoder.get_bits``), compiled.

Same coder, same bits: these kernels run the arithmetic of :mod:`lmz.runtime.coder` lane by lane on
the very arrays of an ``Encoder`` (``low``, ``rng``, ``buf``, ``pos``) or ``Decoder`` (``code``,
``rng``, ``buf``, ``pos``, ``last``), so a stream can switch between the numpy methods and these
kernels at any event. The numpy classes stay the reference (tests/test_stack_fast.py compares the
two on every path). Everything is uint64 as in the numpy coder; ``p1`` is in 1..65535 (the stack
guarantees it), inactive lanes code the no-op event ``(0, 2**16)``.

Per lane, one event (start, freq) of total 2**16:

    r = rng >> 16; low += r * start (encoder) / code -= r * start (decoder)
    rng = rng - r * start if start + freq == 2**16 else r * freq
    while rng < 2**40 (at most twice): shift a byte out (encoder: first add a waiting carry into
    the written bytes) / in (decoder: reads past the end stay on the all-zero last column)

The encoder's buffer must have room for 2 more bytes per event and lane (``Encoder.reserve``).
"""
from __future__ import annotations

import numpy as np

from ..jit import njit

__all__ = ["put_bit", "get_bit", "put_bits", "get_bits"]

_TOP = np.uint64(1 << 48)
_BOT = np.uint64(1 << 40)
_MASK = np.uint64((1 << 48) - 1)
_ONE = np.uint64(1 << 16)
_S16 = np.uint64(16)
_S8 = np.uint64(8)
_S40 = np.uint64(40)
_Z = np.uint64(0)


@njit(cache=True, nogil=True, inline="always")
def interval(bit, p1, active):
    """(start, width) of a binary event in 2**16 units: 1 is [0, p1), 0 is [p1, 2**16); the no-op of an
    inactive lane is the whole range."""
    if not active:
        return _Z, _ONE
    if bit:
        return _Z, p1
    return p1, _ONE - p1


@njit(cache=True, nogil=True, inline="always")
def put_bit(la, bit, p1, active, low, rng, buf, pos):
    """Encoder.put_bits for lane la: code `bit` with P(1) = p1 (uint64 1..65535); no-op if not active."""
    start, f = interval(bit, p1, active)
    rg = rng[la]
    r = rg >> _S16
    rs = r * start
    lo = low[la] + rs
    if start + f == _ONE:
        rg = rg - rs
    else:
        rg = r * f
    for _ in range(2):
        if rg >= _BOT:
            break
        if lo >= _TOP:  # a waiting carry: add 1 into the bytes written so far
            p = pos[la] - 1
            while p >= 0:
                v = (np.int64(buf[la, p]) + 1) & 255  # numba widens uint8 sums: wrap by hand
                buf[la, p] = np.uint8(v)
                if v != 0:
                    break
                p -= 1
            lo &= _MASK
        p = pos[la]
        buf[la, p] = np.uint8(lo >> _S40)
        pos[la] = p + 1
        lo = (lo << _S8) & _MASK
        rg = rg << _S8
    low[la] = lo
    rng[la] = rg


@njit(cache=True, nogil=True, inline="always")
def get_bit(la, p1, active, code, rng, buf, pos, last):
    """Decoder.get_bits for lane la: the decoded bit (0 for an inactive lane, which codes the no-op)."""
    rg = rng[la]
    r = rg >> _S16
    c = code[la]
    t = c // r
    if t > _ONE - np.uint64(1):
        t = _ONE - np.uint64(1)
    bit = t < p1 and active  # an inactive lane codes the no-op and decodes 0
    start, f = interval(bit, p1, active)
    rs = r * start
    c = c - rs
    if start + f == _ONE:
        rg = rg - rs
    else:
        rg = r * f
    for _ in range(2):
        if rg >= _BOT:
            break
        p = pos[la]
        c = (c << _S8) | np.uint64(buf[la, p])
        rg = rg << _S8
        pos[la] = min(p + 1, last)
    code[la] = c
    rng[la] = rg
    return 1 if bit else 0


@njit(cache=True, nogil=True)
def put_bits(bits, p1, act, low, rng, buf, pos):
    """Encoder.put_bits(bits, p1, act) on an Encoder's arrays (buffer room: 2 bytes per lane)."""
    for la in range(bits.shape[0]):
        put_bit(la, bits[la] != 0, np.uint64(p1[la]), act[la], low, rng, buf, pos)


@njit(cache=True, nogil=True)
def get_bits(p1, act, code, rng, buf, pos, last, out):
    """out[:] = Decoder.get_bits(p1, act) on a Decoder's arrays."""
    for la in range(p1.shape[0]):
        out[la] = get_bit(la, np.uint64(p1[la]), act[la], code, rng, buf, pos, last)
