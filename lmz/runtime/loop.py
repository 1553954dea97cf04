"""The lane loop: a frame is cut into contiguous lanes that the model runs over all at once.

Per step, every lane feeds one byte (the previous byte of the lane; a virtual 0 first), the model
returns scores for the next byte, :func:`scores_to_freqs` turns them into integer frequencies, and
a *predictor stack* codes the lane's byte with them. The only state that crosses a step is the
model's fixed-size state (KV-free) and whatever the stack keeps per lane.

Predictor stacks. A stack is created per frame for that frame's lanes by a :class:`StackSpec`
(what the container records: ``stack_id`` and a params blob, the JSON of the params dict), given
the position in the input of each lane's first byte (:func:`lane_starts`). A stack instance has:

    def encode_step(self, model_freqs, syms, active, enc) -> None
    def decode_step(self, model_freqs, active, dec) -> np.ndarray   # syms[L] int64
    independent_lanes: bool   # optional, default False (see below)

``model_freqs`` is int64 [L, 256] (rows sum to 2**16), ``syms`` int64 [L], ``active`` bool [L];
``enc``/``dec`` are :class:`lmz.runtime.coder.Encoder` / ``Decoder`` with one lane per row. For
inactive lanes a stack codes the no-op event (``active=`` of ``put_symbols``/``put_bits`` does
it) and ``decode_step`` returns 0. A stack may code several events per byte (``put_bits``).
If ``independent_lanes`` is True (lane i's coding depends only on lane i's bytes), a lane that
coding would expand is stored raw and the decoder skips it; otherwise (shared tables, as in
MixStack) every lane of a frame is coded and decoded in lockstep and only whole frames fall
back to stored.
"""
from __future__ import annotations

import json
from typing import Callable

import numpy as np

from .coder import Decoder, Encoder
from .container import STACK_MIX, STACK_MODEL_ONLY, lane_lengths
from .errors import FormatError, ModelError, UsageError
from .freqs import scores_to_freqs

FRAME_SIZE = 1 << 22  # bytes of input per frame (memory bound, see docs/FORMAT.md)
MIN_LANE = 4096  # a lane is never shorter than this unless lanes= says so
MAX_LANES = 256

Progress = Callable[[int], None] | None


class ModelOnly:
    """The model's frequencies, coded as they are."""

    stack_id = STACK_MODEL_ONLY
    independent_lanes = True

    def __init__(self, lanes: int | None = None, starts=None, **params):
        if params:
            raise FormatError(f"the model-only stack takes no parameters, got {sorted(params)}")

    def encode_step(self, model_freqs, syms, active, enc: Encoder) -> None:
        enc.put_symbols(model_freqs, syms, active)

    def decode_step(self, model_freqs, active, dec: Decoder) -> np.ndarray:
        return dec.get_symbols(model_freqs, active)


def _mix_class():
    try:
        from . import mix
    except ImportError as e:
        raise UsageError(f"--mix on needs lmz.runtime.mix, which is not available ({e})") from None
    return mix.MixStack


class StackSpec:
    """A predictor stack as the container records it: id + params; ``make(lanes)`` builds one."""

    def __init__(self, name: str, stack_id: int, cls, params: dict | None = None):
        self.name, self.stack_id, self.cls = name, stack_id, cls
        self.params = dict(params or {})
        self.independent_lanes = bool(getattr(cls, "independent_lanes", False))
        # shortest lane the loop cuts for it and most lanes per frame it gets: the params' (a
        # model's preset may set them), else the class's
        self.min_lane = int(self.params.get("min_lane", getattr(cls, "min_lane", MIN_LANE)))
        self.max_lanes = int(self.params.get("max_lanes", getattr(cls, "max_lanes", MAX_LANES)))

    @property
    def blob(self) -> bytes:
        if not self.params:
            return b""
        return json.dumps(self.params, sort_keys=True, separators=(",", ":")).encode()

    def make(self, lanes: int, starts=None):
        """A stack for `lanes` lanes whose first bytes sit at positions `starts` of the input
        (both sides know them from the container; stacks with 2-D contexts need them)."""
        return self.cls(lanes, starts=starts, **self.params)


def make_stack(mix="off", **params) -> StackSpec:
    """`mix`: "off" -> ModelOnly, "on" -> lmz.runtime.mix.MixStack (params: its keyword arguments;
    the class's DEFAULTS and CURRENT settings are recorded too, so later changes cannot break old files)."""
    if isinstance(mix, StackSpec):
        return mix
    if mix in ("off", "model", "none", False, None):
        return StackSpec("model", STACK_MODEL_ONLY, ModelOnly, params)
    if mix in ("on", "mix", True):
        cls = _mix_class()
        full = dict(getattr(cls, "DEFAULTS", {}))
        full.update(getattr(cls, "CURRENT", {}))
        full.update(params)
        return StackSpec("mix", STACK_MIX, cls, full)
    raise UsageError(f"--mix must be on or off, not {mix!r}")


