"""Export an integer model (weights + config) to ONNX, refusing anything not bit-exact."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx

from lmz import spec as reference
from lmz.runtime.onnxfile import weights_sha256  # noqa: F401  (the fingerprint, defined by the runtime)
from lmz.runtime.session import CONTRACT_VERSION, make_session

from .gru_graph import build_gru

BUILDERS = {"gru": build_gru}
try:
    from .transformer_graph import build_transformer

    BUILDERS["transformer"] = build_transformer
except ImportError:  # pragma: no cover
    pass


class ExportError(Exception):
    pass


def build_onnx(weights: dict, cfg: dict, chunk: int, lanes: int | None = None) -> onnx.ModelProto:
    fam = cfg.get("family")
    if fam not in BUILDERS:
        raise ExportError(f"no ONNX builder for model family {fam!r}")
    for k, v in weights.items():
        if np.abs(np.asarray(v)).max(initial=0) >= reference.EXACT_LIMIT:
            raise ExportError(f"weight {k} holds integers too large to be exact in float32")
    return BUILDERS[fam](weights, cfg, chunk, lanes)


def check_inputs(lanes: int, chunk: int, steps: int, real: bytes | None, seed: int = 0):
    """Byte matrices the check runs: random, all-zero, all-0xFF, and real text when given."""
    n = chunk * steps
    rng = np.random.default_rng(seed)
    cases = {"random": rng.integers(0, 256, (lanes, n)),
             "zeros": np.zeros((lanes, n), np.int64), "ones": np.full((lanes, n), 255, np.int64)}
    if real:
        buf = np.frombuffer((real * (lanes * n // max(len(real), 1) + 1))[:lanes * n], np.uint8)
        cases["real"] = buf.reshape(lanes, n).astype(np.int64)
    return cases


def compare_with_reference(path, weights, cfg, chunk, lanes=(1, 7), steps=3, real=None,
                           threads=(1, 2), opt_levels=("disable", "all")):
    """Run the ONNX file under onnxruntime and the numpy reference; return a list of mismatches."""
    problems = []
    sessions = {(th, opt): make_session(path, "cpu", threads=th, opt_level=opt)[0]
                for th in threads for opt in opt_levels}
    for L in lanes:
        for case, data in check_inputs(L, chunk, steps, real).items():
            ref_scores, ref_state = [], np.zeros((L, reference.state_size(cfg)), np.int64)
            for s in range(steps):
                sc, ref_state = reference.forward(weights, cfg, data[:, s * chunk:(s + 1) * chunk], ref_state)
                ref_scores.append(sc)
            ref = np.concatenate(ref_scores, 1)
            for (th, opt), sess in sessions.items():
                state = np.zeros((L, reference.state_size(cfg)), np.float32)
                got = []
                for s in range(steps):
                    sc, state = sess.run(["scores", "state_out"],
                                         {"bytes": data[:, s * chunk:(s + 1) * chunk], "state": state})
                    got.append(sc)
                got = np.concatenate(got, 1)
                if not (np.array_equal(got, ref) and np.array_equal(state, ref_state)):
                    bad = int((got != ref).sum()) + int((state != ref_state).sum())
                    problems.append(f"lanes={L} input={case} threads={th} opt={opt}: {bad} integers differ")
    return problems


def export_model(weights: dict, cfg: dict, out_path, chunk: int = 1, meta: dict | None = None,
                 real: bytes | None = None, check: bool = True, lanes: int | None = None) -> dict:
    """Write `out_path` (.onnx) and `out_path` with .json; returns the metadata.

    The file is first written to a temporary name, checked against the numpy reference, and
    only then renamed; on any mismatch nothing is left behind and ExportError is raised.
    """
    out_path = Path(out_path)
    model = build_onnx(weights, cfg, chunk, lanes)
    n_params = int(sum(np.asarray(v).size for k, v in weights.items() if not k.endswith("_lut")))
    md = {"lmz.format": CONTRACT_VERSION, "lmz.family": cfg["family"], "lmz.config": json.dumps(cfg, sort_keys=True),
          "lmz.chunk": str(chunk), "lmz.state_size": str(reference.state_size(cfg)), "lmz.vocab": "256",
          "lmz.lanes": str(lanes or 0), "lmz.inputs": "bytes,state", "lmz.outputs": "scores,state_out",
          "lmz.weights_sha256": weights_sha256(weights, cfg), "lmz.params": str(n_params),
          "lmz.data_fingerprint": "", "lmz.train": "{}"}
    for k, v in (meta or {}).items():
        md[k] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    onnx.helper.set_model_props(model, md)
    onnx.checker.check_model(model)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=out_path.parent)
    os.close(fd)
    try:
        onnx.save(model, tmp)
        if check:
            problems = compare_with_reference(tmp, weights, cfg, chunk, real=real,
                                              lanes=(lanes,) if lanes else (1, 7))
            if problems:
                raise ExportError("ONNX graph is not bit-exact against the numpy reference:\n  " + "\n  ".join(problems))
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    md["lmz.bytes"] = str(out_path.stat().st_size)
    json_path = out_path.with_suffix(".json")
    json_path.write_text(json.dumps({k: (json.loads(v) if k in ("lmz.config", "lmz.train", "lmz.mix") else v)
                                     for k, v in md.items()}, indent=2, sort_keys=True) + "\n")
    return md
