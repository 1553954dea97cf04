"""The text stack alone (the stack of new text streams, 128 lanes in 2 groups) on the model's
precomputed scores: us per lane-byte to encode and decode, and the sha256 of the stream (the bits
a kernel change must keep). docs/bench/stack.md.

    python tools/stack_kernel_bench.py FILE [--steps 1024] [--runs 4]

FILE is cut into 128 lanes; the `text` model's scores for the first STEPS steps are computed once
(cached next to /tmp). Each run builds a fresh stack and encodes (encode_cum, step by step), then
decodes (decode_group per group); the time reported is the sum over steps of each step's fastest
run, which filters out the spells when the machine is busy elsewhere. Compare two trees by running
them alternately (PYTHONPATH=TREE).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import time

import numpy as np

from lmz.runtime.api import load_model
from lmz.runtime.coder import Decoder, Encoder
from lmz.runtime.stack import MixStack

L = 128


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--steps", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=4)
    a = ap.parse_args()
    data = open(a.file, "rb").read()
    lane = len(data) // L
    T = min(a.steps, lane)
    M = np.frombuffer(data[: lane * L], dtype=np.uint8).reshape(L, lane).astype(np.int64)
    cache = f"/tmp/lmz-kbench-{hashlib.sha256(data).hexdigest()[:12]}-{T}.npy"
    if not os.path.exists(cache):
        m = load_model(None)
        st = m.initial_state(L)
        X = np.concatenate([np.zeros((L, 1), np.int64), M[:, :T]], axis=1)
        sc = np.empty((T, L, 256), np.int32)
        for t in range(T):
            s, st = m.step(X[:, t: t + 1], st)
            sc[t] = s[:, 0]
        np.save(cache, sc)
    cums = [MixStack.cum_of(s) for s in np.load(cache)]
    params = MixStack.new_params({})
    params.pop("algo", None)

    def run():
        st = MixStack(L, starts=np.arange(L) * lane, **params)
        enc, te = Encoder(L, capacity=1 << 12), np.zeros(T)
        for t in range(T):
            c = time.perf_counter()
            st.encode_cum(cums[t], M[:, t], None, enc)
            te[t] = time.perf_counter() - c
        blob = enc.finish()
        st = MixStack(L, starts=np.arange(L) * lane, **params)
        dec, td = Decoder(blob), np.zeros(T)
        for t in range(T):
            c = time.perf_counter()
            st.decode_begin(None)
            for g, (lo, hi) in enumerate(st.lane_groups):
                st.decode_group(g, dec, cum=cums[t][lo:hi])
            y = st.decode_end()
            td[t] = time.perf_counter() - c
            assert (y == M[:, t]).all(), f"decoded step {t} differs"
        return hashlib.sha256(b"".join(len(b).to_bytes(8, "little") + b for b in blob)).hexdigest()[:16], te, td

    run()  # compile / load the kernels, first touches of the tables
    E, D = [], []
    for _ in range(a.runs):
        h, te, td = run()
        E.append(te)
        D.append(td)
    e, d = np.min(E, axis=0).sum(), np.min(D, axis=0).sum()
    print(f"stream sha256 {h}  encode {e / (L * T) * 1e6:.2f} us per lane-byte  decode {d / (L * T) * 1e6:.2f} us per lane-byte")


if __name__ == "__main__":
    main()
