"""A numpy stand-in for runtime.session.ByteModel: an order-2 count model with integer scores.

Same interface as ByteModel: .chunk, .state_size, .info.fingerprint / .info.path,
.initial_state(lanes), .step(bytes[L, C] int64, state) -> (scores int32 [L, C, 256], state).
The state carries the previous byte (as an integer in float32), so state handling is exercised.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_TEXT = (b"The quick brown fox jumps over the lazy dog. Lossless compression with small language "
         b"models feeding an arithmetic coder: the model predicts the next byte, the coder spends "
         b"-log2 p bits on it. <p>Markup, code() {return 0;} and numbers 0123456789.</p>\n") * 4


@dataclass
class FakeInfo:
    path: Path
    fingerprint: str
    family: str = "fake"
    mix_params: dict = field(default_factory=dict)


class FakeModel:
    state_size = 2

    def __init__(self, chunk: int = 1, seed: int = 0, text: bytes = _TEXT, name: str = "fake"):
        c1 = np.ones((256, 256))
        c2 = np.ones((256, 256))
        a = np.frombuffer(text, dtype=np.uint8)
        np.add.at(c1, (a[:-1], a[1:]), 8.0)
        np.add.at(c2, (a[:-2], a[2:]), 3.0)
        rng = np.random.default_rng(seed)
        c1 += rng.integers(0, 2, size=c1.shape)
        self.t1 = np.floor(16 * np.log(c1)).astype(np.int32)
        self.t2 = np.floor(8 * np.log(c2)).astype(np.int32)
        self.chunk = chunk
        fp = hashlib.sha256(self.t1.tobytes() + self.t2.tobytes()).hexdigest()
        self.info = FakeInfo(Path(f"{name}.onnx"), fp)

    def initial_state(self, lanes: int) -> np.ndarray:
        return np.zeros((lanes, self.state_size), dtype=np.float32)

    def step(self, data, state):
        data = np.asarray(data, dtype=np.int64)
        L, C = data.shape
        prev = state[:, 0].astype(np.int64)
        out = np.empty((L, C, 256), dtype=np.int32)
        for j in range(C):
            x = data[:, j]
            out[:, j] = self.t1[x] + self.t2[prev]
            prev = x
        new = state.copy()
        new[:, 0] = prev
        new[:, 1] += C
        return out, new
