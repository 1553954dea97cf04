"""16-bit PCM audio as prediction residuals (stack parameter ``pcm``, mix preset 7 of ``--mix auto``).

A byte model sees a 16-bit sample as two loosely related bytes; an audio coder predicts each sample
from the ones before it and codes only the (small) prediction error. This transform does the
latter before the mix codes a frame (as ``x86.py`` does for call addresses): ``pcm = [channels,
start, end]`` names the frame-relative byte range ``[start, end)`` of little-endian signed 16-bit
samples, ``channels`` interleaved (``end - start`` a multiple of ``2 * channels``); bytes outside
the range (a WAV header, trailing chunks, an odd last byte) are kept as they are.

Per channel, a cascade of integer adaptive predictors (its state starts at zero in every frame),
each stage predicting the residual the stage before it leaves:

1. a fixed first-order stage: ``p0 = x[-1] * 16 >> 5``, residual ``r0 = x - p0``;
2. a normalised LMS of order 48 on ``r0`` (weights x 2**-16, step 2**-3 over the energy of its
   inputs), prediction ``p1``, residual ``r1 = r0 - p1``;
3. a normalised LMS of order 16 on ``r1`` (step 2**-2): ``p2``, ``r2``;
4. a sign-sign LMS of order 32 on ``r2`` (weights x 2**-12, step 16): ``p3``;
5. the prediction ``P = (a0 p0 + a1 p1 + a2 p2 + a3 p3) >> 14``, clipped to the int16 range, with
   weights starting at 2**14 (the plain sum) and moved by 16 toward the sample (sign-sign).

Every stage's prediction depends on past samples only, so ``P`` is known before the sample: the
encoder writes ``e = x - P`` modulo 2**16 and the decoder recovers ``x = P + e`` modulo 2**16 (as int16), then updates the same state. Integer-only
(int64; stage outputs and weights are clamped, so no product or sum overflows), hence the same on every CPU.

Layout (what the mix codes best, measured on training speech; docs/MIX.md): the residuals in
zigzag form ``z`` (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...) as two planes over the range: first the
high bytes of all samples, then their low bytes.

:func:`parse_wav` finds the samples of a RIFF/WAVE file at the start of a block; :func:`detect`
finds 16-bit PCM without a header (a later frame of a WAV larger than one frame).
"""
from __future__ import annotations

import struct

import numpy as np

from .jit import njit

__all__ = ["encode", "decode", "parse_wav", "region", "detect", "check"]

MAX_CHANNELS = 8
_C1 = 16  # first stage: x[-1] * 16 / 32
_N1, _K1 = 48, 3  # NLMS 1: order, step shift
_N2, _K2 = 16, 2  # NLMS 2
_N3, _S3 = 32, 16  # sign-sign LMS: order, weight step (weights x 2**-12)
_SM = 16  # step of the final combination's weights (x 2**-14)
_RMAX = (1 << 18) - 1  # stage inputs and predictions are clamped to +-_RMAX
_WMAX = 1 << 26  # weight clamp


@njit(cache=True, nogil=True)
def _clamp(v, m):
    return min(max(v, -m), m)


@njit(cache=True, nogil=True)
def _sgn(v):
    return 1 if v > 0 else (-1 if v < 0 else 0)


