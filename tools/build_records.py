"""Builds the record datasets from the extracted registry files (called by tools/fetch_records.sh).

Deterministic: the same inputs give the same bytes. Each dataset is split into train and eval by
position (every 5th unit is evaluation), never by content.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

EVAL_EVERY = 5


def _write(out: Path, name: str, ext: str, train: list[bytes], ev: list[bytes]) -> None:
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"train.{ext}").write_bytes(b"".join(train))
    (d / f"eval.{ext}").write_bytes(b"".join(ev))
    print(f"{name}: train {sum(map(len, train)):,} bytes, eval {sum(map(len, ev)):,} bytes")


def pmu_json(root: Path, out: Path) -> None:
    """One compact JSON object per line (the file's key order kept); whole files go to one split."""
    train, ev = [], []
    for i, p in enumerate(sorted(root.rglob("*.json"))):
        items = json.loads(p.read_text(encoding="utf-8"))
        items = items if isinstance(items, list) else [items]
        lines = [json.dumps(o, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for o in items]
        (ev if i % EVAL_EVERY == EVAL_EVERY // 2 else train).extend(lines)
    _write(out, "json", "jsonl", train, ev)


def changelog(path: Path, out: Path) -> None:
    """Release stanzas (from a 'linux (...)' line to the next): every 5th one is evaluation."""
    text = gzip.decompress(path.read_bytes())
    stanzas = re.split(rb"(?m)^(?=linux \()", text)
    stanzas = [s for s in stanzas if s]
    train = [s for i, s in enumerate(stanzas) if i % EVAL_EVERY != EVAL_EVERY // 2]
    ev = [s for i, s in enumerate(stanzas) if i % EVAL_EVERY == EVAL_EVERY // 2]
    _write(out, "changelog", "txt", train, ev)


def unicode_csv(path: Path, out: Path, run: int = 64) -> None:
    rows = path.read_bytes().splitlines(keepends=True)
    train, ev = [], []
    for k in range(0, len(rows), run):
        (ev if (k // run) % EVAL_EVERY == EVAL_EVERY // 2 else train).extend(rows[k: k + run])
    _write(out, "csv", "csv", train, ev)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pmu", type=Path, required=True)
    p.add_argument("--changelog", type=Path, required=True)
    p.add_argument("--unicode", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    pmu_json(a.pmu, a.out)
    changelog(a.changelog, a.out)
    unicode_csv(a.unicode, a.out)


if __name__ == "__main__":
    main()
