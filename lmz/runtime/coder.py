"""Integer-only range coder in numpy, vectorised across lanes.

Every call codes one event for every lane at once; there is no Python loop over lanes or
symbols. Events are (start, freq) pairs on a total of ``2**PROB_BITS`` (= 2**16), exactly the
integers that :func:`lmz.runtime.freqs.scores_to_freqs` produces, so encoder and decoder agree
bit for bit on every machine.

Design (per lane, all uint64):

* ``low`` holds the low 48 bits of the code interval's start, ``rng`` its width, kept in
  ``[2**40, 2**48]``. Coding ``(start, freq)``: ``r = rng >> 16``, ``low += r * start``,
  ``rng = r * freq`` -- except for the event that ends at the total (``start + freq == 2**16``),
  which takes the whole remainder ``rng - r * start``. That makes ``(0, 2**16)`` an exact no-op
  (used for lanes that have ended) and wastes nothing on the top symbol.
* ``low`` may overflow into bit 48: the carry is added into the lane's already-written bytes
  (a vectorised ripple over the few carrying lanes; it never runs past the first byte).
* While ``rng < 2**40`` the top byte of ``low`` is shifted out (at most twice per event, since
  ``rng >= 2**24`` after any event with ``freq >= 1``).
* ``finish()`` writes the single byte that pins a value inside the final interval and drops
  trailing zero bytes: the decoder reads zeros past the end of a lane's bytes.

The precision loss per event is below ``2**16 / 2**40`` relative, i.e. < 1e-7 bit; the whole
overhead over the ideal code length is about one byte per lane (measured in tests and in the
report). Codes in natural order, so it streams.

The decoder never reads outside its buffers and every loop is bounded, so decoding arbitrary
bytes terminates; garbage decodes to garbage, which the container's checks reject.
"""
from __future__ import annotations

import numpy as np

from .freqs import PROB_BITS, PROB_ONE

__all__ = ["Encoder", "Decoder", "NOOP_START", "NOOP_FREQ", "noop_table"]

_U = np.uint64
_TOP = _U(1 << 48)
_BOT = _U(1 << 40)
_MASK = _U((1 << 48) - 1)
_PB = _U(PROB_BITS)
_ONE = _U(PROB_ONE)
NOOP_START = 0
NOOP_FREQ = PROB_ONE
_MAX_SHIFTS = 2  # rng >= 2**24 after an event with freq >= 1: two byte shifts reach 2**40


def noop_table(lanes: int) -> np.ndarray:
    """A [lanes, 256] frequency table whose only symbol is 0 with the whole total (a no-op)."""
    t = np.zeros((lanes, 256), dtype=np.int64)
    t[:, 0] = PROB_ONE
    return t


def _start_freq(freqs: np.ndarray, syms: np.ndarray, rows: np.ndarray):
    cum = np.cumsum(freqs, axis=1)
    f = freqs[rows, syms]
    return cum[rows, syms] - f, f


