"""Tokenization study (paper §3.6): a BPE tokenizer as a pre-compressor, against plain bytes.

    pip install -e '.[study]'            # tokenizers (pinned), besides torch and the bench extra
    nice -n 10 python -m lmz.studies.tokenizer --data /work/corpora   # -> docs/bench/tokenizer.{md,json}

What it does (a study only: the runtime stays byte-level):

1. A training slice of ``text/train.txt``: ``--slice-mb`` MB from the start of each of its four
   parts (GCIDE, Linux Documentation, Brown, fortunes; offsets from ``text/train.parts.tsv``), so
   every genre of the training text is in it; the next ``--val-kb`` kB of each part is a validation
   set (reported, never used to choose anything).
2. Byte-level BPE tokenizers (HuggingFace ``tokenizers``: ByteLevel pre-tokenizer, GPT-2 split
   regex, 256 byte symbols + merges) of each vocabulary size in ``--vocabs``, trained on that slice.
   Input bytes are read as latin-1 (one character per byte) so that any file tokenizes and decodes
   back to the same bytes; the round trip is checked on every evaluation file.
3. The same model for every vocabulary: embedding (V x H) -> 1-layer GRU (H) -> linear (H x V), in
   float32 PyTorch on 1 thread. The parameter count is held equal: the byte model's hidden size is
   ``--hidden``, and each BPE model gets the hidden size whose parameter count is closest to it
   (the embedding and output layers grow with V, so H shrinks).
4. Equal training budget in *bytes of text seen*: every model reads the same ``--budget-mb`` MB of the
   slice (stateful truncated BPTT, ``--batch`` contiguous streams, windows of ``--seq`` tokens,
   Adam, the same learning-rate schedule), so a BPE model takes fewer, longer steps.
5. Evaluation on the text evaluation files (measured, never tuned on): each file is one sequence
   from a zero state (the "whole" protocol). code length = sum of -log2 p(token) (an arithmetic
   coder gets within a few bytes of it). rate = code length / (8 x bytes); "+ vocab" adds the
   serialized tokenizer (its JSON) compressed with xz -9e, once for the whole evaluation set and
   once per file in the per-file table. The model's own size is equal across rows and left out.
"""
from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

EVAL_FILES = ["alice29.txt", "asyoulik.txt", "book1", "book2", "lcet10.txt", "news", "paper1",
              "plrabn12.txt", "wiki.txt"]


# -- data ---------------------------------------------------------------------------------------
def read_parts(data: Path):
    rows = (data / "text" / "train.parts.tsv").read_text().split("\n")[1:]
    return [(r.split("\t")[0], int(r.split("\t")[1]), int(r.split("\t")[2])) for r in rows if r.strip()]


def training_slices(data: Path, slice_mb: float, val_kb: float):
    """-> (train bytes, val bytes, [(part, train offset, train bytes, val offset, val bytes)])."""
    raw = (data / "text" / "train.txt").read_bytes()
    n, v = int(slice_mb * 1e6), int(val_kb * 1e3)
    tr, va, where = [], [], []
    for name, off, size in read_parts(data):
        n_i = min(n, size - v)
        tr.append(raw[off:off + n_i])
        va.append(raw[off + n_i:off + n_i + v])
        where.append((name, off, n_i, off + n_i, v))
    return tr, va, where


# -- tokenizers ---------------------------------------------------------------------------------
def train_bpe(texts, vocab: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)

    def lines():
        for t in texts:
            yield from t.decode("latin-1").splitlines(keepends=True)

    tok.train_from_iterator(lines(), trainer=trainer)
    return tok


class ByteTok:
    """The identity 'tokenizer' of the byte model (vocabulary 256, nothing to transmit)."""

    def get_vocab_size(self):
        return 256

    def encode_bytes(self, b: bytes) -> np.ndarray:
        return np.frombuffer(b, dtype=np.uint8).astype(np.int64)

    def decode_bytes(self, ids) -> bytes:
        return bytes(np.asarray(ids, dtype=np.uint8))

    def serialized(self) -> bytes:
        return b""


class BpeTok:
    def __init__(self, tok):
        self.tok = tok

    def get_vocab_size(self):
        return self.tok.get_vocab_size()

    def encode_bytes(self, b: bytes) -> np.ndarray:
        return np.asarray(self.tok.encode(b.decode("latin-1")).ids, dtype=np.int64)

    def decode_bytes(self, ids) -> bytes:
        return self.tok.decode([int(i) for i in ids]).encode("latin-1")

    def serialized(self) -> bytes:
        return self.tok.to_str().encode()


def xz_bytes(b: bytes) -> int:
    return len(lzma.compress(b, preset=9 | lzma.PRESET_EXTREME)) if b else 0


# -- model --------------------------------------------------------------------------------------
def gru_params(V: int, H: int) -> int:
    """embedding V*H + GRU (3H x H input, 3H x H recurrent, two 3H biases) + output H*V + V."""
    return V * H + 3 * H * H * 2 + 6 * H + H * V + V


def matched_hidden(V: int, target: int) -> int:
    return min(range(4, 2048), key=lambda H: abs(gru_params(V, H) - target))


