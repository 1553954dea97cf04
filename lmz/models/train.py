"""`lmz-train`: quantisation-aware training of an lmz byte model on a byte corpus (CPU friendly).

Stateful truncated BPTT: `batch` streams read consecutive windows of `seq` bytes, carrying the
(detached) state; every `reset_every` windows a stream restarts at a random place from a zero
state and the virtual 0 byte, as a runtime lane does. One MiB block in every `val_every` is held
out for validation and never trained on. Checkpoints (with optimizer state) are written
atomically every `save_minutes` and at the end; `--resume` continues a run.

    lmz-train --data corpora/text/train.txt --hidden 384 --minutes 90 -o checkpoints/text.pt
    lmz-train --device cuda --data train.txt --hidden 768 --batch 512 --minutes 7 -o text-xl.pt   # on a GPU

`--device auto` (the default) trains on CUDA when torch sees a GPU, else on the CPU; the
checkpoint is always written with CPU tensors, so it loads anywhere. Exactness does not depend
on where training ran: `lmz-export` checks the exported integers against the numpy reference.
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
from lmz.spec.fixedpoint import ACC_BITS, LUT_SHIFT

from .registry import build, load_checkpoint, save_checkpoint

BLOCK = 1 << 20
MIN_BLOCK = 16 << 10


def _reserve(budget_s: float) -> float:
    """Seconds of a --time-budget kept for the final evaluation, the export and the record report."""
    return min(300.0, 8.0 + 0.1 * budget_s)


def file_fingerprint(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 22), b""):
            h.update(b)
    return h.hexdigest()


class Corpus:
    """One or more byte files, each split into 1 MiB blocks; every `val_every`-th block of a file
    (its last block if it has fewer) is validation. A training window is drawn from a file
    chosen by weight (default: its share of the training blocks), then from a block of it."""

    def __init__(self, parts, val_every=50, seed=0, block=BLOCK):
        datas, self.files, self.val_blocks, self.train_blocks = [], [], [], []
        self.block = block
        start = 0
        for path, weight in parts:
            d = np.fromfile(path, dtype=np.uint8)
            nb = max(1, len(d) // block)
            val = [b for b in range(nb) if b % val_every == val_every // 2] or [nb - 1]
            train = [b for b in range(nb) if b not in val] or [0]
            self.files.append({"data": os.path.basename(path), "data_sha256": file_fingerprint(path),
                               "data_bytes": int(len(d)), "weight": weight, "start": start, "end": start + len(d)})
            self.val_blocks += [(len(datas), b) for b in val]
            self.train_blocks.append(train)
            datas.append(d)
            start += len(d)
        self.data = np.concatenate(datas) if len(datas) > 1 else datas[0]
        self.p = self._shares([f["weight"] for f in self.files], [len(t) for t in self.train_blocks])
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def _shares(weights, n_blocks):
        """A file's @WEIGHT is its share of the windows; the files without one split the rest by
        their number of training blocks. Weights on every file are normalised."""
        if any(w is not None and not 0 < w for w in weights):
            raise SystemExit("lmz-train: every --data weight must be positive")
        fixed = sum(w for w in weights if w is not None)
        free = [n for w, n in zip(weights, n_blocks) if w is None]
        if free and fixed >= 1:
            raise SystemExit("lmz-train: the --data weights add up to 1 or more, leaving nothing for the files without one")
        rest = (1 - fixed) / sum(free) if free else 0.0
        p = np.array([n * rest if w is None else w for w, n in zip(weights, n_blocks)], float)
        return p / p.sum()

    def _block(self, f, b, length):
        """(first offset, last start offset) of a window of `length` inside block b of file f."""
        s, e = self.files[f]["start"] + b * self.block, self.files[f]["end"]
        return s, max(s, min(s + self.block, e) - length)

    def block_bytes(self, held_out: bool) -> list[bytes]:
        """The bytes of every validation block (held_out) or every training block, in file order."""
        out = []
        for f, blocks in (self.val_blocks_by_file() if held_out else enumerate(self.train_blocks)):
            for b in blocks:
                s = self.files[f]["start"] + b * self.block
                out.append(self.data[s: min(s + self.block, self.files[f]["end"])].tobytes())
        return out

    def val_blocks_by_file(self):
        by = {}
        for f, b in self.val_blocks:
            by.setdefault(f, []).append(b)
        return sorted(by.items())

    def random_train_offset(self, length):
        f = int(self.rng.choice(len(self.files), p=self.p)) if len(self.files) > 1 else 0
        blocks = self.train_blocks[f]
        s, last = self._block(f, blocks[self.rng.integers(len(blocks))], length)
        return s + int(self.rng.integers(0, max(1, last - s)))

    def val_windows(self, n, length):
        rng = np.random.default_rng(1234)
        out = []
        for i in range(n):
            s, last = self._block(*self.val_blocks[i % len(self.val_blocks)], length)
            o = s + int(rng.integers(0, max(1, last - s)))
            out.append(self.data[o:o + length])
        return np.stack(out).astype(np.int64)

    def info(self) -> dict:
        """What the metadata records: one file as before; several with their weights, and the
        fingerprint of their concatenation."""
        if len(self.files) == 1:
            f = self.files[0]
            return {"data": f["data"], "data_sha256": f["data_sha256"], "data_bytes": f["data_bytes"],
                    "val_blocks": [b for _, b in self.val_blocks]}
        return {"data": " + ".join(f"{f['data']}@{p:.3g}" for f, p in zip(self.files, self.p)),
                "data_sha256": hashlib.sha256(self.data).hexdigest(),  # hashed in place, no 80 MB copy
                "data_bytes": int(len(self.data)),
                "data_files": [{k: f[k] for k in ("data", "data_sha256", "data_bytes")} | {"p": float(p)}
                               for f, p in zip(self.files, self.p)],
                "val_blocks": [f"{self.files[f]['data']}:{b}" for f, b in self.val_blocks]}


def data_arg(spec: str):
    """'PATH' or 'PATH@WEIGHT' -> (path, weight or None)."""
    path, sep, w = spec.rpartition("@")
    if not sep or not path:
        return spec, None
    try:
        return path, float(w)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--data {spec!r}: the weight after @ must be a number") from None


def shifted(targets: np.ndarray) -> np.ndarray:
    """Model inputs for `targets`: the virtual 0 byte, then every byte but the last."""
    x = np.zeros_like(targets)
    x[:, 1:] = targets[:, :-1]
    return x


def pick_device(name: str) -> torch.device:
    """--device auto|cpu|cuda -> torch.device; cuda without a usable GPU is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("lmz-train: --device cuda, but torch sees no CUDA device "
                         f"(torch {torch.__version__}, built with CUDA {torch.version.cuda})")
    if name not in ("cpu", "cuda"):
        raise SystemExit(f"lmz-train: --device must be auto, cpu or cuda, not {name!r}")
    return torch.device(name)