class Encoder:
    """Range encoder for `lanes` independent streams."""

    def __init__(self, lanes: int, capacity: int = 256):
        self.lanes = int(lanes)
        self.low = np.zeros(self.lanes, dtype=_U)
        self.rng = np.full(self.lanes, _TOP, dtype=_U)
        self.buf = np.zeros((self.lanes, max(int(capacity), 16)), dtype=np.uint8)
        self.pos = np.zeros(self.lanes, dtype=np.int64)
        self.rows = np.arange(self.lanes)
        self.events = 0
        self.bound = 0  # an upper bound of max(pos), so the buffer check needs no reduction

    # -- events ---------------------------------------------------------------------------
    def put(self, start, freq) -> None:
        """Code one event (start[L], freq[L]) per lane; (0, 2**16) is an exact no-op."""
        start = np.asarray(start).astype(_U, copy=False)
        freq = np.asarray(freq).astype(_U, copy=False)
        if start.shape != (self.lanes,) or freq.shape != (self.lanes,):
            raise ValueError(f"expected {self.lanes} events, got {start.shape} / {freq.shape}")
        if (freq == 0).any() or (start + freq > _ONE).any():
            raise ValueError("events need 1 <= freq and start + freq <= 2**16")
        self._put(start, freq)

    def _put(self, start: np.ndarray, freq: np.ndarray) -> None:
        # A carry out of bit 48 stays in `low` (bits 48+) until the lane next shifts a byte out
        # (_normalize adds it into the written bytes first, and finish() flushes the rest). The
        # additions between two shifts of a lane sum to less than its range <= 2**48, so at most
        # one carry waits per lane and `low` stays below 2**49.
        r = self.rng >> _PB
        rs = r * start
        self.low += rs
        self.rng = np.where(start + freq == _ONE, self.rng - rs, r * freq)
        self.events += 1
        self._normalize()

    def put_symbols(self, freqs: np.ndarray, syms, active=None) -> None:
        """Code syms[L] (0..255) under freqs[L, 256] (each row sums to 2**16).

        Lanes where `active` is False code the no-op event instead.
        """
        syms = np.asarray(syms, dtype=np.int64)
        start, f = _start_freq(np.asarray(freqs, dtype=np.int64), syms, self.rows)
        if active is not None:
            start = np.where(active, start, NOOP_START)
            f = np.where(active, f, NOOP_FREQ)
        self.put(start, f)

    def put_bits(self, bits, p1, active=None) -> None:
        """Code bits[L] (0/1), p1[L] = P(bit = 1) in 1..65535 of 2**16."""
        bits = np.asarray(bits).astype(bool)
        p1 = np.asarray(p1, dtype=np.int64)
        if p1.shape != (self.lanes,) or p1.min() < 1 or p1.max() >= PROB_ONE:
            raise ValueError("p1 must hold one value in 1..65535 per lane")
        p1 = p1.astype(_U)
        start = np.where(bits, _U(0), p1)
        f = np.where(bits, p1, _ONE - p1)
        if active is not None:
            start = np.where(active, start, _U(NOOP_START))
            f = np.where(active, f, _U(NOOP_FREQ))
        self._put(start, f)

    # -- internals ------------------------------------------------------------------------
    def _carry(self, idx: np.ndarray) -> None:
        """Add 1 to the bytes written so far in lanes idx (a carry out of `low`)."""
        p = self.pos[idx] - 1
        while idx.size:
            ok = p >= 0  # always true for a valid encoder: the code value stays below 1
            idx, p = idx[ok], p[ok]
            v = self.buf[idx, p] + np.uint8(1)
            self.buf[idx, p] = v
            more = v == 0
            idx, p = idx[more], p[more] - 1

    def _grow(self, need: int) -> None:
        cap = self.buf.shape[1]
        if need <= cap:
            return
        new = np.zeros((self.lanes, max(need, 2 * cap)), dtype=np.uint8)
        new[:, :cap] = self.buf
        self.buf = new

    def _normalize(self) -> None:
        for _ in range(_MAX_SHIFTS):
            m = self.rng < _BOT
            if not m.any():
                return
            idx = np.flatnonzero(m)
            low = self.low[idx]
            c = low >= _TOP
            if c.any():
                self._carry(idx[c])
                low &= _MASK
            p = self.pos[idx]
            if self.bound + 2 > self.buf.shape[1]:  # bound >= max(pos); grows by <= 1 per shift
                self.bound = int(self.pos.max())
                self._grow(self.bound + 2)
            self.bound += 1
            self.buf[idx, p] = (low >> _U(40)).astype(np.uint8)
            self.pos[idx] = p + 1
            self.low[idx] = (low << _U(8)) & _MASK
            self.rng[idx] = self.rng[idx] << _U(8)

    # -- end ------------------------------------------------------------------------------
    def finish(self, strip_zeros: bool = False) -> list[bytes]:
        """Flush and return each lane's bytes. The encoder cannot be used afterwards.

        ``strip_zeros``: drop each lane's trailing zero bytes (the decoder reads zeros past the end),
        as format version 1 did; version 2 keeps them, so that a lane's coded length bounds what it
        decodes to (docs/FORMAT.md)."""
        # v = low rounded up to a multiple of 2**40 lies in [low, low + rng) since rng >= 2**40.
        carry = self.low >= _TOP  # a carry still waiting (see _put)
        if carry.any():
            self._carry(np.flatnonzero(carry))
        low = self.low & _MASK
        v = (low + (_BOT - _U(1))) & ~(_BOT - _U(1))
        carry = v >= _TOP
        if carry.any():
            self._carry(np.flatnonzero(carry))
        self._grow(int(self.pos.max()) + 2)
        self.buf[self.rows, self.pos] = ((v >> _U(40)) & _U(0xFF)).astype(np.uint8)
        self.pos += 1
        out = []
        for i in range(self.lanes):  # per lane once, at the end
            b = self.buf[i, : self.pos[i]].tobytes()
            out.append(b.rstrip(b"\0") if strip_zeros else b)
        self.buf = None
        return out