def build_model(V: int, H: int):
    import torch

    class TokGRU(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(V, H)
            self.gru = torch.nn.GRU(H, H, batch_first=True)
            self.out = torch.nn.Linear(H, V)

        def forward(self, x, h=None):  # x [B, T] int64 -> logits [B, T, V], h [1, B, H]
            y, h = self.gru(self.emb(x), h)
            return self.out(y), h

    return TokGRU()


def train_model(model, stream: np.ndarray, tokens_budget: int, batch: int, seq: int, lr: float, seed: int,
                log=print):
    """Stateful TBPTT over `batch` contiguous streams of the token array; stops after tokens_budget
    tokens (wrapping around the stream if the budget is larger than it). Learning rate: constant,
    then linear decay to 10% over the last 30% of the steps."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    steps = max(1, tokens_budget // (batch * seq))
    seg = len(stream) // batch
    starts = np.arange(batch) * seg
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    h = None
    pos = 0
    t0 = time.perf_counter()
    prev = torch.zeros(batch, 1, dtype=torch.int64)  # the virtual token 0 before each stream
    for step in range(steps):
        frac = step / steps
        for g in opt.param_groups:
            g["lr"] = lr * (1.0 if frac < 0.7 else 1.0 - 0.9 * (frac - 0.7) / 0.3)
        if pos + seq > seg:  # wrap: every stream restarts at its segment's start from a zero state
            pos, h = 0, None
            prev = torch.zeros(batch, 1, dtype=torch.int64)
        idx = starts[:, None] + pos + np.arange(seq)[None, :]
        y = torch.from_numpy(stream[idx])
        x = torch.cat([prev, y[:, :-1]], 1)
        logits, h = model(x, h)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        h = h.detach()
        prev = y[:, -1:]
        pos += seq
        if step % 200 == 0 or step == steps - 1:
            log(f"  step {step + 1}/{steps}  loss {loss.item() / math.log(2):.3f} bits/token  "
                f"{time.perf_counter() - t0:.0f} s")
    return steps, time.perf_counter() - t0


def code_lengths_bits(model, seqs, chunk: int = 2048):
    """Sum of -log2 p(token) of each token sequence, each one from a zero state and the virtual
    token 0 (all sequences as one padded batch)."""
    import torch
    import torch.nn.functional as F

    model.eval()
    n = [len(s) for s in seqs]
    T = max(n)
    Y = np.zeros((len(seqs), T), dtype=np.int64)
    M = np.zeros((len(seqs), T), dtype=bool)
    for i, s in enumerate(seqs):
        Y[i, :len(s)], M[i, :len(s)] = s, True
    X = np.concatenate([np.zeros((len(seqs), 1), dtype=np.int64), Y[:, :-1]], 1)
    out = np.zeros(len(seqs))
    h = None
    with torch.no_grad():
        for a in range(0, T, chunk):
            logits, h = model(torch.from_numpy(X[:, a:a + chunk]), h)
            nll = F.cross_entropy(logits.transpose(1, 2), torch.from_numpy(Y[:, a:a + chunk]), reduction="none")
            out += (nll.numpy() * M[:, a:a + chunk]).sum(1) / math.log(2)
    model.train()
    return out


# -- study --------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("LMZ_DATA"), required="LMZ_DATA" not in os.environ)
    ap.add_argument("--vocabs", default="512,1024,4096", help="BPE vocabulary sizes (bytes = 256 always run)")
    ap.add_argument("--slice-mb", type=float, default=1.5, help="MB from the start of each training part")
    ap.add_argument("--val-kb", type=float, default=100.0, help="kB after each slice, for validation")
    ap.add_argument("--hidden", type=int, default=192, help="hidden size of the byte model (sets the params)")
    ap.add_argument("--budget-mb", type=float, default=6.0, help="MB of training text every model reads")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-kb", type=float, default=0, help="only the first kB of each evaluation file "
                    "(0: whole files; for quick checks)")
    ap.add_argument("--out", default=str(Path("docs") / "bench" / "tokenizer.json"))
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    data = Path(a.data)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    t_start = time.perf_counter()
    tr, va, where = training_slices(data, a.slice_mb, a.val_kb)
    train_bytes = b"".join(tr)
    budget = int(a.budget_mb * 1e6)
    evals = {f: (data / "text" / "eval" / f).read_bytes() for f in EVAL_FILES}
    if a.eval_kb:
        evals = {f: b[:int(a.eval_kb * 1e3)] for f, b in evals.items()}
    target = gru_params(256, a.hidden)
    vocabs = [256] + [int(v) for v in a.vocabs.split(",") if v]
    results = []
    for V in vocabs:
        t0 = time.perf_counter()
        tok = ByteTok() if V == 256 else BpeTok(train_bpe(tr, V))
        t_tok = time.perf_counter() - t0
        Vr = tok.get_vocab_size()
        H = a.hidden if V == 256 else matched_hidden(Vr, target)
        stream = tok.encode_bytes(train_bytes)
        tpb = len(stream) / len(train_bytes)
        ev_ids = {f: tok.encode_bytes(b) for f, b in evals.items()}
        for f, ids in ev_ids.items():  # lossless: the token stream gives back the file, byte for byte
            if tok.decode_bytes(ids) != evals[f]:
                raise SystemExit(f"vocab {V}: tokenization of {f} does not round-trip")
        model = build_model(Vr, H)
        params = sum(p.numel() for p in model.parameters())
        assert params == gru_params(Vr, H)
        tokens_budget = int(round(budget * tpb))
        log(f"vocab {Vr}: H={H}, {params:,} params, {tpb:.3f} tokens/byte on the slice, "
            f"{tokens_budget:,} training tokens")
        steps, t_train = train_model(model, stream, tokens_budget, a.batch, a.seq, a.lr, a.seed, log)
        t1 = time.perf_counter()
        val_ids = [tok.encode_bytes(b) for b in va]
        val_bits = code_lengths_bits(model, val_ids)
        ev_bits = code_lengths_bits(model, [ev_ids[f] for f in EVAL_FILES])
        vocab_cost = 8 * xz_bytes(tok.serialized())
        n_bytes = sum(len(evals[f]) for f in EVAL_FILES)
        n_tok = sum(len(ev_ids[f]) for f in EVAL_FILES)
        row = {
            "vocab": Vr, "hidden": H, "params": params, "steps": steps, "train_seconds": round(t_train, 1),
            "tokenizer_seconds": round(t_tok, 1), "eval_seconds": round(time.perf_counter() - t1, 1),
            "train_tokens": steps * a.batch * a.seq, "train_bytes_seen": int(steps * a.batch * a.seq / tpb),
            "tokens_per_byte_train": tpb, "tokens_per_byte": n_tok / n_bytes,
            "val_bits_per_byte": float(val_bits.sum() / sum(len(v) for v in va)),
            "bits_per_token": float(ev_bits.sum() / n_tok),
            "vocab_bytes_xz": vocab_cost // 8,
            "rate": float(ev_bits.sum() / (8 * n_bytes)),
            "rate_with_vocab": float((ev_bits.sum() + vocab_cost) / (8 * n_bytes)),
            "files": {f: {"bytes": len(evals[f]), "tokens": len(ev_ids[f]), "bits": float(b),
                          "rate": float(b / (8 * len(evals[f]))),
                          "rate_with_vocab": float((b + vocab_cost) / (8 * len(evals[f])))}
                      for f, b in zip(EVAL_FILES, ev_bits)},
        }
        log(f"vocab {Vr}: {row['bits_per_token']:.3f} bits/token, rate {100 * row['rate']:.2f}% "
            f"(+ vocab {100 * row['rate_with_vocab']:.2f}%), val {row['val_bits_per_byte']:.3f} bits/byte, "
            f"{t_train:.0f} s training")
        results.append(row)
    doc = {"study": "tokenizer", "command": "python -m lmz.studies.tokenizer " + " ".join(sys.argv[1:] if argv is None else argv),
           "settings": {k: v for k, v in vars(a).items() if k not in ("out", "data")},
           "train_slices": [{"part": p, "offset": o, "bytes": n, "val_offset": vo, "val_bytes": vb}
                            for p, o, n, vo, vb in where],
           "target_params": target, "eval_files": EVAL_FILES, "eval_bytes": sum(len(b) for b in evals.values()),
           "torch": torch.__version__, "tokenizers": _version("tokenizers"),
           "total_seconds": round(time.perf_counter() - t_start, 1), "results": results}
    out = Path(a.out)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(doc))
    log(f"wrote {out} and {out.with_suffix('.md')} ({doc['total_seconds']:.0f} s)")
    return 0


def _version(pkg):
    try:
        return __import__(pkg).__version__
    except ImportError:
        return None


def markdown(doc) -> str:
    rs = doc["results"]
    lines = [f"**Tokenizer as pre-compressor** (9 text evaluation files, {doc['eval_bytes']:,} bytes; "
             f"every model read {doc['settings']['budget_mb']:g} MB of training text)", "",
             "| tokenizer | vocab | hidden | params | tokens/byte | bits/token | val bits/byte | vocab, xz bytes "
             "| rate | rate + vocab |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rs:
        name = "bytes" if r["vocab"] == 256 else "BPE"
        lines.append(f"| {name} | {r['vocab']:,} | {r['hidden']} | {r['params']:,} | {r['tokens_per_byte']:.3f} | "
                     f"{r['bits_per_token']:.3f} | {r['val_bits_per_byte']:.3f} | {r['vocab_bytes_xz']:,} | "
                     f"{100 * r['rate']:.2f}% | {100 * r['rate_with_vocab']:.2f}% |")
    files = doc["eval_files"]
    lines += ["", "**Per file, rate + vocab** (the tokenizer's cost charged to each file)", "",
              "| tokenizer | " + " | ".join(files) + " |", "|---|" + "---:|" * len(files)]
    for r in rs:
        name = "bytes" if r["vocab"] == 256 else f"BPE {r['vocab']:,}"
        lines.append(f"| {name} | " + " | ".join(f"{100 * r['files'][f]['rate_with_vocab']:.1f}%" for f in files) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
