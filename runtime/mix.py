"""MixStack: an adaptive, integer-only, lane-vectorised stage between the ONNX model and the coder.

Like paq/lpaq, every byte is coded as 8 binary decisions, most significant bit first; the
context of a decision is the byte's bits so far (``c0``: 1, then 1b7, 1b7b6, ... < 256).
For every decision and every lane the stack forms predictions in the *stretch* domain
(``st = ln(p / (1 - p))`` in units of 1/256, clipped to +-2047) from

* (a) the ONNX model's byte distribution (``model_freqs[L, 256]``, 2**16-normalised), turned
  into a bit probability with a cumulative sum: P(1 | prefix) = F(prefix,1) / F(prefix);
* (b) hashed context counters for orders 0, 1, 2, 3, 4, 6 and a word (letters-only) context;
* (c) a match model: the longest recent occurrence of the last ``MATCH_MIN`` bytes (found by
  hash, verified, across all lanes) predicts the next byte; its bit is weighted by an adaptive
  counter selected by (match length, expected bit);

mixes them with a logistic mixer (integer weights, weight set selected by ``c0``) and refines
the result with two APM/SSE stages (contexts ``c0`` and ``c0`` + previous byte). The output
is ``p1`` = P(bit = 1) as an int in 1..65535 of 2**16, which the coder consumes.

Determinism. Everything is int64 numpy arithmetic; the lookup tables are built by integer
recurrences (a test pins their checksums). All lanes advance in lockstep and share every
table: a lane learns from the others' text too. Several lanes may update the same slot in one
decision; updates are deltas computed from the pre-update values and applied with
``np.add.at`` (integer addition is order-independent), then re-clamped by a scatter in which
all duplicates write the same value. Inactive lanes (``active`` False) code a no-op, see
byte 0, and never touch shared state. Encoder and decoder therefore evolve identical state.

Memory. Shared: the counter table, 8 bytes x (2**table_bits + 128) (default 2**22: 32 MiB);
the order-2 APM, 4 bytes x 65536 x 33 (8.25 MiB); the match index, 8 bytes x 2**match_bits
(default 2**20: 8 MiB); mixer and small APM: < 100 kB. Per lane: the history ring,
2**hist_bits bytes (default 2**16: 64 KiB), plus ~2 kB of step state. A stack is created per
frame (per coded stream); nothing grows with the input.
"""
from __future__ import annotations

import numpy as np

from .freqs import PROB_ONE

__all__ = ["MixStack", "SQUASH", "STRETCH", "squash", "stretch", "table_checksums", "STACK_ID"]

STACK_ID = 1  # container id of this predictor stack (ModelOnly is 0)
ST_MAX = 2047  # stretch domain: +-2047 in units of 1/256 (i.e. +-8.0)
_U64 = np.uint64