class Decoder:
    """Range decoder for per-lane byte strings made by :class:`Encoder`.

    Reads zeros past the end of a lane; never reads outside its buffer; never loops unboundedly.
    """

    def __init__(self, streams: list[bytes]):
        self.lanes = len(streams)
        width = max((len(s) for s in streams), default=0) + 8
        self.buf = np.zeros((self.lanes, width), dtype=np.uint8)
        for i, s in enumerate(streams):
            self.buf[i, : len(s)] = np.frombuffer(s, dtype=np.uint8)
        self.last = width - 1  # an all-zero column: reads past the end stay here
        self.rows = np.arange(self.lanes)
        self.rng = np.full(self.lanes, _TOP, dtype=_U)
        code = np.zeros(self.lanes, dtype=_U)
        for k in range(6):
            code = (code << _U(8)) | self.buf[:, k].astype(_U)
        self.code = code  # offset of the value from low; always < rng
        self.pos = np.full(self.lanes, 6, dtype=np.int64)

    def _target(self):
        r = self.rng >> _PB
        t = np.minimum(self.code // r, _ONE - _U(1))
        return r, t

    def _update(self, r, start, freq) -> None:
        start = start.astype(_U, copy=False)
        freq = freq.astype(_U, copy=False)
        rs = r * start
        self.code = self.code - rs
        self.rng = np.where(start + freq == _ONE, self.rng - rs, r * freq)
        for _ in range(_MAX_SHIFTS):
            m = self.rng < _BOT
            if not m.any():
                return
            idx = np.flatnonzero(m)
            p = self.pos[idx]
            self.code[idx] = (self.code[idx] << _U(8)) | self.buf[idx, p].astype(_U)
            self.rng[idx] = self.rng[idx] << _U(8)
            self.pos[idx] = np.minimum(p + 1, self.last)

    def get_symbols(self, freqs: np.ndarray, active=None) -> np.ndarray:
        """Decode one symbol per lane under freqs[L, 256]; inactive lanes return 0, code nothing."""
        freqs = np.asarray(freqs, dtype=np.int64)
        if active is not None and not np.all(active):
            freqs = np.where(np.asarray(active)[:, None], freqs, noop_table(self.lanes))
        cum = np.cumsum(freqs, axis=1)
        if (cum[:, -1] != PROB_ONE).any() or (freqs < 0).any():
            raise ValueError("frequency rows must be >= 0 and sum to 2**16")
        r, t = self._target()
        s = (cum <= t.astype(np.int64)[:, None]).sum(axis=1)  # < 256 because t < 2**16
        f = freqs[self.rows, s]
        self._update(r, cum[self.rows, s] - f, f)
        return s

    def get_bits(self, p1, active=None) -> np.ndarray:
        """Decode one bit per lane, p1[L] = P(bit = 1) in 1..65535; inactive lanes return 0."""
        p1 = np.asarray(p1, dtype=np.int64)
        if p1.min() < 1 or p1.max() >= PROB_ONE:
            raise ValueError("p1 must be in 1..65535")
        r, t = self._target()
        p1 = p1.astype(_U)
        bits = t < p1
        start = np.where(bits, _U(0), p1)
        f = np.where(bits, p1, _ONE - p1)
        if active is not None:
            act = np.asarray(active, dtype=bool)
            bits &= act
            start = np.where(act, start, _U(NOOP_START))
            f = np.where(act, f, _U(NOOP_FREQ))
        self._update(r, start, f)
        return bits.astype(np.int64)
