"""Ideal code length (and speed) of the MixStack on a file, without a coder.

    python bench/mix_bench.py FILE [--lanes 256] [--limit-bytes N] [--model none|order2|onnx:PATH]
                              [--param key=value ...] [--coder]

The file is split into `lanes` contiguous, equal segments (the last lanes may end early and are
then inactive), all lanes advance in lockstep. Reports bits/byte = sum(-log2 p(bit)) / bytes
(measuring only; the float log is outside the coding path), and kB/s of the predict+update
loop (plus the coder's put_bits with --coder).

--model order2 is a *static* stand-in for a trained model: order-2 byte counts from a slice
of the training text (/work/corpora/text/train.txt), never adapted on the measured file.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from lmz.runtime.freqs import PROB_ONE
from lmz.runtime.stack import MixStack

TRAIN = "/work/corpora/text/train.txt"


class Order2Model:
    """Static order-2 count model trained on a slice of the training text (stand-in only)."""

    def __init__(self, nbytes: int = 8 << 20, offset: int = 0):
        with open(TRAIN, "rb") as f:
            f.seek(offset)
            d = np.frombuffer(f.read(nbytes), dtype=np.uint8).astype(np.int64)
        ctx = (d[:-2] << 8) | d[1:-1]
        self.counts = np.bincount((ctx << 8) | d[2:], minlength=1 << 24).reshape(1 << 16, 256).astype(np.int32)

    def freqs(self, c2: np.ndarray) -> np.ndarray:
        c = self.counts[c2].astype(np.int64) * 4 + 1
        tot = c.sum(axis=1, keepdims=True)
        f = 1 + (c * (PROB_ONE - 256)) // tot
        f[:, 32] += PROB_ONE - f.sum(axis=1)
        return f


class OnnxModel:
    """An exported lmz model run over the lanes chunk by chunk (same inputs as lmz/runtime/loop.py)."""

    def __init__(self, path, buf):
        from lmz.runtime.session import ByteModel

        self.m = ByteModel(path, provider="cpu")
        self.buf = buf
        L, T = buf.shape
        C = self.m.chunk
        self.X = np.zeros((L, -(-T // C) * C), dtype=np.int64)
        self.X[:, 1:T] = buf[:, : T - 1]
        self.state = self.m.initial_state(L)
        self.t = 0
        self.scores = None

    def freqs(self, _c2):
        from lmz.runtime.freqs import scores_to_freqs

        C = self.m.chunk
        j = self.t % C
        if j == 0:
            self.scores, self.state = self.m.step(self.X[:, self.t: self.t + C], self.state)
        self.t += 1
        return scores_to_freqs(self.scores[:, j])



def timed_freqs(m2, c2):
    """The stand-in model's freqs (None without one) and the wall/CPU seconds it took, which the
    bench subtracts so that it times the stack alone."""
    if m2 is None:
        return None, 0.0, 0.0
    a, ac = time.perf_counter(), time.process_time()
    f = m2.freqs(c2)
    return f, time.perf_counter() - a, time.process_time() - ac

def split_lanes(data: bytes, lanes: int):
    n = len(data)
    seg = -(-n // lanes)
    buf = np.zeros((lanes, seg), dtype=np.int64)
    lens = np.zeros(lanes, dtype=np.int64)
    arr = np.frombuffer(data, dtype=np.uint8)
    for i in range(lanes):
        part = arr[i * seg:(i + 1) * seg]
        buf[i, : part.size] = part
        lens[i] = part.size
    return buf, lens


def run(data: bytes, lanes: int, model: str, params: dict, coder: bool = False, offset: int = 0):
    buf, lens = split_lanes(data, lanes)
    starts = offset + np.arange(lanes, dtype=np.int64) * buf.shape[1]  # lane i's first byte in the file
    T = buf.shape[1]
    use_model = model != "none"
    st = MixStack(lanes, starts=starts, use_model=use_model, **params)
    m2 = Order2Model() if model == "order2" else None
    if model.startswith("onnx:"):
        m2 = OnnxModel(model[5:], buf)
    enc = None
    if coder:
        from lmz.runtime.coder import Encoder
        enc = Encoder(lanes)
    c2 = np.zeros(lanes, dtype=np.int64)
    bits = 0.0
    mbits = 0.0
    rows = np.arange(lanes)
    t0 = time.perf_counter()
    c0 = time.process_time()
    tm = tmc = 0.0
    for t in range(T):
        active = lens > t
        syms = np.where(active, buf[:, t], 0)
        f, dtm, dtmc = timed_freqs(m2, c2)
        tm, tmc = tm + dtm, tmc + dtmc
        if f is not None:
            pf = f[rows, syms]
            mbits += float(-np.log2(pf[active] / PROB_ONE).sum())
        if enc is not None:
            st.encode_step(f, syms, active, enc)
        else:
            pc = st.predict_step(f, syms, active)
            bits += float(-np.log2(pc[:, active] / PROB_ONE).sum())
        c2 = ((c2 << 8) | syms) & 0xFFFF
    dt = time.perf_counter() - t0 - tm
    cpu = time.process_time() - c0 - tmc
    n = len(data)
    dec_kBps = dec_cpu_kBps = None
    if enc is not None:
        out = enc.finish()
        bits = 8.0 * sum(len(s) for s in out)
        from lmz.runtime.coder import Decoder
        dec = Decoder(out)
        ds = MixStack(lanes, starts=starts, use_model=use_model, **params)
        c2 = np.zeros(lanes, dtype=np.int64)
        t1, c1, tm, tmc = time.perf_counter(), time.process_time(), 0.0, 0.0
        for t in range(T):
            active = lens > t
            f, dtm, dtmc = timed_freqs(m2, c2)
            tm, tmc = tm + dtm, tmc + dtmc
            syms = ds.decode_step(f, active, dec)
            if not np.array_equal(syms, np.where(active, buf[:, t], 0)):
                raise SystemExit(f"decode mismatch at step {t}")
            c2 = ((c2 << 8) | syms) & 0xFFFF
        dec_kBps = n / (time.perf_counter() - t1 - tm) / 1000
        dec_cpu_kBps = n / (time.process_time() - c1 - tmc) / 1000
    return dict(bytes=n, bpb=bits / n, model_bpb=(mbits / n if m2 else None), kBps=n / dt / 1000,
                cpu_kBps=n / cpu / 1000, sec=dt, dec_kBps=dec_kBps, dec_cpu_kBps=dec_cpu_kBps)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--lanes", type=int, default=256)
    ap.add_argument("--limit-bytes", type=int, default=0)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--model", default="none")
    ap.add_argument("--coder", action="store_true")
    ap.add_argument("--param", action="append", default=[])
    a = ap.parse_args(argv)
    params = {}
    for kv in a.param:
        k, v = kv.split("=")
        params[k] = tuple(int(u) for u in v.split(",") if u) if ("," in v or not v) else int(v)
    for fn in a.files:
        with open(fn, "rb") as f:
            f.seek(a.offset)
            data = f.read(a.limit_bytes or -1)
        r = run(data, a.lanes, a.model, params, a.coder, a.offset)
        mb = f" model {r['model_bpb']:.4f}" if r["model_bpb"] is not None else ""
        print(f"{fn}: {r['bytes']} B  {r['bpb']:.4f} bits/byte{mb}  {r['kBps']:.1f} kB/s wall, "
              f"{r['cpu_kBps']:.1f} kB/s cpu ({r['sec']:.1f} s, lanes {a.lanes}, model {a.model}, {params})", flush=True)
        if r["dec_kBps"] is not None:
            print(f"  real coder: encode {r['kBps']:.1f} kB/s wall / {r['cpu_kBps']:.1f} cpu, decode "
                  f"{r['dec_kBps']:.1f} wall / {r['dec_cpu_kBps']:.1f} cpu, round trip ok", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
