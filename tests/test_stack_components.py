"""The predictor stack's components, each against a direct statement of its rule (small arrays;
the whole stack's bits are pinned by test_golden.py and test_mix.py)."""
from __future__ import annotations

import numpy as np

from lmz.runtime.stack import apm, bithistory, contexts, counters, match, mixer
from lmz.runtime.stack.tables import BH_NEXT, SQUASH, STRETCH, mix64, mix64_1


def test_counters_read_and_batch_update_first_member_leads():
    T = counters.new_table(8, np.zeros(0, dtype=np.int64))
    T[3] = (1000 << 32) | (7 << 16) | 5  # slot 3 owned by check 7, p 1000, n 5
    idx = np.array([[3], [3], [3], [4]])
    chk = np.array([[7], [9], [7], [0]])  # lane 1's context does not own slot 3
    pe, ne, x = (np.zeros((4, 1), dtype=np.int64) for _ in range(3))
    counters.read(T, idx, chk, pe, ne, x, STRETCH)
    assert pe[:, 0].tolist() == [1000, counters.P_HALF, 1000, counters.P_HALF] and ne[:, 0].tolist() == [5, 0, 5, 0]
    assert x[0, 0] == STRETCH[1000 >> 6]
    act = np.array([True, True, True, False])
    y = np.array([1, 1, 0, 1])
    first = np.full(T.size, -1, dtype=np.int32)
    counters.update(T, idx, chk, pe, ne, np.array([1023]), act, y, first, np.zeros(4, np.int64), np.zeros(4, np.int64))
    # lanes 0 and 2 (check 7) contribute: 2 members, 1 one; batch rule from the first member's (p, n)
    newp = 1000 + (((1 << 22) - 2 * 1000) * 2) // (2 * (5 + 2) + 1)
    assert T[3] == (newp << 32) | (7 << 16) | 7
    assert T[4] == counters.P_HALF << 32  # inactive lane 3 wrote nothing
    assert (first == -1).all()


def test_bit_history_first_member_decides():
    BH = bithistory.new_table(15)
    hbase = np.array([[100], [100]])
    hchk = np.array([[5], [6]])
    node = np.zeros(256, dtype=np.int64)
    c0 = np.ones(2, dtype=np.int64)
    hidx, state = np.zeros((2, 1), np.int64), np.zeros((2, 1), np.int64)
    idx = np.zeros((2, 2), np.int64)
    bithistory.read(BH, hbase, hchk, node, c0, hidx, state, idx, 1, np.array([50]))
    assert state.tolist() == [[0], [0]] and idx[:, 1].tolist() == [50, 50]
    bithistory.update(BH, hidx, state, hchk, np.array([True, True]), np.array([1, 0]), BH_NEXT)
    assert BH[100] == BH_NEXT[0, 1] | (5 << 8)  # lane 0's transition and check


def test_mixer_dot_and_train_share_the_gradient():
    W = mixer.new_weights(4, 3, True)
    x = np.array([[100, -50, 256], [100, -50, 256], [0, 10, 256]])
    ctx = np.array([2, 2, 1])
    dot, pr = np.zeros(3, np.int64), np.zeros(3, np.int64)
    mixer.dot(W, ctx, x, dot, pr, SQUASH)
    want = min(max((16384 * 100 - 16384 * 50 + 65536 * 256) >> 16, -2047), 2047)
    assert dot[0] == want and pr[0] == SQUASH[want + 2047]
    gdiv = mixer.gdiv_table(3, 1)
    W0 = W.copy()
    y = np.array([0, 0, 1])
    mixer.train(W, ctx, pr, y, x, np.array([True, True, False]), 3, gdiv, np.zeros(4, np.int64))
    g = ((x[0] * (((0 << 16) - pr[0]) * 3)) >> 16) // gdiv[2]
    assert (W[2] - W0[2] == 2 * g).all() and (W[1] == W0[1]).all()  # lane 2 inactive


def test_apm_mean_delta():
    A = apm.new_table()
    c0 = np.array([1, 1])
    ctx2 = np.array([0, 0])
    dot = np.array([0, 0])
    ai, out = np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64)
    apm.predict(A, dot, c0, ctx2, ai, out)
    assert ai[0, 0] == ai[0, 1] and out[0, 0] == (int(A[ai[0, 0]]) * 128) >> 11
    a0 = int(A[ai[0, 0]])
    apm.update(A, ai, np.array([True, True]), np.array([1, 0]), 6, np.zeros(A.size, np.int32), np.zeros((2, 2), np.int64))
    d1, d0 = ((1 << 20) - a0) >> 6, (0 - a0) >> 6
    assert A[ai[0, 0]] == a0 + d1 // 2 + d0 // 2


