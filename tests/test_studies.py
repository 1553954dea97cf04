"""The paper's studies in lmz.studies: scaling (§3.2) from a bench JSON, tokenization (§3.6) on tiny data."""
from __future__ import annotations

import importlib
import json

import numpy as np
import pytest


def _load(name):
    return importlib.import_module(f"lmz.studies.{name}")


def _row(comp, params, nbytes, rate, file="text (all)", protocol="whole"):
    return {"file": file, "kind": "text", "compressor": comp, "protocol": protocol, "raw": 4_000_000,
            "compressed": int(40_000 * rate), "rate": rate, "model_bytes": nbytes, "model_params": params,
            "rate_adj_onnx": rate + 100 * nbytes / 4_000_000, "rate_adj_params": rate + 200 * params / 4_000_000,
            "verified": True, "error": ""}


def test_scaling_table_and_plot(tmp_path):
    scaling = _load("scaling")
    doc = {"results": [_row("gzip -9", 0, 0, 36.0), _row("lmz text-l", 1_300_000, 2_500_000, 40.0),
                       _row("lmz text-s", 180_000, 480_000, 45.0), _row("lmz text-m", 460_000, 1_050_000, 43.0),
                       _row("lmz text-m", 460_000, 1_050_000, 50.0, file="wiki.txt")]}
    src = tmp_path / "scaling.json"
    src.write_text(json.dumps(doc))
    assert scaling.main(["scaling.py", str(src)]) == 0
    md = (tmp_path / "scaling.md").read_text().splitlines()
    body = [ln for ln in md if ln.startswith("| lmz")]
    assert [ln.split("|")[1].strip() for ln in body] == ["lmz text-s", "lmz text-m", "lmz text-l"]
    # adjusted for 1 MB = raw rate + model bytes / 1 MB
    assert "| 45.00% | 93.00% |" in body[0]
    assert any(ln.startswith("| gzip -9 | - | - | 36.00% | 36.00% |") for ln in md)
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "scaling.png").stat().st_size > 1000


def test_gru_params_and_matching():
    pytest.importorskip("torch")
    tk = _load("tokenizer")
    for V, H in ((256, 192), (4096, 38), (300, 7)):
        m = tk.build_model(V, H)
        assert sum(p.numel() for p in m.parameters()) == tk.gru_params(V, H)
    target = tk.gru_params(256, 192)
    H = tk.matched_hidden(4096, target)
    assert H < 192 and abs(tk.gru_params(4096, H) - target) <= abs(tk.gru_params(4096, H + 1) - target)


def test_code_length_matches_one_sequence():
    torch = pytest.importorskip("torch")
    tk = _load("tokenizer")
    torch.manual_seed(0)
    m = tk.build_model(20, 8)
    seqs = [np.array([1, 2, 3, 4, 5, 6, 7], dtype=np.int64), np.array([9, 9, 1], dtype=np.int64)]
    batched = tk.code_lengths_bits(m, seqs, chunk=3)  # padding and chunking change nothing
    for s, b in zip(seqs, batched):
        x = torch.from_numpy(np.concatenate([[0], s[:-1]]))[None]
        logp = torch.log_softmax(m(x)[0][0], -1)
        ref = -logp[torch.arange(len(s)), torch.from_numpy(s)].sum().item() / np.log(2)
        assert abs(b - ref) < 1e-3


def _tiny_corpus(tmp_path):
    d = tmp_path / "corpora"
    (d / "text" / "eval").mkdir(parents=True)
    parts = [b"the quick brown fox jumps over the lazy dog. " * 60, b"int main(void) { return 0; }\n" * 90,
             b"Alice was beginning to get very tired. " * 70, b"%\nA fortune a day.\n" * 150]
    (d / "text" / "train.txt").write_bytes(b"".join(parts))
    off, rows = 0, ["part\toffset\tbytes"]
    for i, p in enumerate(parts):
        rows.append(f"p{i}\t{off}\t{len(p)}")
        off += len(p)
    (d / "text" / "train.parts.tsv").write_text("\n".join(rows) + "\n")
    tk = _load("tokenizer")
    for k, f in enumerate(tk.EVAL_FILES):
        (d / "text" / "eval" / f).write_bytes(b"the lazy fox returns 0; tired\n\xe9\xff\x00" * (3 + k))
    return d


def _run_study(tmp_path, vocabs):
    tk = _load("tokenizer")
    d = _tiny_corpus(tmp_path)
    out = tmp_path / "tok.json"
    assert tk.main(["--data", str(d), "--vocabs", vocabs, "--slice-mb", "0.002", "--val-kb", "0.2",
                    "--budget-mb", "0.004", "--hidden", "12", "--batch", "4", "--seq", "16",
                    "--out", str(out)]) == 0
    return json.loads(out.read_text()), out.with_suffix(".md").read_text()


def test_tokenizer_study_bytes_only(tmp_path):
    pytest.importorskip("torch")
    doc, md = _run_study(tmp_path, "")
    (r,) = doc["results"]
    assert r["vocab"] == 256 and r["tokens_per_byte"] == 1.0 and r["vocab_bytes_xz"] == 0
    assert r["rate"] == r["rate_with_vocab"] > 0 and "| bytes | 256 | 12 |" in md
    assert [s["part"] for s in doc["train_slices"]] == ["p0", "p1", "p2", "p3"]


def test_tokenizer_study_bpe(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    doc, md = _run_study(tmp_path, "300")
    b, t = doc["results"]
    assert t["vocab"] == 300 and t["tokens_per_byte"] < 1.0  # the eval files round-tripped (checked inside)
    assert t["hidden"] < b["hidden"] and abs(t["params"] - b["params"]) < 0.1 * b["params"]
    assert t["rate_with_vocab"] > t["rate"] and t["vocab_bytes_xz"] > 0
    assert "| BPE | 300 |" in md