# --------------------------------------------------------------------------------------------
# lookup tables (integer recurrences only)
# --------------------------------------------------------------------------------------------
def _squash_table() -> np.ndarray:
    """SQUASH[x + 2047] = round(2**16 / (1 + exp(-x / 256))) clamped to 1..65535, x in -2047..2047.

    exp(-d/256) * 2**40 comes from an integer recurrence whose multiplier is the literal
    round(2**40 * exp(-1/256)); the divisions are integer divisions, so no libm is involved.
    """
    mult = 1095225038176  # round(2**40 * exp(-1/256))
    one = 1 << 40
    e = []
    v = one
    for _ in range(ST_MAX + 1):
        e.append(v)
        v = (v * mult) >> 40
    pos = [((1 << 56) + (one + ed) // 2) // (one + ed) for ed in e]  # x >= 0
    out = np.empty(2 * ST_MAX + 1, dtype=np.int64)
    for x in range(-ST_MAX, ST_MAX + 1):
        p = pos[x] if x >= 0 else PROB_ONE - pos[-x]
        out[x + ST_MAX] = min(max(p, 1), PROB_ONE - 1)
    return out


def _stretch_table(sq: np.ndarray) -> np.ndarray:
    """STRETCH[p16] = the smallest x with SQUASH(x) >= p16 (inverse of squash), p16 in 0..65535."""
    x = np.searchsorted(sq, np.arange(PROB_ONE, dtype=np.int64), side="left") - ST_MAX
    return np.minimum(x, ST_MAX).astype(np.int64)


SQUASH = _squash_table()
STRETCH = _stretch_table(SQUASH)


def squash(x: np.ndarray) -> np.ndarray:
    """Stretch-domain int (any range; clipped to +-2047) -> p16 in 1..65535."""
    return SQUASH[np.clip(x, -ST_MAX, ST_MAX) + ST_MAX]


def stretch(p16: np.ndarray) -> np.ndarray:
    """p16 in 0..65535 -> stretch-domain int in -2047..2047."""
    return STRETCH[np.asarray(p16)]


def _mix64(x: np.ndarray) -> np.ndarray:
    """A 64-bit integer hash finaliser (splitmix64), uint64 in, uint64 out (wrapping)."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _c0_scramble(bits: int) -> np.ndarray:
    """256 distinct table offsets (< 2**bits) for the partial-byte nodes c0, from a fixed hash."""
    c = _mix64(np.arange(256, dtype=_U64) + _U64(0x9E3779B97F4A7C15))
    return (c >> _U64(64 - bits)).astype(np.int64) ^ np.arange(256, dtype=np.int64)


_BH_CAPS = (60, 30, 20, 14, 10, 8, 7, 6, 5)  # max count of one bit given the other's count


def _bit_history_table():
    """Bit-history state machine (paq-like, generated by integer rules; 241 states).

    A state stands for counts (n0, n1) of the bits seen in a context. On bit y, n_y += 1 (capped
    by _BH_CAPS[n_other]) and the other count, if above 2, is halved towards 2 (old evidence
    against a run is discounted). State 0 is (0, 0), "never seen". Returns NEXT[241, 2] and
    COUNTS[241, 2].
    """

    def cap(o):
        return _BH_CAPS[min(o, len(_BH_CAPS) - 1)]

    def disc(o):
        return o if o <= 2 else (o + 2) // 2

    states, seen, nxt = [(0, 0)], {(0, 0): 0}, []
    i = 0
    while i < len(states):
        a, b = states[i]
        row = []
        for y in (0, 1):
            if y:
                a2 = disc(a)
                b2 = min(b + 1, cap(a2))
            else:
                b2 = disc(b)
                a2 = min(a + 1, cap(b2))
            if (a2, b2) not in seen:
                seen[(a2, b2)] = len(states)
                states.append((a2, b2))
            row.append(seen[(a2, b2)])
        nxt.append(row)
        i += 1
    assert len(states) <= 256
    return np.array(nxt, dtype=np.int64), np.array(states, dtype=np.int64)


BH_NEXT, BH_COUNTS = _bit_history_table()


def table_checksums() -> dict:
    """sha256 of the lookup tables (pinned by a test)."""
    import hashlib

    return {
        "squash": hashlib.sha256(SQUASH.astype("<i8").tobytes()).hexdigest(),
        "stretch": hashlib.sha256(STRETCH.astype("<i8").tobytes()).hexdigest(),
        "c0_22": hashlib.sha256(_c0_scramble(22).astype("<i8").tobytes()).hexdigest(),
        "bh_next": hashlib.sha256(BH_NEXT.astype("<i8").tobytes()).hexdigest(),
    }


# --------------------------------------------------------------------------------------------
# the stack
# --------------------------------------------------------------------------------------------
_P_SHIFT = 32  # counter slot (int64) = p22 << 32 | check16 << 16 | n16
_P_BITS = 22
_P_HALF = 1 << (_P_BITS - 1)


def _groups(f: np.ndarray, chk):
    """Group equal slot indices f (1-D) in a defined order (unique sort keys: slot, position).

    Returns (start, first, order, fs, contrib): group starts in sorted order, the position of
    each group's first member, the sort permutation, the sorted slots, and (if chk is given)
    whether each sorted member has the same check value as its group's first member.
    """
    sh = max(int(f.size - 1).bit_length(), 1)
    ks = np.sort((f << sh) | np.arange(f.size, dtype=np.int64))
    order = ks & ((1 << sh) - 1)
    fs = ks >> sh
    head = np.empty(fs.size, dtype=bool)
    head[0] = True
    np.not_equal(fs[1:], fs[:-1], out=head[1:])
    start = np.flatnonzero(head)
    first = order[start]
    contrib = None
    if chk is not None:
        contrib = chk[order] == chk[first][np.cumsum(head) - 1]
    return start, first, order, fs, contrib


class MixStack:
    """Adaptive mixing stack; one instance codes one frame of `lanes` lockstep lanes.

    Parameters (all recorded in ``params``; encoder and decoder must use the same):
      table_bits   log2 slots of the shared hashed counter table (8 bytes each)
      hist_bits    log2 bytes of the per-lane history ring used by the match model
      match_bits   log2 slots of the shared match index
      match_min    bytes hashed to find a match candidate (also the minimum verified length)
      limit        counter count limit (adaptation rate floor 1/(limit + 1.5))
      mixer_lr     mixer learning rate (weight delta = x * err * lr >> 16, averaged over lanes)
      apm_rate     APM update shift
      use_model    feed the model's bit probability (False: "mix without model")
    """

    stack_id = STACK_ID
    DEFAULTS = dict(table_bits=20, bh_bits=24, bh_from=3, sm_limit=1023, hist_bits=16, match_bits=20, match_min=6, limit=1023,
                    mixer_lr=2, apm_rate=6, use_model=True, mixer_ctx=2, words=2, orders=(0, 1, 2, 3, 4, 6),
                    sse_w=(0, 4, 12), mixer_norm=1, share=1)

    def __init__(self, lanes: int, **params):
        unknown = set(params) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown MixStack params: {sorted(unknown)}")
        p = dict(self.DEFAULTS)
        p.update(params)
        self.params = p
        L = self.lanes = int(lanes)
        self.use_model = bool(p["use_model"])
        B = self.table_bits = int(p["table_bits"])
        self.limit = int(p["limit"])
        self.mixer_lr = int(p["mixer_lr"])
        self.apm_rate = int(p["apm_rate"])
        self.sse_w = tuple(int(u) for u in p["sse_w"])  # final p = (pr, apm1, apm2) . sse_w / 16
        if len(self.sse_w) != 3 or sum(self.sse_w) != 16 or min(self.sse_w) < 0:
            raise ValueError("sse_w must be 3 non-negative ints summing to 16")
        self.match_min = int(p["match_min"])
        self.hist_bits = int(p["hist_bits"])
        self.match_bits = int(p["match_bits"])
        self.rows = np.arange(L, dtype=np.int64)
        self.orders = tuple(int(o) for o in p["orders"])  # byte-context orders (+ one word context)
        if not self.orders or self.orders[0] != 0 or any(not 0 <= o <= 8 for o in self.orders):
            raise ValueError("orders must start with 0 and lie in 0..8")
        self.n_orders = len(self.orders)
        self.bh_from = int(p["bh_from"])  # orders >= bh_from and the word contexts: bit histories
        self.bh_bits = int(p["bh_bits"])
        self.nd = sum(1 for o in self.orders if o < self.bh_from)  # direct-counter columns first
        if list(self.orders[: self.nd]) != [o for o in self.orders if o < self.bh_from]:
            raise ValueError("orders must be increasing")

        # counters: hashed contexts in [0, 2**B), the match counters at 2**B + (0..127)
        self.words = int(p["words"])  # 1: current word; 2: + previous and current word
        self.K = self.n_orders + self.words
        self.NC = self.K + 1  # + match column
        self.nh = self.K - self.nd  # bit-history columns
        self.moff = 1 << B
        self.smoff = self.moff + 128
        self.T = np.full(self.smoff + 256 * self.nh, _P_HALF << _P_SHIFT, dtype=np.int64)
        # state maps start at the state's count ratio (n1 + 1/2) / (n0 + n1 + 1)
        a, b = BH_COUNTS[:, 0], BH_COUNTS[:, 1]
        p0 = ((2 * b + 1) << _P_BITS) // (2 * (a + b) + 2)
        sm0 = np.full(256, _P_HALF, dtype=np.int64)
        sm0[: p0.size] = p0
        self.T[self.smoff:] = np.tile(sm0 << _P_SHIFT, self.nh)
        self.BH = np.zeros(1 << self.bh_bits, dtype=np.uint16)  # check8 << 8 | state
        self.c0h = _c0_scramble(B)
        self.c0hh = _c0_scramble(self.bh_bits)
        self.sm_limit = int(p["sm_limit"])
        lim = np.full(self.K + 1, self.sm_limit, dtype=np.int64)
        lim[: self.nd] = self.limit
        self.lim_cols = lim
        om = [(1 << (8 * o)) - 1 if o < 8 else (1 << 64) - 1 for o in self.orders]
        self.omask = np.array(om, dtype=_U64)
        self.osalt = (np.arange(self.n_orders, dtype=_U64) + _U64(1)) * _U64(0x9E3779B97F4A7C15)

        # mixer: N inputs = model? + NC counters + bias
        self.N = self.NC + 1 + (1 if self.use_model else 0)
        self.mixer_ctx = int(p["mixer_ctx"])
        # a weight set used by c lanes in one decision gets the sum of their gradients / gdiv[c]
        import math
        norm = int(p["mixer_norm"])  # 0: mean, 1: / isqrt(c), 2: sum
        self.gdiv = np.array([max(1, (c, math.isqrt(c), 1)[norm]) for c in range(L + 1)], dtype=np.int64)
        self.S = 256 * (1, self.n_orders, 2 * self.n_orders, 8 * self.n_orders)[self.mixer_ctx]
        if self.mixer_ctx == 3 and not self.use_model:
            self.S = 256 * 2 * self.n_orders
        w0 = np.full(self.N, 16384, dtype=np.int64)
        if self.use_model:
            w0[-1] = 65536
        self.W = np.tile(w0, (self.S, 1))
        self.x = np.zeros((L, self.N), dtype=np.int64)
        self.x[:, self.NC] = 256  # bias input

        # APMs: 33 interpolation knots in the stretch domain
        knots = SQUASH[np.clip((np.arange(33) - 16) * 128, -ST_MAX, ST_MAX) + ST_MAX] << 4
        # one array: APM 2 (ctx c0 | c1 << 8) at 0, APM 1 (ctx c0) at a1off; int32 p20 values
        self.A = np.tile(knots, 65536 + 256).astype(np.int32)
        self.Acnt = np.zeros(self.A.size, dtype=np.int32)  # scratch for per-step collision counts
        self.a1off = 65536 * 33
        self.akn = np.zeros((2, L), dtype=np.int64)

        # per-lane byte state
        H = 1 << self.hist_bits
        self.hist = np.zeros((L, H), dtype=np.uint8)
        self.t = 0  # bytes coded so far (step index)
        self.h8 = np.zeros(L, dtype=_U64)  # last 8 bytes
        self.wh = np.zeros(L, dtype=_U64)  # word hash
        self.wp = np.zeros(L, dtype=_U64)  # previous word's hash
        self.MT = np.full(1 << self.match_bits, -1, dtype=np.int64)  # t * L + lane
        self.mlen = np.zeros(L, dtype=np.int64)
        self.mptr = np.zeros(L, dtype=np.int64)  # flat index lane * H + pos of predicted byte
        self.base = np.zeros((L, self.nd), dtype=np.int64)
        self.chk = np.zeros((L, self.NC), dtype=np.int64)  # check bits of each slot's context
        self.hbase = np.zeros((L, self.nh), dtype=np.int64)
        self.hchk = np.zeros((L, self.nh), dtype=np.int64)
        self.smcol = self.smoff + 256 * np.arange(self.nh, dtype=np.int64)
        self.c1 = np.zeros(L, dtype=np.int64)
        # share=1: lanes share context statistics and match candidates; share=0: the lane id is
        # hashed into every context (tables still shared in memory; mixer and APMs shared)
        self.share = int(p["share"])
        self.lsalt = (_mix64(self.rows.astype(_U64) + _U64(12345)) if not self.share
                      else np.zeros(L, dtype=_U64))

    # -- per byte ------------------------------------------------------------------------------
    def _begin_byte(self, model_freqs, active) -> None:
        L = self.lanes
        act = np.ones(L, dtype=bool) if active is None else np.asarray(active, dtype=bool)
        self.act = act
        self.all_active = bool(act.all())
        self.act_rows = None if self.all_active else np.flatnonzero(act)
        if self.use_model:
            if model_freqs is None:
                raise ValueError("this MixStack was built with use_model=True: model_freqs needed")
            f = np.asarray(model_freqs, dtype=np.int64)
            cum = np.zeros((L, 257), dtype=np.int64)
            np.cumsum(f, axis=1, out=cum[:, 1:])
            self.cum = cum.ravel()
            self.cumoff = self.rows * 257
        # match candidate lookup for lanes without a match
        t = self.t
        H = 1 << self.hist_bits
        mm = self.match_min
        self.mh = None
        if t >= mm:
            h = _mix64((self.h8 & _U64((1 << (8 * mm)) - 1)) + _U64(0x51ED27) + self.lsalt)
            mh = (h >> _U64(64 - self.match_bits)).astype(np.int64)
            self.mh = mh
            need = self.mlen == 0
            if need.any():
                cand = self.MT[mh]
                ok = need & (cand >= 0)
                if ok.any():
                    s = cand // L
                    lane2 = cand - s * L
                    ok &= s > t - H + 32  # still in the ring with room to verify
                    V = 32
                    j = np.arange(1, V + 1, dtype=np.int64)
                    pa = (s[:, None] - j) & (H - 1)
                    pb = (t - j) & (H - 1)
                    a = self.hist[lane2[:, None], pa]
                    b = self.hist[self.rows[:, None], pb]
                    valid = (s[:, None] - j >= 0) & (t - j >= 0)
                    eq = (a == b) & valid
                    ln = np.cumprod(eq, axis=1).sum(axis=1)
                    ok &= ln >= mm
                    self.mlen = np.where(ok, ln, self.mlen)
                    self.mptr = np.where(ok, lane2 * H + (s & (H - 1)), self.mptr)
        m = self.mlen > 0
        self.mbyte = np.where(m, self.hist.ravel()[self.mptr].astype(np.int64) | 256, 0)
        lb = np.minimum(self.mlen, 15)
        lb = np.where(self.mlen >= 16, 16 + np.minimum((self.mlen - 16) >> 3, 15), lb)
        self.mlb = lb  # 0..31
        self.c0 = np.ones(L, dtype=np.int64)

    def _end_byte(self, syms: np.ndarray) -> None:
        L = self.lanes
        H = 1 << self.hist_bits
        t = self.t
        act = self.act
        syms = np.where(act, syms, 0).astype(np.int64)
        # match: extend or drop
        hit = (self.mlen > 0) & ((self.mbyte & 255) == syms)
        self.mlen = np.where(hit, np.minimum(self.mlen + 1, 65535), 0)
        self.mptr = np.where(hit, (self.mptr & ~(H - 1)) | ((self.mptr + 1) & (H - 1)), 0)
        # insert the current context -> position t (its next byte) into the match index
        if self.mh is not None:
            rows = self.rows if self.all_active else self.act_rows
            np.maximum.at(self.MT, self.mh[rows], t * L + rows)
        self.hist[:, t & (H - 1)] = syms.astype(np.uint8)
        s64 = syms.astype(_U64)
        self.h8 = np.where(act, (self.h8 << _U64(8)) | s64, self.h8)
        low = syms | 32
        letter = (low >= 97) & (low <= 122)
        wend = ~letter & (self.wh != _U64(0))
        self.wp = np.where(wend, self.wh, self.wp)
        self.wh = np.where(letter, (self.wh + low.astype(_U64) + _U64(1)) * _U64(0x2F0F3A5B3C4D5E6F),
                           _U64(0))
        self.c1 = np.where(act, syms, self.c1)
        self.t = t + 1
        self._hash_contexts()

    def _hash_contexts(self) -> None:
        v = (self.h8[:, None] & self.omask[None, :]) + (self.osalt[None, :] + self.lsalt[:, None])
        hb = np.empty((self.lanes, self.K), dtype=_U64)
        no = self.n_orders
        hb[:, :no] = _mix64(v)
        hb[:, no] = _mix64(self.wh + _U64(0x7777) + self.lsalt)
        if self.words > 1:
            hb[:, no + 1] = _mix64(self.wh + _mix64(self.wp + _U64(0x5555) + self.lsalt))
        nd = self.nd
        self.base = (hb[:, :nd] >> _U64(64 - self.table_bits)).astype(np.int64)
        self.chk[:, :nd] = ((hb[:, :nd] >> _U64(48 - self.table_bits)) & _U64(0xFFFF)).astype(np.int64)
        self.hbase = (hb[:, nd:] >> _U64(64 - self.bh_bits)).astype(np.int64)
        self.hchk = ((hb[:, nd:] >> _U64(56 - self.bh_bits)) & _U64(0xFF)).astype(np.int64)

    # -- per bit -------------------------------------------------------------------------------
    def _predict(self, k: int) -> np.ndarray:
        L = self.lanes
        c0 = self.c0
        # (b)+(c) counter slots
        idx = np.empty((L, self.NC), dtype=np.int64)
        nd, K = self.nd, self.K
        np.bitwise_xor(self.base, self.c0h[c0][:, None], out=idx[:, :nd])
        hidx = self.hbase ^ self.c0hh[c0][:, None]
        hv = self.BH[hidx].astype(np.int64)
        state = np.where((hv >> 8) == self.hchk, hv & 255, 0)
        self.hidx, self.state = hidx, state
        np.add(self.smcol, state, out=idx[:, nd:K])
        mb = self.mbyte
        valid = (mb >> (8 - k)) == c0
        exp = (mb >> (7 - k)) & 1
        idx[:, self.K] = self.moff + np.where(valid, (self.mlb << 1) + exp, 0)
        self.idx = idx
        v = self.T[idx]
        ok = ((v >> 16) & 0xFFFF) == self.chk  # else a different context owns the slot: fresh
        pe = np.where(ok, v >> _P_SHIFT, _P_HALF)
        ne = np.where(ok, v & 0xFFFF, 0)
        self.pe, self.ne = pe, ne
        x = self.x
        x[:, : self.NC] = STRETCH[pe >> (_P_BITS - 16)]
        # (a) model bit probability
        if self.use_model:
            w = 1 << (8 - k)
            lo = self.cumoff + ((c0 << (8 - k)) - 256)
            c_lo, c_mid, c_hi = self.cum[lo + np.array((0, w >> 1, w))[:, None]]
            pm = ((c_hi - c_mid) << 16) // (c_hi - c_lo)
            x[:, -1] = STRETCH[pm]
        # mixer
        ctx = c0
        if self.mixer_ctx >= 1:  # + how many of the orders 1..6 have been seen in this context
            seen = (ne[:, 1:nd] > 0).sum(axis=1) + (state[:, : self.n_orders - nd] > 0).sum(axis=1)
            ctx = ctx + (seen << 8)
            if self.mixer_ctx >= 2:  # + whether the match model predicts this bit
                ctx = ctx + (valid * (256 * self.n_orders))
                if self.mixer_ctx >= 3 and self.use_model:  # + the model's confidence (4 levels)
                    ctx = ctx + (np.minimum(np.abs(x[:, -1]) >> 9, 3) * (512 * self.n_orders))
        self.mctx = ctx
        wsel = self.W[ctx]
        dot = np.minimum(np.maximum((wsel * x).sum(axis=1) >> 16, -ST_MAX), ST_MAX)
        pr = SQUASH[dot + ST_MAX]
        self.pr_mix = pr
        # APM 1 (c0) and APM 2 (c0, c1)
        st = dot + 2048
        lo_k = st >> 7
        wt = st & 127
        ai = self.akn
        np.add(c0 * 33 + self.a1off, lo_k, out=ai[0])
        np.add((c0 | (self.c1 << 8)) * 33, lo_k, out=ai[1])
        av = self.A[ai]
        av1 = self.A[ai + 1]
        a = (av * (128 - wt) + av1 * wt) >> 11  # p20 -> p16; [2, L]
        self.ai = ai + (wt >> 6)
        p = (pr * self.sse_w[0] + a[0] * self.sse_w[1] + a[1] * self.sse_w[2] + 8) >> 4
        p = np.minimum(np.maximum(p, 1), PROB_ONE - 1)
        if not self.all_active:
            p = np.where(self.act, p, 1)
        return p

    def _update(self, bits: np.ndarray) -> None:
        y = bits.astype(np.int64)
        rows = None if self.all_active else self.act_rows
        # counters: deltas from the pre-update values, summed per slot (order-independent);
        # lanes whose context does not own a slot (check mismatch) see it fresh and replace it;
        # where lanes with different contexts meet in one slot, the lowest (lane, column) wins.
        idx, pe, ne, chk = self.idx, self.pe, self.ne, self.chk
        hidx, state, hchk = self.hidx, self.state, self.hchk
        if rows is not None:
            idx, pe, ne, chk, yy = idx[rows], pe[rows], ne[rows], chk[rows], y[rows]
            hidx, state, hchk = hidx[rows], state[rows], hchk[rows]
        else:
            yy = y
        NC = self.NC
        start, first, order, fs, contrib = _groups(idx.ravel(), chk.ravel())
        ones = np.add.reduceat(yy[order // NC] & contrib, start)
        cnt = np.add.reduceat(contrib.astype(np.int64), start)
        # batch update: p += (ones - cnt * p) / (n + cnt + 1/2), n += cnt (never overshoots)
        p0 = pe.ravel()[first]
        n0 = ne.ravel()[first]
        newp = p0 + (((ones << _P_BITS) - cnt * p0) * 2) // (2 * (n0 + cnt) + 1)
        lim = self.lim_cols[first % NC]
        newn = np.minimum(n0 + cnt, lim)
        self.T[fs[start]] = (newp << _P_SHIFT) | (chk.ravel()[first] << 16) | newn
        # bit histories: where lanes meet in one slot, the first (lane, column) decides
        hf = hidx.ravel()
        hstart, hfirst, _, hfs, _ = _groups(hf, None)
        yh = yy[hfirst // self.nh]
        self.BH[hfs[hstart]] = (BH_NEXT[state.ravel()[hfirst], yh] | (hchk.ravel()[hfirst] << 8)).astype(np.uint16)
        # mixer (gradient averaged over the lanes sharing a weight set)
        err = (y << 16) - self.pr_mix
        x = self.x
        ctx = self.mctx
        if rows is not None:
            err, x, ctx = err[rows], x[rows], ctx[rows]
        g = (x * (err * self.mixer_lr)[:, None]) >> 16
        # group lanes by weight set (unique sort keys -> a defined order), add the mean per set
        sh = max(int(ctx.size - 1).bit_length(), 1)
        ks = np.sort((ctx << sh) | np.arange(ctx.size, dtype=np.int64))
        cs = ks >> sh
        head = np.empty(cs.size, dtype=bool)
        head[0] = True
        np.not_equal(cs[1:], cs[:-1], out=head[1:])
        start = np.flatnonzero(head)
        gs = np.add.reduceat(g[ks & ((1 << sh) - 1)], start, axis=0)
        cnt = np.empty(start.size, dtype=np.int64)
        np.subtract(start[1:], start[:-1], out=cnt[:-1])
        cnt[-1] = cs.size - start[-1]
        self.W[cs[start]] += gs // self.gdiv[cnt][:, None]
        # APMs (averaged too)
        i, tgt = self.ai, y << 20
        if rows is not None:
            i, tgt = i[:, rows], tgt[rows]
        A, C = self.A, self.Acnt
        np.add.at(C, i, 1)
        c = C[i]
        C[i] = 0
        d = ((tgt - A[i]) >> self.apm_rate) // c
        np.add.at(A, i, d.astype(np.int32))
        self.c0 = (self.c0 << 1) | y

    # -- public API ----------------------------------------------------------------------------
    def encode_step(self, model_freqs, syms, active, enc) -> None:
        """Code byte t of every lane: 8 calls of enc.put_bits(bits, p1, active)."""
        self._begin_byte(model_freqs, active)
        syms = np.asarray(syms, dtype=np.int64)
        act = None if self.all_active else self.act
        for k in range(8):
            p1 = self._predict(k)
            bits = (syms >> (7 - k)) & 1
            if act is not None:
                bits = bits & act
            enc.put_bits(bits, p1, act)
            self._update(bits)
        self._end_byte(syms)

    def decode_step(self, model_freqs, active, dec) -> np.ndarray:
        """Decode byte t of every lane (inactive lanes give 0)."""
        self._begin_byte(model_freqs, active)
        act = None if self.all_active else self.act
        for k in range(8):
            p1 = self._predict(k)
            bits = np.asarray(dec.get_bits(p1, act), dtype=np.int64)
            self._update(bits)
        syms = self.c0 - 256
        self._end_byte(syms)
        return syms

    def predict_step(self, model_freqs, syms, active=None) -> np.ndarray:
        """Measuring helper: code byte t without a coder; returns p1 of the coded bits, [8, L]."""
        self._begin_byte(model_freqs, active)
        syms = np.asarray(syms, dtype=np.int64)
        out = np.empty((8, self.lanes), dtype=np.int64)
        for k in range(8):
            p1 = self._predict(k)
            bits = (syms >> (7 - k)) & 1
            if not self.all_active:
                bits = bits & self.act
            out[k] = np.where(bits == 1, p1, PROB_ONE - p1)
            self._update(bits)
        self._end_byte(syms)
        return out
