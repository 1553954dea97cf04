"""How a frame is cut into lanes, computed once per frame: :class:`FramePlan`.

A frame of n bytes is cut into L contiguous lanes; lane i holds ``len_i = n // L + (i < n % L)``
bytes (docs/FORMAT.md). The writer picks L (:func:`choose_lanes`), the reader reads it from the
frame; both then build the same plan and hand it to the lane loop, the predictor stack (which
needs each lane's position in the whole input for its 2-D contexts) and the container.
Every lane's model input is the lane shifted by one byte, with the virtual byte 0 first
(:func:`model_inputs`, docs/MODEL_CONTRACT.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UsageError

FRAME_SIZE = 1 << 22  # bytes of input per frame by default (memory bound, see docs/FORMAT.md)
MAX_FRAME = 1 << 30  # the largest frame a stream may declare
MAX_LANES = 1 << 16  # the most lanes the format allows in one frame
MIN_LANE = 4096  # shortest lane the loop cuts unless the stack or the caller says otherwise
DEFAULT_MAX_LANES = 256  # most lanes per frame unless the stack or the caller says otherwise


def lane_lengths(n: int, lanes: int) -> np.ndarray:
    """Frame of n bytes cut into `lanes` contiguous lanes; the first n % lanes lanes get one more."""
    base, rem = divmod(n, lanes)
    out = np.full(lanes, base, dtype=np.int64)
    out[:rem] += 1
    return out


@dataclass(frozen=True)
class FramePlan:
    """A frame's lanes: ``lens[i]`` bytes each, lane i's first byte at input position ``starts[i]``."""

    offset: int  # input position of the frame's first byte
    lens: np.ndarray  # int64 [L]
    given_starts: np.ndarray | None = None  # a selection of lanes (not contiguous) keeps its positions

    @classmethod
    def cut(cls, offset: int, n: int, lanes: int) -> "FramePlan":
        return cls(int(offset), lane_lengths(n, lanes))

    @property
    def lanes(self) -> int:
        return len(self.lens)

    @property
    def size(self) -> int:
        return int(self.lens.sum())

    @property
    def steps(self) -> int:
        """Model steps the frame takes (its longest lane)."""
        return int(self.lens.max()) if len(self.lens) else 0

    @property
    def ends(self) -> np.ndarray:
        """Frame-relative end of every lane."""
        return np.cumsum(self.lens)

    @property
    def starts(self) -> np.ndarray:
        """Input position of every lane's first byte."""
        return self.offset + self.ends - self.lens if self.given_starts is None else self.given_starts

    def select(self, keep) -> "FramePlan":
        """The plan restricted to some lanes (``starts`` keep their positions)."""
        keep = np.asarray(keep, dtype=np.int64)
        return FramePlan(self.offset, self.lens[keep], self.starts[keep])

    def lane_matrix(self, raw: bytes) -> np.ndarray:
        """int64 [L, steps]: row i is lane i's bytes, zero padded."""
        n = len(raw)
        T = self.steps
        rel = (self.ends - self.lens)[:, None] + np.arange(T)[None, :]
        valid = np.arange(T)[None, :] < self.lens[:, None]
        data = np.frombuffer(raw, dtype=np.uint8)
        return np.where(valid, data[np.minimum(rel, n - 1)], 0).astype(np.int64)


def model_inputs(targets: np.ndarray, width: int | None = None) -> np.ndarray:
    """The model's input for every position of lanes `targets` [L, T]: the virtual 0, then each
    byte but the last; zero padded on the right to `width` columns (default T)."""
    L, T = targets.shape
    x = np.zeros((L, max(T, width or T)), dtype=np.int64)
    x[:, 1:T] = targets[:, : T - 1]
    return x


def choose_lanes(n: int, lanes: int | None = None, min_lane: int = MIN_LANE,
                 max_lanes: int = DEFAULT_MAX_LANES) -> int:
    """Lane count for a frame of n bytes: as many as possible with lanes >= min_lane bytes."""
    if n <= 0:
        return 0
    if lanes is not None:
        if lanes < 1:
            raise UsageError("--lanes must be at least 1")
        return min(int(lanes), n, MAX_LANES)
    return max(1, min(max_lanes, n // min_lane, MAX_LANES))