@njit(cache=True, nogil=True)
def _run(a, out, channels, start, n, sign):
    """Transform (sign 1) or invert (sign -1) the n samples at a[start:] into out (planes)."""
    C = channels
    H1 = np.zeros((C, _N1), dtype=np.int64)
    W1 = np.zeros((C, _N1), dtype=np.int64)
    H2 = np.zeros((C, _N2), dtype=np.int64)
    W2 = np.zeros((C, _N2), dtype=np.int64)
    H3 = np.zeros((C, _N3), dtype=np.int64)
    W3 = np.zeros((C, _N3), dtype=np.int64)
    A = np.full((C, 4), 1 << 14, dtype=np.int64)  # the final combination's weights
    E1 = np.zeros(C, dtype=np.int64)
    E2 = np.zeros(C, dtype=np.int64)
    xp = np.zeros(C, dtype=np.int64)
    for i in range(n):
        c = i % C
        # the stages' predictions (past samples only)
        p0 = (xp[c] * _C1) >> 5
        acc = np.int64(0)
        for j in range(_N1):
            acc += W1[c, j] * H1[c, j]
        p1 = _clamp(acc >> 16, _RMAX)
        acc = np.int64(0)
        for j in range(_N2):
            acc += W2[c, j] * H2[c, j]
        p2 = _clamp(acc >> 16, _RMAX)
        acc = np.int64(0)
        for j in range(_N3):
            acc += W3[c, j] * H3[c, j]
        p3 = _clamp(acc >> 12, _RMAX)
        P = (A[c, 0] * p0 + A[c, 1] * p1 + A[c, 2] * p2 + A[c, 3] * p3) >> 14
        P = min(max(P, -32768), 32767)
        if sign > 0:
            x = np.int64(a[start + 2 * i]) | (np.int64(a[start + 2 * i + 1]) << 8)
            x -= (x >> 15) << 16  # as int16
            e = ((x - P + 32768) & 0xFFFF) - 32768
            z = 2 * e if e >= 0 else -2 * e - 1
            out[start + i] = z >> 8
            out[start + n + i] = z & 255
        else:
            z = (np.int64(a[start + i]) << 8) | np.int64(a[start + n + i])
            e = z >> 1 if (z & 1) == 0 else -((z + 1) >> 1)
            x = ((P + e + 32768) & 0xFFFF) - 32768
            out[start + 2 * i] = x & 255
            out[start + 2 * i + 1] = (x >> 8) & 255
        # the final combination: sign-sign toward the sample
        d = _sgn(x - P) * _SM
        if d != 0:
            A[c, 0] = _clamp(A[c, 0] + d * _sgn(p0), _WMAX)
            A[c, 1] = _clamp(A[c, 1] + d * _sgn(p1), _WMAX)
            A[c, 2] = _clamp(A[c, 2] + d * _sgn(p2), _WMAX)
            A[c, 3] = _clamp(A[c, 3] + d * _sgn(p3), _WMAX)
        # the stage residuals of the actual sample, then each stage's update
        r0 = _clamp(x - p0, _RMAX)
        r1 = _clamp(r0 - p1, _RMAX)
        r2 = _clamp(r1 - p2, _RMAX)
        r3 = _clamp(r2 - p3, _RMAX)
        g = (r1 << (32 - _K1)) // (E1[c] + 64)
        for j in range(_N1):
            W1[c, j] = _clamp(W1[c, j] + ((g * H1[c, j]) >> 16), _WMAX)
        g = (r2 << (32 - _K2)) // (E2[c] + 64)
        for j in range(_N2):
            W2[c, j] = _clamp(W2[c, j] + ((g * H2[c, j]) >> 16), _WMAX)
        if r3 != 0:
            s = _S3 if r3 > 0 else -_S3
            for j in range(_N3):
                h = H3[c, j]
                if h > 0:
                    W3[c, j] = _clamp(W3[c, j] + s, _WMAX)
                elif h < 0:
                    W3[c, j] = _clamp(W3[c, j] - s, _WMAX)
        E1[c] += r0 * r0 - H1[c, _N1 - 1] * H1[c, _N1 - 1]
        E2[c] += r1 * r1 - H2[c, _N2 - 1] * H2[c, _N2 - 1]
        for j in range(_N1 - 1, 0, -1):
            H1[c, j] = H1[c, j - 1]
        H1[c, 0] = r0
        for j in range(_N2 - 1, 0, -1):
            H2[c, j] = H2[c, j - 1]
        H2[c, 0] = r1
        for j in range(_N3 - 1, 0, -1):
            H3[c, j] = H3[c, j - 1]
        H3[c, 0] = r2
        xp[c] = x


def check(pcm, size: int) -> tuple[int, int, int]:
    """(channels, start, end) of a ``pcm`` parameter for a frame of `size` bytes; ValueError if it is
    not 1..8 channels and a range of whole sample frames inside the frame."""
    if len(pcm) != 3:
        raise ValueError("pcm must be [channels, start, end]")
    ch, s, e = (int(v) for v in pcm)
    if not 1 <= ch <= MAX_CHANNELS:
        raise ValueError(f"pcm has {ch} channels (1..{MAX_CHANNELS})")
    if not 0 <= s <= e or (e - s) % (2 * ch):
        raise ValueError(f"pcm range {[ch, s, e]} is not whole sample frames")
    if e > size:
        raise ValueError(f"pcm range {[ch, s, e]} does not fit a frame of {size} bytes")
    return ch, s, e