def test_contexts_hash_like_numpy():
    rng = np.random.default_rng(1)
    h8 = rng.integers(0, 2**63, 5, dtype=np.int64).astype(np.uint64)
    wh, wp = h8 * np.uint64(3), h8 * np.uint64(5)
    omask = np.array([0, 255, 65535], dtype=np.uint64)
    osalt = np.array([1, 2, 3], dtype=np.uint64)
    lsalt = np.zeros(5, dtype=np.uint64)
    hb = np.zeros((5, 5), dtype=np.uint64)
    contexts.hash_text(h8, wh, wp, omask, osalt, lsalt, 2, hb)
    assert (hb[:, :3] == mix64((h8[:, None] & omask) + osalt)).all()
    assert (hb[:, 4] == mix64(wh + mix64(wp + np.uint64(0x5555)))).all()
    assert mix64_1(np.uint64(12345)) == mix64(np.array([12345], dtype=np.uint64))[0]


def test_match_finds_an_earlier_occurrence_and_predicts_its_next_byte():
    L, H = 2, 256
    hist = np.zeros((L, H), dtype=np.uint8)
    MT = np.full(1 << 12, -1, dtype=np.int64)
    mlen, mptr, mh = np.zeros(L, np.int64), np.zeros(L, np.int64), np.zeros(L, np.int64)
    mbyte, mlb = np.zeros(L, np.int64), np.zeros(L, np.int64)
    h8, wh, wp, c1 = np.zeros(L, np.uint64), np.zeros(L, np.uint64), np.zeros(L, np.uint64), np.zeros(L, np.int64)
    text = b"abcdefghij" * 4
    act = np.array([True, False])  # lane 1 inactive: it never indexes
    for t, ch in enumerate(text[:20]):
        have = match.lookup(t, 4, 12, h8, np.zeros(L, np.uint64), MT, mlen, mptr, hist, mh, mbyte, mlb)
        syms = np.array([ch, 0])
        match.update(t, syms, act, have, mh, MT, mlen, mptr, mbyte, hist)
        contexts.update(syms, act, h8, wh, wp, c1)
    match.lookup(20, 4, 12, h8, np.zeros(L, np.uint64), MT, mlen, mptr, hist, mh, mbyte, mlb)
    assert mlen[0] >= 10 and mbyte[0] == text[20] | 256 and mbyte[1] == 0  # it predicts the repetition


def test_period_finds_the_record_length():
    """Records of 24 bytes with varying fields: the detector settles on 24 (not on a multiple, not
    on a field's own repeats), and the record contexts read the byte one record back."""
    from lmz.runtime.stack import period

    rng = np.random.default_rng(3)
    recs = [bytes([i & 255, 7, 0, 0]) + rng.integers(0, 4, 4, dtype=np.uint8).tobytes() + b"name%04d" % i + bytes(8)
            for i in range(300)]
    data = np.frombuffer(b"".join(recs), dtype=np.uint8).astype(np.int64)
    pst = period.new_state(1)
    act = np.ones(1, dtype=bool)
    hist = np.zeros((1, 1 << 13), dtype=np.uint8)
    for t, b in enumerate(data):
        period.update(t, np.array([b]), act, pst)
        hist[0, t & 8191] = b
    assert pst[2][0, 0] == 24
    hb = np.zeros((1, 3), dtype=np.uint64)
    hb2 = hb.copy()
    t1 = len(data)
    period.hash_period(t1, hist, np.array([data[-1]]), pst, np.zeros(1, dtype=np.uint64), 0, hb)
    hist[0, (t1 - 24) & 8191] ^= 1  # the byte one record back decides the first column
    period.hash_period(t1, hist, np.array([data[-1]]), pst, np.zeros(1, dtype=np.uint64), 0, hb2)
    assert hb[0, 0] != hb2[0, 0] and hb[0, 1] != hb2[0, 1]


def test_prefetch_is_a_hint_only():
    """The prefetch intrinsic compiles to the CPU's prefetch instruction (x86-64 here) and changes
    nothing: the same sums with and without it, indices far outside the array included (a hint
    never faults); the stack's kernels read the int16 / int32 copies of the same tables."""
    from numba import njit

    from lmz.runtime.stack.prefetch import prefetch
    from lmz.runtime.stack.stack import SQUASH32, STRETCH16

    @njit
    def walk(a, hint):
        s = 0
        for i in range(a.size):
            j = (i * 7919) % a.size
            if hint:
                prefetch(a, (j * 31) % a.size)
                prefetch(a, j + (1 << 40))
            s = s * 31 + a[j]
        return s

    a = np.random.default_rng(0).integers(0, 1 << 40, 1 << 16)
    assert walk(a, True) == walk(a, False)
    import platform

    if platform.machine() in ("x86_64", "AMD64"):
        sig = walk.signatures[0]
        assert "prefetcht0" in walk.inspect_asm(sig)
    assert (STRETCH16 == STRETCH).all() and (SQUASH32 == SQUASH).all()
