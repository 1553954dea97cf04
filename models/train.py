"""`lmz-train`: quantisation-aware training of an lmz byte model on a byte corpus (CPU friendly).

Stateful truncated BPTT: `batch` streams read consecutive windows of `seq` bytes, carrying the
(detached) state; every `reset_every` windows a stream restarts at a random place from a zero
state and the virtual 0 byte, as a runtime lane does. One MiB block in every `val_every` is held
out for validation and never trained on. Checkpoints (with optimizer state) are written
atomically every `save_minutes` and at the end; `--resume` continues a run.

    lmz-train --data corpora/text/train.txt --hidden 384 --minutes 90 -o checkpoints/text.pt
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from lmz.runtime.freqs import PROB_ONE, scores_to_freqs
from lmz.runtime.reference import ACC_BITS, LUT_SHIFT
from .registry import build, load_checkpoint, save_checkpoint

BLOCK = 1 << 20


def file_fingerprint(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 22), b""):
            h.update(b)
    return h.hexdigest()


class Corpus:
    """A byte file split into 1 MiB blocks; every `val_every`-th block is validation."""

    def __init__(self, path, val_every=50, seed=0):
        self.data = np.fromfile(path, dtype=np.uint8)
        nb = max(1, len(self.data) // BLOCK)
        self.val_blocks = [b for b in range(nb) if b % val_every == val_every // 2] or [nb - 1]
        self.train_blocks = [b for b in range(nb) if b not in self.val_blocks] or [0]
        self.rng = np.random.default_rng(seed)

    def random_train_offset(self, length):
        b = self.train_blocks[self.rng.integers(len(self.train_blocks))]
        return b * BLOCK + int(self.rng.integers(0, max(1, BLOCK - length)))

    def val_windows(self, n, length):
        rng = np.random.default_rng(1234)
        out = []
        for i in range(n):
            b = self.val_blocks[i % len(self.val_blocks)]
            o = b * BLOCK + int(rng.integers(0, max(1, BLOCK - length)))
            out.append(self.data[o:o + length])
        return np.stack(out).astype(np.int64)


def shifted(targets: np.ndarray) -> np.ndarray:
    """Model inputs for `targets`: the virtual 0 byte, then every byte but the last."""
    x = np.zeros_like(targets)
    x[:, 1:] = targets[:, :-1]
    return x


@torch.no_grad()
def evaluate(model, windows: np.ndarray, seq: int) -> dict:
    """bits/byte of the integer model as the coder sees it (scores -> freqs), and of the float twin."""
    B = windows.shape[0]
    x_all = torch.from_numpy(shifted(windows))
    bits_int = bits_float = 0.0
    st_q = torch.zeros(B, model.state_size())
    st_f = torch.zeros(B, model.state_size())
    for s in range(0, windows.shape[1], seq):
        x, y = x_all[:, s:s + seq], windows[:, s:s + seq]
        acc, st_q = model(x, st_q, quant=True)
        scores = torch.floor(acc * (1.0 / (1 << LUT_SHIFT))).long().numpy()
        f = np.take_along_axis(scores_to_freqs(scores), y[..., None], -1)[..., 0]
        bits_int += float(-np.log2(f / PROB_ONE).sum())
        accf, st_f = model(x, st_f, quant=False)
        bits_float += F.cross_entropy((accf / (1 << ACC_BITS)).reshape(-1, 256),
                                      torch.from_numpy(y).reshape(-1), reduction="sum").item() / math.log(2)
    n = windows.size
    return {"val_bpb_int": bits_int / n, "val_bpb_float": bits_float / n}


def parse(argv=None):
    p = argparse.ArgumentParser(prog="lmz-train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="training byte file (never an evaluation set)")
    p.add_argument("-o", "--out", required=True, help="checkpoint path (.pt)")
    p.add_argument("--family", default="gru")
    p.add_argument("--config", default="{}", help='JSON family config, e.g. \'{"hidden": 384}\'')
    p.add_argument("--hidden", type=int, help="shortcut for the config's hidden width")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--reset-every", type=int, default=32, help="windows before a stream restarts")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget of this run")
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--qat-fraction", type=float, default=0.25,
                   help="final share of the budget trained quantisation-aware (the rest on the float twin)")
    p.add_argument("--save-minutes", type=float, default=5.0)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--val-windows", type=int, default=16)
    p.add_argument("--val-len", type=int, default=2048)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = {"family": a.family, **json.loads(a.config)}
    if a.hidden:
        cfg["hidden"] = a.hidden
    corpus = Corpus(a.data, seed=a.seed)
    info = {"data": os.path.basename(a.data), "data_sha256": file_fingerprint(a.data),
            "data_bytes": int(len(corpus.data)), "val_blocks": corpus.val_blocks,
            "command": "lmz-train " + " ".join(sys.argv[1:] if argv is None else argv),
            "steps": 0, "wall_seconds": 0.0, "bytes_seen": 0, "history": []}
    if a.resume and os.path.exists(a.out):
        model, ck = load_checkpoint(a.out)
        info = ck["train"]
        info["command"] += " && lmz-train " + " ".join(sys.argv[1:] if argv is None else argv)  # the full recipe
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
        if ck.get("optimizer"):
            opt.load_state_dict(ck["optimizer"])
        print(f"resumed {a.out} at step {info['steps']}", file=sys.stderr)
    else:
        model = build(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{cfg['family']} {model.cfg} params={n_params}", file=sys.stderr)
    val = corpus.val_windows(a.val_windows, a.val_len)

    B, T = a.batch, a.seq
    span = T * a.reset_every
    offsets = np.array([corpus.random_train_offset(span) for _ in range(B)])
    pos = np.zeros(B, np.int64)
    state = torch.zeros(B, model.state_size())
    t0, last_save, step0 = time.time(), time.time(), info["steps"]
    budget = a.minutes * 60
    while True:
        el = time.time() - t0
        if el > budget or (a.max_steps and info["steps"] - step0 >= a.max_steps):
            break
        for g in opt.param_groups:  # cosine decay over this run's budget, floor 5%
            g["lr"] = a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, el / budget))))
        idx = offsets[:, None] + pos[:, None] + np.arange(T)[None]
        y = corpus.data[idx].astype(np.int64)
        prev = corpus.data[np.maximum(idx - 1, 0)].astype(np.int64)
        prev[pos == 0, 0] = 0  # a restarted stream sees the virtual 0 byte first
        quant = el >= budget * (1 - a.qat_fraction) or (a.max_steps and info["steps"] - step0 >= a.max_steps * (1 - a.qat_fraction))
        acc, state = model(torch.from_numpy(prev), state, quant=bool(quant))
        loss = F.cross_entropy((acc / (1 << ACC_BITS)).reshape(-1, 256), torch.from_numpy(y).reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if hasattr(model, "clamp_weights"):
            model.clamp_weights()
        state = state.detach()
        pos += T
        done = pos >= span
        if done.any():
            for i in np.nonzero(done)[0]:
                offsets[i], pos[i] = corpus.random_train_offset(span), 0
            state[torch.from_numpy(done)] = 0
        info["steps"] += 1
        info["bytes_seen"] += B * T
        if info["steps"] % 20 == 0:
            rate = (info["steps"] - step0) * B * T / (time.time() - t0) / 1e3
            print(f"step {info['steps']} {'qat' if quant else 'float'} loss {loss.item() / math.log(2):.3f} bits/byte, {rate:.1f} kB/s,"
                  f" {el / 60:.1f} min", file=sys.stderr, flush=True)
        if info["steps"] % a.eval_every == 0:
            model.eval()
            ev = evaluate(model, val, T)
            model.train()
            info["history"].append({"step": info["steps"], **ev})
            print(f"eval step {info['steps']}: {ev}", file=sys.stderr, flush=True)
        if time.time() - last_save > a.save_minutes * 60:
            info["wall_seconds"] += time.time() - last_save
            last_save = time.time()
            save_checkpoint(a.out, model, info, opt)
    model.eval()
    ev = evaluate(model, val, T)
    info["history"].append({"step": info["steps"], **ev})
    info.update(ev)
    info["wall_seconds"] += time.time() - last_save
    save_checkpoint(a.out, model, info, opt)
    print(json.dumps({"steps": info["steps"], **ev}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
