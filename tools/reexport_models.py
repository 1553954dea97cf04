"""Re-export model files with the current graph builders, from the integer weights they hold.

    python tools/reexport_models.py lmz/models/text.onnx ... [--text FILE] [--steps N]

For a faster graph of the same math (e.g. the GRU's int8 matrix products): the weights, config and
metadata (training record, mix parameters) are kept, so the fingerprint streams record is
unchanged and every stream made with the old file decodes with the new one. Each file is replaced
only after (1) `lmz-export`'s own check against the numpy reference passed and (2) the new file
gave the same integers as the old one for every step of a long run on lmz-export's check inputs
(random, all-zero, all-0xFF and, with --text, real bytes) at 1 and 37 lanes, the state fed back.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from lmz.export.exporter import check_inputs, export_model
from lmz.runtime import onnxfile
from lmz.runtime.session import make_session

COMPUTED = {"lmz.format", "lmz.family", "lmz.config", "lmz.chunk", "lmz.state_size", "lmz.vocab", "lmz.lanes",
            "lmz.inputs", "lmz.outputs", "lmz.weights_sha256", "lmz.params", "lmz.bytes"}


def weights_of(path: Path):
    meta, inits = onnxfile.read(path)
    cfg, w = onnxfile.integer_weights(meta, inits)
    return meta, cfg, {k: np.asarray(v, dtype=np.int64) for k, v in w.items()}


def same_integers(old: Path, new: Path, state_size: int, chunk: int, steps: int, text: bytes | None) -> str | None:
    """Run both files step by step on the same bytes; the first difference, or None."""
    a, _ = make_session(old, "cpu", threads=1)
    b, _ = make_session(new, "cpu", threads=1)
    for lanes in (1, 37):
        for name, data in check_inputs(lanes, chunk, steps, text, seed=7).items():
            sa = sb = np.zeros((lanes, state_size), np.float32)
            for t in range(steps):
                x = np.ascontiguousarray(data[:, t * chunk:(t + 1) * chunk], dtype=np.int64)
                pa, sa = a.run(None, {"bytes": x, "state": sa})
                pb, sb = b.run(None, {"bytes": x, "state": sb})
                if not (np.array_equal(pa, pb) and np.array_equal(sa, sb)):
                    return f"{name}, {lanes} lanes: step {t} differs"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--text", type=Path, help="real bytes for the checks (e.g. training text)")
    ap.add_argument("--steps", type=int, default=600, help="steps of the old-vs-new run (default 600)")
    a = ap.parse_args(argv)
    text = a.text.read_bytes()[:1 << 20] if a.text else None
    for path in a.models:
        meta, cfg, w = weights_of(path)
        keep = {k: v for k, v in meta.items() if k not in COMPUTED}
        with tempfile.TemporaryDirectory() as tmp:
            new = Path(tmp) / path.name
            md = export_model(w, cfg, new, chunk=int(meta["lmz.chunk"]), meta=keep, real=text[:1 << 16] if text else None,
                              lanes=int(meta.get("lmz.lanes", "0")) or None)
            if md["lmz.weights_sha256"] != meta["lmz.weights_sha256"]:
                sys.exit(f"{path}: fingerprint changed ({md['lmz.weights_sha256'][:16]} vs "
                         f"{meta['lmz.weights_sha256'][:16]}): not replaced")
            bad = same_integers(path, new, int(meta["lmz.state_size"]), int(meta["lmz.chunk"]), a.steps, text)
            if bad:
                sys.exit(f"{path}: the new graph differs from the old one ({bad}): not replaced")
            before = path.stat().st_size
            shutil.copyfile(new, path)
            shutil.copyfile(new.with_suffix(".json"), path.with_suffix(".json"))
        print(f"{path}: re-exported, same fingerprint {meta['lmz.weights_sha256'][:16]}, same integers over "
              f"{a.steps} steps; {before:,} -> {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
