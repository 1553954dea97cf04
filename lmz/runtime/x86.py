"""The x86 call/jump address transform (stack parameter ``x86``, mix presets 5 and 14 of ``--mix auto``).

x86 code calls and jumps with 32-bit *relative* addresses (opcodes ``E8`` call, ``E9`` jmp), so
calls of one function from many places carry different bytes. Rewriting them as *absolute*
addresses (relative + the opcode's position in the frame) makes repeated calls repeat, which the
mix's contexts and match model then find (measured on 512 KiB of an x86-64 .text section with
preset 4: 20.6% -> 13.4% of raw; docs/MIX.md).

Per frame, scanning left to right: at an ``E8``/``E9`` byte with 4 bytes after it, the 4 bytes are
a little-endian u32; if its top byte is ``00`` or ``FF`` (a near target, forward or backward) its
low 24 bits get the position added (``encode``) or subtracted (``decode``), modulo 2**24, and the
scan skips the 4 bytes either way. The opcode bytes are never changed and the skips are
unconditional, so both directions visit the same positions: ``decode(encode(x)) == x`` for any
bytes (tests/test_x86.py). Integer-only, so the same on every CPU.
"""
from __future__ import annotations

import numpy as np

from .jit import njit

__all__ = ["encode", "decode", "looks_like_x86"]


@njit(cache=True, nogil=True)
def _transform(a, sign):
    b = a.copy()
    n = a.shape[0]
    i = 0
    while i + 4 < n:
        op = a[i]
        if op == 0xE8 or op == 0xE9:
            top = a[i + 4]
            if top == 0 or top == 0xFF:
                x = np.int64(a[i + 1]) | (np.int64(a[i + 2]) << 8) | (np.int64(a[i + 3]) << 16)
                y = (x + sign * i) & 0xFFFFFF
                b[i + 1] = y & 255
                b[i + 2] = (y >> 8) & 255
                b[i + 3] = (y >> 16) & 255
            i += 5
        else:
            i += 1
    return b


def encode(raw: bytes) -> bytes:
    """Relative call/jump targets -> absolute (positions are frame-relative)."""
    return _transform(np.frombuffer(raw, dtype=np.uint8), 1).tobytes() if raw else b""


def decode(data: bytes) -> bytes:
    """The inverse of :func:`encode`."""
    return _transform(np.frombuffer(data, dtype=np.uint8), -1).tobytes() if data else b""


def looks_like_x86(raw: bytes, min_rate: float = 1 / 256) -> bool:
    """Near calls (``E8`` with a top address byte of 00 or FF) more often than once in `min_rate`
    bytes: about 4x what random bytes give, well below what compiled x86 code has."""
    a = np.frombuffer(raw, dtype=np.uint8)
    if a.size < 5:
        return False
    top = a[4:]
    calls = int(((a[:-4] == 0xE8) & ((top == 0) | (top == 0xFF))).sum())
    return calls > min_rate * a.size
