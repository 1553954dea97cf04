"""Time one model step under onnxruntime (1 thread), best of several rounds, per lane count.

    python tools/model_step_bench.py lmz/models/text.onnx [OTHER.onnx ...] [--lanes 1 128] [--rounds 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from lmz.runtime.session import make_session, read_model_info


def step_ms(path, lanes: int, rounds: int, steps: int) -> float:
    sess, _ = make_session(path, "cpu", threads=1)
    info = read_model_info(path)
    x = np.full((lanes, info.chunk), 65, np.int64)
    st = np.zeros((lanes, info.state_size), np.float32)
    for _ in range(20):
        _, st = sess.run(None, {"bytes": x, "state": st})
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(steps):
            _, st = sess.run(None, {"bytes": x, "state": st})
        best = min(best, (time.perf_counter() - t) / steps * 1e3)
    return best


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--lanes", type=int, nargs="+", default=[1, 128])
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    for L in a.lanes:
        for m in a.models:
            print(f"{m}  {L:5d} lanes  {step_ms(m, L, a.rounds, 300 if L < 16 else 100):8.3f} ms/step")


if __name__ == "__main__":
    main()