def _device_of(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def evaluate(model, windows: np.ndarray, seq: int) -> dict:
    """bits/byte of the integer model as the coder sees it (scores -> freqs), and of the float twin."""
    B, dev = windows.shape[0], _device_of(model)
    x_all = torch.from_numpy(shifted(windows)).to(dev)
    bits_int = bits_float = 0.0
    st_q = torch.zeros(B, model.state_size(), device=dev)
    st_f = torch.zeros(B, model.state_size(), device=dev)
    for s in range(0, windows.shape[1], seq):
        x, y = x_all[:, s:s + seq], windows[:, s:s + seq]
        acc, st_q = model(x, st_q, quant=True)
        scores = torch.floor(acc * (1.0 / (1 << LUT_SHIFT))).long().cpu().numpy()
        f = np.take_along_axis(scores_to_freqs(scores), y[..., None], -1)[..., 0]
        bits_int += float(-np.log2(f / PROB_ONE).sum())
        accf, st_f = model(x, st_f, quant=False)
        bits_float += F.cross_entropy((accf / (1 << ACC_BITS)).reshape(-1, 256),
                                      torch.from_numpy(y).to(dev).reshape(-1), reduction="sum").item() / math.log(2)
    n = windows.size
    return {"val_bpb_int": bits_int / n, "val_bpb_float": bits_float / n}


def parse(argv=None):
    p = argparse.ArgumentParser(prog="lmz-train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, action="append", type=data_arg,
                   help="training byte file (never an evaluation set); repeat for several, "
                        "PATH@WEIGHT sets a file's share of the training windows")
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
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where to train: cuda when torch sees a GPU (auto), or force one")
    p.add_argument("--time-budget", type=float, metavar="MINUTES",
                   help="one command on your data: the whole run (choosing a model size that fits, training, "
                        "exporting, checking) takes about MINUTES, and ends with a bit-exact ONNX model (--export) "
                        "and its per-record rate on held-out data against zstd -19 with a dictionary")
    p.add_argument("--records", default="2048", metavar="lines|N",
                   help="with --time-budget: how the report cuts held-out data into records: 'lines' or N bytes")
    p.add_argument("--export", metavar="ONNX", help="with --time-budget: the model file (default: --out with .onnx)")
    p.add_argument("--progress-seconds", type=float, default=10.0, help="a progress line at least this often")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    p.add_argument("--init", metavar="CKPT", help="start from this checkpoint's weights (fine-tuning: "
                   "new data, fresh optimizer); its recipe is kept in the metadata")
    return p.parse_args(argv)


def _block_for(parts, budget: bool) -> int:
    """Validation block size: 1 MiB, or with --time-budget about 1/20 of small data (>= 16 KiB)."""
    if not budget:
        return BLOCK
    total = sum(os.path.getsize(p) for p, _ in parts)
    if total < 2 * MIN_BLOCK:
        raise SystemExit(f"lmz-train: {total} bytes of training data; --time-budget needs at least {2 * MIN_BLOCK}")
    return int(min(BLOCK, max(MIN_BLOCK, total // 20)))


def main(argv=None):
    a = parse(argv)
    t_cmd = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t_cmd:6.1f}s] {msg}", file=sys.stderr, flush=True)

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = {"family": a.family, **json.loads(a.config)}
    if a.hidden:
        cfg["hidden"] = a.hidden
    budget_s = a.time_budget * 60 if a.time_budget else None
    if budget_s is not None:
        from .recordeval import parse_spec

        try:
            rec_spec = parse_spec(a.records)
        except ValueError as e:
            raise SystemExit(f"lmz-train: {e}") from None
        if not budget_s > 0:
            raise SystemExit("lmz-train: --time-budget must be positive")
    log(f"reading {', '.join(p for p, _ in a.data)}")
    corpus = Corpus(a.data, seed=a.seed, block=_block_for(a.data, budget_s is not None))
    log(f"{len(corpus.data):,} bytes: {sum(len(t) for t in corpus.train_blocks)} training blocks, "
        f"{len(corpus.val_blocks)} held out (blocks of {corpus.block:,} bytes)")
    if budget_s is not None and not (a.hidden or a.config != "{}" or a.init or (a.resume and os.path.exists(a.out))):
        from .autosize import pick_threads, pick_width

        reserve = _reserve(budget_s)
        log(f"choosing a model size for {budget_s / 60:g} min (timing a few training steps per width)")
        if not a.threads:
            pick_threads(corpus.data[:corpus.block], a.batch, a.seq, log, base=cfg)
        cfg["hidden"], info_size = pick_width(corpus.data[:corpus.block], budget_s - reserve - (time.time() - t_cmd),
                                              a.batch, a.seq, log, base=cfg, calib_limit=max(3.0, 0.08 * budget_s))
        log(f"chosen: hidden {cfg['hidden']} ({info_size['rule']})")
    if budget_s is not None:
        a.minutes = max(0.05, (budget_s - _reserve(budget_s) - (time.time() - t_cmd)) / 60)
    command = "lmz-train " + " ".join(sys.argv[1:] if argv is None else argv)
    info = {**corpus.info(), "command": command, "steps": 0, "wall_seconds": 0.0, "bytes_seen": 0, "history": []}
    if a.resume and os.path.exists(a.out):
        model, ck = load_checkpoint(a.out)
        info = ck["train"]
        info["command"] += " && " + command  # the full recipe
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
        if ck.get("optimizer"):
            opt.load_state_dict(ck["optimizer"])
        print(f"resumed {a.out} at step {info['steps']}", file=sys.stderr)
    elif a.init:
        if a.hidden or a.config != "{}" or a.family != "gru":
            raise SystemExit("lmz-train: --init takes the model's config from the checkpoint; drop --family/--config/--hidden")
        model, ck = load_checkpoint(a.init)
        cfg = ck["config"]
        parent = {k: v for k, v in ck["train"].items() if k != "history"}
        info.update(command=parent.get("command", "?") + " && " + command, steps=parent.get("steps", 0),
                    wall_seconds=parent.get("wall_seconds", 0.0), bytes_seen=parent.get("bytes_seen", 0),
                    init={"from": os.path.basename(a.init), "train": parent})
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
        print(f"fine-tuning from {a.init} (step {info['steps']})", file=sys.stderr)
    else:
        model = build(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    dev = pick_device(a.device)
    if dev.type == "cuda":
        # TF32 matmuls: the quantised pass multiplies int8-range integers (exact in TF32's 11
        # significant bits); the float twin only loses precision it does not need
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model.to(dev)
    for st in opt.state.values():  # a resumed optimizer's moments follow the parameters
        for k, v in st.items():
            if torch.is_tensor(v) and k != "step":
                st[k] = v.to(dev)
    info["device"] = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{cfg['family']} {model.cfg} params={n_params} device={info['device']}", file=sys.stderr)
    val = corpus.val_windows(a.val_windows, a.val_len)

    def validate(label):
        """Validation bits/byte now, kept in the history; leaves the model in eval mode."""
        model.eval()
        ev = evaluate(model, val, a.seq)
        info["history"].append({"step": info["steps"], **ev})
        print(f"eval {label}: {ev}", file=sys.stderr, flush=True)
        return ev

    if a.init and not info["history"]:  # a fine-tune records where it started (not again on --resume)
        validate("before fine-tuning")
        model.train()

    B, T = a.batch, a.seq
    span = T * a.reset_every
    offsets = np.array([corpus.random_train_offset(span) for _ in range(B)])
    pos = np.zeros(B, np.int64)
    state = torch.zeros(B, model.state_size(), device=dev)
    t0, last_save, step0 = time.time(), time.time(), info["steps"]
    budget = a.minutes * 60
    last_print = 0.0
    log(f"training for {budget / 60:.1f} min (batch {B} x {T} bytes per step; a line every {a.progress_seconds:g} s)")
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
        acc, state = model(torch.from_numpy(prev).to(dev), state, quant=bool(quant))
        loss = F.cross_entropy((acc / (1 << ACC_BITS)).reshape(-1, 256), torch.from_numpy(y).to(dev).reshape(-1))
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
            state[torch.from_numpy(done).to(dev)] = 0
        info["steps"] += 1
        info["bytes_seen"] += B * T
        now = time.time()
        if info["steps"] - step0 <= 3 or now - last_print >= a.progress_seconds:
            last_print = now
            rate = (info["steps"] - step0) * B * T / (now - t0) / 1e3
            log(f"step {info['steps']} {'qat' if quant else 'float'} loss {loss.item() / math.log(2):.3f} bits/byte, "
                f"{rate:.1f} kB/s, {(now - t0) / 60:.1f} of {budget / 60:.1f} min")
        if info["steps"] % a.eval_every == 0:
            validate(f"step {info['steps']}")
            model.train()
        if time.time() - last_save > a.save_minutes * 60:
            info["wall_seconds"] += time.time() - last_save
            last_save = time.time()
            save_checkpoint(a.out, model, info, opt)
    ev = validate("final")
    info.update(ev)
    info["wall_seconds"] += time.time() - last_save
    save_checkpoint(a.out, model, info, opt)
    print(json.dumps({"steps": info["steps"], **ev}), file=sys.stderr)
    if budget_s is not None:
        from .finish import export_and_report

        info["records_report"] = export_and_report(model, info, corpus, a, rec_spec, budget_s, t_cmd, log)
        save_checkpoint(a.out, model, info, opt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
