"""The two interfaces the lane loop drives: a byte model and a predictor stack (no duck typing)."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class ByteModel(Protocol):
    """An integer-exact byte model (lmz.runtime.session.ByteModel runs an ONNX file).

    ``step(bytes int64 [L, chunk], state) -> (scores int32 [L, chunk, 256], new state)``; the state
    is fixed-size (KV-free); ``info`` carries ``path``, ``fingerprint`` (sha256 hex of the weights)
    and ``mix_params`` (the stack parameters the model was exported with)."""

    chunk: int
    state_size: int
    info: object

    def initial_state(self, lanes: int) -> np.ndarray: ...

    def step(self, data: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class PredictorStack(Protocol):
    """Codes one byte per active lane per step, given the model's frequencies (int64 [L, 256],
    rows summing to 2**16; None when ``use_model`` is False and the model is not run).

    ``independent_lanes``: lane i's coding depends only on lane i's bytes (a lane that coding would
    expand may then be stored raw); otherwise all lanes of a frame are coded in lockstep."""

    use_model: bool
    independent_lanes: bool

    def encode_step(self, model_freqs, syms: np.ndarray, active: np.ndarray, enc) -> None: ...

    def decode_step(self, model_freqs, active: np.ndarray, dec) -> np.ndarray: ...
