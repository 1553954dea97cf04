"""Per lane-byte cost of the parts of the lane loop, as a 1 MiB frame is cut (docs/bench/stack.md).

    PYTHONPATH=TREE python tools/stack_parts.py KIND [FILE]

KIND: ``new`` (lmz.runtime.stack.MixStack of TREE: the raw-scores path where it has one, else
scores_to_freqs + encode_step), ``numpy`` (lmz.runtime.mix.MixStack of a tree before the compiled
stack, e.g. a3f6f19) or ``off`` (the model alone: scores_to_freqs + put_symbols / get_symbols).
The mix rows use 512 lanes, the model alone 256 (what the loop cuts 1 MiB into). The real model's
scores for the first 96 steps are computed once (``model``: the median ONNX step, us per
lane-byte); then, three times, a fresh stack runs 48 steps untimed (first touches of its tables)
and 48 timed steps, encoding and then decoding (``enc_extra`` / ``dec_extra``: the best of three,
everything per step except the model). Run the trees alternately; the machine's load moves all rows.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from lmz.runtime.api import load_model
from lmz.runtime.coder import Decoder, Encoder
from lmz.runtime.freqs import scores_to_freqs

W0, N = 48, 48  # warm-up steps, timed steps


def main(kind: str, path: str) -> None:
    data = open(path, "rb").read()
    m = load_model(None)
    L = 256 if kind == "off" else 512
    lane = len(data) // L
    M = np.frombuffer(data[: lane * L], dtype=np.uint8).reshape(L, lane).astype(np.int64)
    starts = np.arange(L) * lane
    X = np.concatenate([np.zeros((L, 1), np.int64), M[:, : W0 + N]], axis=1)
    st = m.initial_state(L)
    sc, tm = [], []
    for t in range(W0 + N):
        c = time.perf_counter()
        s, st = m.step(X[:, t: t + 1], st)
        tm.append(time.perf_counter() - c)
        sc.append(s[:, 0].copy())
    res = {"model": float(np.median(tm)) / L * 1e6}

    def make():
        if kind == "new":
            from lmz.runtime.stack import MixStack
        elif kind == "numpy":
            from lmz.runtime.mix import MixStack
        else:
            return None
        return MixStack(L, starts=starts, mixer2=1)

    best_e = best_d = 1e9
    for _ in range(3):
        enc, s = Encoder(L, capacity=1 << 12), make()
        for t in range(W0 + N):
            if t == W0:
                c = time.perf_counter()
            if s is None:
                enc.put_symbols(scores_to_freqs(sc[t]), M[:, t], None)
            elif hasattr(s, "encode_scores"):
                s.encode_scores(sc[t], M[:, t], None, enc)
            else:
                s.encode_step(scores_to_freqs(sc[t]), M[:, t], None, enc)
        best_e = min(best_e, time.perf_counter() - c)
        dec, s = Decoder(enc.finish()), make()
        for t in range(W0 + N):
            if t == W0:
                c = time.perf_counter()
            if s is None:
                y = dec.get_symbols(scores_to_freqs(sc[t]), None)
            elif hasattr(s, "decode_scores"):
                y = s.decode_scores(sc[t], None, dec)
            else:
                y = s.decode_step(scores_to_freqs(sc[t]), None, dec)
            assert (y == M[:, t]).all()
        best_d = min(best_d, time.perf_counter() - c)
    res["enc_extra"] = best_e / (L * N) * 1e6
    res["dec_extra"] = best_d / (L * N) * 1e6
    print(kind, json.dumps({k: round(v, 2) for k, v in res.items()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "/tmp/bench1m.txt")
