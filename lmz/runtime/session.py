"""Opening an exported model with onnxruntime: provider choice, metadata, one call per chunk."""
from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError

CONTRACT_VERSION = "1"


def _ort():
    import onnxruntime as ort  # imported lazily: `lmz-run list` needs no session

    return ort


def _available_providers() -> list[str]:
    return _ort().get_available_providers()


def make_session(path: str | os.PathLike, provider: str = "auto", threads: int = 0, opt_level: str = "all"):
    """Create an InferenceSession; `provider` is auto|cpu|cuda. Returns (session, provider actually used).

    onnxruntime-gpu silently falls back to CPU when CUDA cannot start, so the provider in use is read
    back from the session rather than trusted from the request.
    """
    ort = _ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[opt_level]
    want = []
    if provider in ("auto", "cuda") and "CUDAExecutionProvider" in _available_providers():
        if hasattr(ort, "preload_dlls"):
            # preload_dlls() print()s to *stdout*, which may carry compressed data: capture it
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    ort.preload_dlls()
                except Exception:  # pragma: no cover - depends on the host's CUDA install
                    pass
        # The CUDA provider's defaults stand: use_tf32=1 lets float32 MatMul run on TF32 tensor cores,
        # which round each operand to 10 explicit mantissa bits (11 significant): every integer of
        # magnitude <= 2048 stays exact, so int8-range operands (|x| <= 127: the GRU's state and
        # weights, the transformer's activations) multiply exactly, and their products (< 2**14) are
        # accumulated in float32, exact below 2**24. An operand needing more bits (the transformer's
        # attention exp table, up to 2**12) would be rounded: tools/gpu_check compares every integer
        # with TF32 on and off, and node placement (MatMul has no int32 CUDA kernel, Clip no int32,
        # Floor float only: ops without a CUDA kernel fall back to the CPU with copies).
        want.append("CUDAExecutionProvider")
    want.append("CPUExecutionProvider")
    if provider == "auto" and len(want) > 1:
        ort.set_default_logger_severity(4)  # a CUDA provider that cannot start is not an error in auto mode
    try:
        sess = ort.InferenceSession(str(path), sess_options=so, providers=want)
    except Exception as e:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load model {path}: {e}") from e
    finally:
        if provider == "auto" and len(want) > 1:
            ort.set_default_logger_severity(2)
    used = "cuda" if sess.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
    if provider == "cuda" and used != "cuda":
        raise ModelError("--provider cuda: the CUDA execution provider is not usable on this host")
    return sess, used


@dataclass
class ModelInfo:
    path: Path
    family: str
    chunk: int
    state_size: int
    fingerprint: str  # sha256 of the config and weights, hex (checked against the weights at load)
    meta: dict

    @property
    def fingerprint_bytes(self) -> bytes:
        return bytes.fromhex(self.fingerprint)

    @property
    def mix_params(self) -> dict:
        """The mixing stack's parameters the model was exported with (``lmz-export --mix-params``):
        the defaults for its data, e.g. image geometry; {} when none."""
        try:
            v = json.loads(self.meta.get("lmz.mix", "{}"))
        except ValueError:
            raise ModelError(f"{self.path}: corrupt lmz.mix metadata") from None
        if not isinstance(v, dict):
            raise ModelError(f"{self.path}: corrupt lmz.mix metadata")
        return v


def _info_from_meta(path: Path, meta: dict) -> ModelInfo:
    if meta.get("lmz.format") != CONTRACT_VERSION:
        raise ModelError(f"{path} is not an lmz model of contract version {CONTRACT_VERSION}")
    return ModelInfo(path, meta["lmz.family"], int(meta["lmz.chunk"]), int(meta["lmz.state_size"]),
                     meta["lmz.weights_sha256"], meta)


def read_model_info(path: str | os.PathLike) -> ModelInfo:
    """Read the lmz metadata from an ONNX file without creating an inference session."""
    path = Path(path)
    try:
        import onnx  # optional: much faster to read only metadata with it

        m = onnx.load(str(path), load_external_data=False)
        meta = {p.key: p.value for p in m.metadata_props}
    except ImportError:
        sess, _ = make_session(path, "cpu")
        meta = dict(sess.get_modelmeta().custom_metadata_map)
    except Exception as e:
        raise ModelError(f"cannot read model {path}: {e}") from e
    return _info_from_meta(path, meta)


class OnnxByteModel:
    """One ONNX byte model (a :class:`~lmz.runtime.protocols.ByteModel`): `step(bytes[L, C], state) -> (scores int32 [L, C, 256], state)`."""

    def __init__(self, path, provider: str = "auto", threads: int = 0, opt_level: str = "all"):
        from . import onnxfile

        # the fingerprint is computed from the weights (not taken on trust from the metadata) and
        # must equal the one the metadata records: a model with changed weights is refused
        fingerprint = onnxfile.verify(path)
        self.session, self.provider = make_session(path, provider, threads, opt_level)
        self.info = _info_from_meta(Path(path), dict(self.session.get_modelmeta().custom_metadata_map))
        if self.info.fingerprint != fingerprint:  # the file changed between the check and the load
            raise ModelError(f"{path}: the model changed while it was being loaded")
        self.chunk = self.info.chunk
        self.state_size = self.info.state_size

    def initial_state(self, lanes: int) -> np.ndarray:
        return np.zeros((lanes, self.state_size), dtype=np.float32)

    def step(self, data: np.ndarray, state: np.ndarray):
        scores, new_state = self.session.run(
            ["scores", "state_out"], {"bytes": np.ascontiguousarray(data, dtype=np.int64), "state": state})
        return scores.astype(np.int32), new_state


ByteModel = OnnxByteModel  # the name earlier code and tests import