def _apply(data: bytes, pcm, sign: int) -> bytes:
    if not pcm or not data:
        return data
    ch, s, e = check(pcm, len(data))
    a = np.frombuffer(data, dtype=np.uint8)
    out = a.copy()
    if e > s:
        _run(a, out, ch, s, (e - s) // 2, sign)
    return out.tobytes()


def encode(raw: bytes, pcm) -> bytes:
    """Samples -> residual planes (`pcm` = [channels, start, end]; [] or () leaves raw as it is)."""
    return _apply(raw, pcm, 1)


def decode(data: bytes, pcm) -> bytes:
    """The inverse of :func:`encode`."""
    return _apply(data, pcm, -1)


def region(size: int, channels: int, start: int, end: int | None = None) -> list[int] | None:
    """The ``pcm`` parameter for samples from `start` to `end` (None: the block's end) of a block of
    `size` bytes: the range cut to whole sample frames; None if it holds none."""
    end = size if end is None else min(end, size)
    align = 2 * channels
    if start >= end:
        return None
    end = start + (end - start) // align * align
    return [channels, start, end] if end > start else None


def parse_wav(raw: bytes) -> tuple[int, int, int] | None:
    """(channels, data start, data end) of a RIFF/WAVE file of 16-bit PCM (format 1, or the
    extensible format 0xFFFE with PCM samples) starting at raw[0]; None for anything else or a
    malformed header. The data end is where the data chunk's size says, which may lie beyond
    raw (a truncated file, or a WAV larger than this block: the caller cuts it)."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return None
    pos, fmt = 12, None
    while pos + 8 <= len(raw):
        cid, size = raw[pos: pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            if size < 16 or body + 16 > len(raw):
                return None
            tag, ch, _rate, _bps, align, bits = struct.unpack_from("<HHIIHH", raw, body)
            if tag == 0xFFFE and size >= 40 and body + 40 <= len(raw):
                tag = struct.unpack_from("<H", raw, body + 24)[0]  # the sub-format GUID's first field
            if tag != 1 or bits != 16 or not 1 <= ch <= MAX_CHANNELS or align != 2 * ch:
                return None
            fmt = ch
        elif cid == b"data":
            if fmt is None:
                return None
            return fmt, body, body + size
        pos = body + size + (size & 1)  # chunks are padded to even sizes
    return None


@njit(cache=True, nogil=True)
def _cost(a, channels, phase, n):
    """A cheap estimate (bytes) of coding n samples from a[phase:] as residuals: an adaptive
    Rice-like cost of a second-order difference, per channel."""
    C = channels
    x1 = np.zeros(C, dtype=np.int64)
    x2 = np.zeros(C, dtype=np.int64)
    m = np.full(C, 1 << 10, dtype=np.int64)  # running mean of |z| x 16
    bits = np.int64(0)
    for i in range(n):
        c = i % C
        x = np.int64(a[phase + 2 * i]) | (np.int64(a[phase + 2 * i + 1]) << 8)
        x -= (x >> 15) << 16
        e = x - 2 * x1[c] + x2[c]
        z = 2 * e if e >= 0 else -2 * e - 1
        k = 0
        while (np.int64(16) << k) <= m[c]:
            k += 1
        bits += 1 + k + min(z >> k, 32)
        m[c] += z - (m[c] >> 4)
        x2[c] = x1[c]
        x1[c] = x
    return bits // 8


def detect(raw: bytes, sample: int = 1 << 15, ratio: float = 0.8) -> tuple[int, int] | None:
    """(channels, phase) if the first `sample` bytes of `raw` look like 16-bit PCM without a header
    (mono or stereo, samples starting at byte `phase`): the best candidate's estimated residual
    cost is below `ratio` of the bytes. None otherwise (text, code, noise)."""
    a = np.frombuffer(raw[:sample], dtype=np.uint8)
    best, arg = None, None
    for ch, phase in ((1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (2, 3)):
        n = (a.size - phase) // (2 * ch) * ch
        if n < 64 * ch:
            continue
        c = int(_cost(a, ch, phase, n)) / (2 * n)
        if best is None or c < best - 0.01:  # a clearly better candidate only (mono before stereo)
            best, arg = c, (ch, phase)
    return arg if best is not None and best < ratio else None