def stack_from_header(stack_id: int, blob: bytes) -> StackSpec:
    try:
        params = json.loads(blob.decode()) if blob else {}
        if not isinstance(params, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as e:
        raise FormatError(f"corrupt predictor stack parameters ({e})") from None
    if stack_id == STACK_MODEL_ONLY:
        if params:
            raise FormatError("the model-only stack takes no parameters")
        return StackSpec("model", STACK_MODEL_ONLY, ModelOnly)
    if stack_id == STACK_MIX:
        return StackSpec("mix", STACK_MIX, _mix_class(), params)
    raise FormatError(f"unknown predictor stack id {stack_id}")


def lane_starts(offset: int, lens) -> np.ndarray:
    """Input position of each lane's first byte, for a frame at `offset` cut into lanes `lens`."""
    lens = np.asarray(lens, dtype=np.int64)
    return offset + np.cumsum(lens) - lens


def choose_lanes(n: int, lanes: int | None = None, min_lane: int = MIN_LANE, max_lanes: int = MAX_LANES) -> int:
    """Lane count for a frame of n bytes: as many as possible with lanes >= min_lane bytes."""
    if n <= 0:
        return 0
    if lanes is not None:
        if lanes < 1:
            raise UsageError("--lanes must be at least 1")
        return min(int(lanes), n)
    return max(1, min(max_lanes, n // min_lane))


def encode_lanes(model, stack, raw: bytes, lanes: int, progress: Progress = None) -> list[bytes]:
    """Code a frame of `raw` bytes as `lanes` contiguous lanes; returns each lane's coded bytes.

    `progress(n)` is called with the bytes coded since its last call (about every 64 steps)."""
    n = len(raw)
    lens = lane_lengths(n, lanes)
    T = int(lens[0])
    C = int(model.chunk)
    # lane matrix [L, T]; row i holds lane i, zero padded; the input at step t is the byte t-1
    ends = np.cumsum(lens)
    idx = (ends - lens)[:, None] + np.arange(T)[None, :]
    valid = np.arange(T)[None, :] < lens[:, None]
    data = np.frombuffer(raw, dtype=np.uint8)
    M = np.where(valid, data[np.minimum(idx, n - 1)], 0).astype(np.int64)
    steps = -(-T // C) * C
    X = np.zeros((lanes, steps), dtype=np.int64)
    X[:, 1:T] = M[:, : T - 1]
    enc = Encoder(lanes, capacity=min(T, 1 << 16) // 2 + 16)
    state = model.initial_state(lanes)
    use_model = getattr(stack, "use_model", True)  # False: a stack that ignores the model (not run)
    done = 0
    for t0 in range(0, T, C):
        if use_model:
            scores, state = model.step(X[:, t0: t0 + C], state)
        for j in range(min(C, T - t0)):
            t = t0 + j
            active = lens > t
            stack.encode_step(scores_to_freqs(scores[:, j]) if use_model else None, M[:, t], active, enc)
        if progress and (t0 // C) % max(1, 64 // C) == 0:
            now = int(np.minimum(lens, t0 + C).sum())
            progress(now - done)
            done = now
    if progress:
        progress(n - done)
    return enc.finish()


def decode_lanes(model, stack, coded: list[bytes], lens, progress: Progress = None,
                 report_every: int = 64) -> list[bytes]:
    """Decode lanes of the given raw lengths from their coded bytes (one model step per byte)."""
    lanes = len(coded)
    if lanes == 0:
        return []
    if int(model.chunk) != 1:
        raise ModelError(f"decoding needs the one-step graph of the model (chunk 1, got {model.chunk})")
    lens = np.asarray(lens, dtype=np.int64)
    T = int(lens.max())
    dec = Decoder(coded)
    state = model.initial_state(lanes)
    out = np.zeros((lanes, T), dtype=np.uint8)
    x = np.zeros((lanes, 1), dtype=np.int64)
    use_model = getattr(stack, "use_model", True)
    done = 0
    for t in range(T):
        if use_model:
            scores, state = model.step(x, state)
        active = lens > t
        syms = stack.decode_step(scores_to_freqs(scores[:, 0]) if use_model else None, active, dec)
        out[:, t] = syms
        x = np.asarray(syms, dtype=np.int64).reshape(lanes, 1)
        if progress and (t + 1) % report_every == 0:
            now = int(np.minimum(lens, t + 1).sum())
            progress(now - done)
            done = now
    if progress:
        progress(int(lens.sum()) - done)
    return [out[i, : lens[i]].tobytes() for i in range(lanes)]
