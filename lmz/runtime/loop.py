"""The lane loop: a frame is cut into contiguous lanes that the model runs over all at once.

Per step, every lane feeds one byte (the previous byte of the lane; a virtual 0 first), the model
returns scores for the next byte, :func:`scores_to_freqs` turns them into integer frequencies, and
a *predictor stack* codes the lane's byte with them. The only state that crosses a step is the
model's fixed-size state (KV-free) and whatever the stack keeps per lane.

Predictor stacks. A stack is created per frame for that frame's lanes by a :class:`StackSpec`
(what the container records: ``stack_id`` and a params blob, the JSON of the params dict), given
the frame's :class:`~lmz.runtime.lanes.FramePlan` (the stack's 2-D contexts need each lane's
position in the input). A stack instance is a :class:`~lmz.runtime.protocols.PredictorStack`:

    def encode_step(self, model_freqs, syms, active, enc) -> None
    def decode_step(self, model_freqs, active, dec) -> np.ndarray   # syms[L] int64
    use_model: bool; independent_lanes: bool

A stack with ``takes_scores = True`` also has ``encode_scores(scores, syms, active, enc)`` and
``decode_scores(scores, active, dec)``, which take the model's int32 scores [L, 256] instead of
``scores_to_freqs(scores)`` and must code exactly as the freqs methods would with them.

``model_freqs`` is int64 [L, 256] (rows sum to 2**16), ``syms`` int64 [L], ``active`` bool [L];
``enc``/``dec`` are :class:`lmz.runtime.coder.Encoder` / ``Decoder`` with one lane per row. For
inactive lanes a stack codes the no-op event (``active=`` of ``put_symbols``/``put_bits`` does
it) and ``decode_step`` returns 0. A stack may code several events per byte (``put_bits``).
If ``independent_lanes`` is True (lane i's coding depends only on lane i's bytes), a lane that
coding would expand is stored raw and the decoder skips it; otherwise (shared tables, as in
MixStack) every lane of a frame is coded and decoded in lockstep and only whole frames fall
back to stored. A stack with ``compiled_steps`` True (no model to run between bytes) codes a run
of steps in one call instead: ``encode_steps(M, lens, t1, enc)`` / ``decode_steps(out, lens, t1,
dec)``, with the same bits as the step-by-step methods. A stack whose ``lane_groups`` (a list of
(lo, hi)) has more than one group decodes a step as ``decode_begin(active)``, then
``decode_group(g, dec, scores of lanes lo..hi-1)`` for each group in order (returning the group's
bytes), then ``decode_end()``, exactly as ``decode_scores`` would; the loop then runs the model
per group in a thread, one step ahead (``_decode_groups``). A stack with ``takes_cum`` also has a
pure ``cum_of(scores)`` (its share of the work that needs the scores alone): the loop runs it in
the model's thread and hands its result to ``encode_cum(cum, syms, active, enc)`` /
``decode_group(g, dec, cum=...)``; with ``compiled_encode`` too, the encoder hands it a block of
steps at once, ``encode_steps(M, lens, t1, enc, cums=[t1 - t0, L, 257])`` (``_encode_runs``).
A stack with ``decodes_model_steps`` True decodes a step from the model's scores in one call,
``decode_model_step(out, lens, scores, dec)``, writing the step's bytes into ``out``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import stack_params as sp
from .coder import Decoder, Encoder
from .errors import FormatError, ModelError, UsageError
from .freqs import scores_to_freqs
from .lanes import DEFAULT_MAX_LANES, FRAME_SIZE, MIN_LANE, FramePlan, choose_lanes, model_inputs
from .protocols import ByteModel, PredictorStack
from .stack_params import STACK_MIX, STACK_MODEL_ONLY

__all__ = ["FRAME_SIZE", "FramePlan", "ModelOnly", "StackSpec", "choose_lanes", "decode_frame", "encode_frame",
           "frame_stack", "make_stack", "stack_from_header"]

Progress = Callable[[int], None] | None
STEP_RUN = 1 << 16  # steps per compiled call of a model-free stack (progress and buffer growth between)


class ModelOnly:
    """The model's frequencies, coded as they are."""

    stack_id = STACK_MODEL_ONLY
    independent_lanes = True
    use_model = True
    min_lane = MIN_LANE
    max_lanes = DEFAULT_MAX_LANES

    def __init__(self, lanes: int | None = None, starts=None, **params):
        if params:
            raise FormatError(f"the model-only stack takes no parameters, got {sorted(params)}")

    def encode_step(self, model_freqs, syms, active, enc: Encoder) -> None:
        enc.put_symbols(model_freqs, syms, active)

    def decode_step(self, model_freqs, active, dec: Decoder) -> np.ndarray:
        return dec.get_symbols(model_freqs, active)


def _mix_class():
    try:
        from .stack import MixStack
    except ImportError as e:
        raise UsageError(f"--mix on needs lmz.runtime.stack (numba), which is not available ({e})") from None
    return MixStack


class StackSpec:
    """A predictor stack as the container records it: id + params; ``make(lanes)`` builds one."""

    def __init__(self, name: str, stack_id: int, cls, params: dict | None = None):
        self.name, self.stack_id, self.cls = name, stack_id, cls
        self.params = dict(params or {})
        self.independent_lanes = bool(cls.independent_lanes)
        # shortest lane the loop cuts for it and most lanes per frame it gets: the params' (a
        # model's preset may set them), else the class's
        self.min_lane = int(self.params.get("min_lane", cls.min_lane))
        self.max_lanes = int(self.params.get("max_lanes", cls.max_lanes))

    @property
    def blob(self) -> bytes:
        if not self.params:
            return b""
        return sp.dump_params(self.params)

    def make(self, plan: FramePlan) -> PredictorStack:
        """A stack for the lanes of `plan` (both sides know it from the container; stacks with
        2-D contexts need each lane's position in the input)."""
        return self.cls(plan.lanes, starts=plan.starts, **self.params)


def make_stack(mix="off", **params) -> StackSpec:
    """`mix`: "off" -> ModelOnly, "on" -> lmz.runtime.stack.MixStack (params: its keyword arguments;
    the class's DEFAULTS and CURRENT settings are recorded too, so later changes cannot break old files:
    MixStack.new_params)."""
    if isinstance(mix, StackSpec):
        return mix
    if mix in ("off", "model", "none", False, None):
        return StackSpec("model", STACK_MODEL_ONLY, ModelOnly, params)
    if mix in ("on", "mix", True):
        cls = _mix_class()
        return StackSpec("mix", STACK_MIX, cls, cls.new_params(params))
    raise UsageError(f"--mix must be auto, on or off, not {mix!r}")


def preset_stack(stack_id: int, preset: int) -> StackSpec:
    """The stack of a published preset (stack_params.PRESETS), e.g. the model-free stack of --mix auto."""
    return stack_from_header(stack_id, sp.dump_params(sp.from_preset(stack_id, preset, {})))


def stack_from_header(stack_id: int, blob: bytes) -> StackSpec:
    """The stack a stream records; its parameters are type- and range-checked first (FormatError)."""
    params = sp.check_params(stack_id, sp.parse_params(blob) if blob else {})
    if stack_id == STACK_MODEL_ONLY:
        if params:
            raise FormatError("the model-only stack takes no parameters")
        return StackSpec("model", STACK_MODEL_ONLY, ModelOnly)
    if stack_id == STACK_MIX:
        return StackSpec("mix", STACK_MIX, _mix_class(), params)
    raise FormatError(f"unknown predictor stack id {stack_id}")


def frame_stack(stream: StackSpec, frame, cache: dict) -> StackSpec:
    """The stack a modeled frame is coded with: its own (frame type 03: ``frame.stack_id`` and its
    checked parameters) or the stream's; `cache` keeps the specs already built."""
    if getattr(frame, "stack_id", None) is None:
        return stream
    key = (frame.stack_id, frame.stack_params)
    if key not in cache:
        cache[key] = stack_from_header(*key)
    return cache[key]


def encode_frame(model: ByteModel, stack: PredictorStack, raw: bytes, plan: FramePlan,
                 progress: Progress = None) -> list[bytes]:
    """Code a frame of `raw` bytes cut as `plan`; returns each lane's coded bytes.

    `progress(n)` is called with the bytes coded since its last call (about every 64 steps)."""
    lens, T, C = plan.lens, plan.steps, int(model.chunk)
    M = plan.lane_matrix(raw)  # [L, T]; the input at step t is the byte t-1 (virtual 0 first)
    enc = Encoder(plan.lanes, capacity=min(T, 1 << 16) // 2 + 16)
    if getattr(stack, "compiled_steps", False):  # no model, nothing per byte outside compiled code
        for t0 in range(0, T, STEP_RUN):
            stack.encode_steps(M, lens, min(T, t0 + STEP_RUN), enc)
            if progress:
                progress(int(np.minimum(lens, t0 + STEP_RUN).sum() - np.minimum(lens, t0).sum()))
        return enc.finish()
    use_model = stack.use_model  # False: a stack that ignores the model (it is not run)
    # a stack that takes the model's raw scores turns them into frequencies itself (same integers)
    raw_scores = use_model and getattr(stack, "takes_scores", False)
    # ... or their cum_of, made in the model's thread (the stack's share of the work shrinks)
    cum_of = stack.cum_of if raw_scores and getattr(stack, "takes_cum", False) else None
    if cum_of is not None and getattr(stack, "compiled_encode", False) and getattr(stack, "fused", False):
        # a run of steps per compiled call, from a block of the model's cum_of
        return _encode_runs(model, stack, M, lens, T, C, plan, enc, cum_of, progress)
    prepare = None if cum_of is None else (lambda sc: [cum_of(sc[:, j]) for j in range(sc.shape[1])])
    steps = _model_ahead(model, M, T, C, plan.lanes, prepare) if use_model else None
    try:
        done = 0
        for t0 in range(0, T, C):
            if use_model:
                scores = next(steps)
            for j in range(min(C, T - t0)):
                t = t0 + j
                active = lens > t
                if cum_of is not None:
                    stack.encode_cum(scores[j], M[:, t], active, enc)
                elif raw_scores:
                    stack.encode_scores(scores[:, j], M[:, t], active, enc)
                else:
                    stack.encode_step(scores_to_freqs(scores[:, j]) if use_model else None, M[:, t], active, enc)
            if progress and (t0 // C) % max(1, 64 // C) == 0:
                done = _report(progress, lens, t0 + C, done)
        if progress:
            progress(plan.size - done)
    finally:
        if steps is not None:
            steps.close()  # stops the model thread at once on an error or interrupt
    return enc.finish()


RUN_BYTES = 4 << 20  # the model's cum_of handed over per compiled run of the encoder: at most about this


def _cum_block(cum_of, scores: np.ndarray) -> np.ndarray:
    """cum_of of every step of scores [L, n, 256]: int64 [n, L, 257] (step-major, as encode_steps reads)."""
    L, n = scores.shape[0], scores.shape[1]
    return cum_of(scores.transpose(1, 0, 2).reshape(n * L, 256)).reshape(n, L, 257)


def _encode_runs(model, stack, M, lens, T, C, plan, enc, cum_of, progress) -> list[bytes]:
    """encode_frame for a stack with ``compiled_encode``: the model's thread runs `run` steps ahead and
    hands over their cum_of as one block; the stack codes them in one compiled call (the same bits as
    step by step: tests/test_stack_fast.py)."""
    run = max(C, RUN_BYTES // (plan.lanes * 257 * 8) // C * C)
    blocks = _model_ahead(model, M, T, C, plan.lanes, lambda sc: _cum_block(cum_of, sc), run=run)
    try:
        done = 0
        for t0 in range(0, T, run):
            t1 = min(T, t0 + run)
            stack.encode_steps(M, lens, t1, enc, cums=next(blocks)[: t1 - t0])
            if progress:
                done = _report(progress, lens, t1, done)
        if progress:
            progress(plan.size - done)
    finally:
        blocks.close()
    return enc.finish()


PIPELINE = True  # run the model in a thread while the stack codes: the encoder always (model ahead), the
# decoder with lane groups and more than one core (_decode_groups; on one core the thread only costs:
# the model's whole-frame step gives the same scores); parallel workers: off
AHEAD = 4  # model steps (or runs: _encode_runs) computed ahead at most (memory: AHEAD x lanes x chunk x 256
# int32, or AHEAD x RUN_BYTES of cum_of)


def _model_ahead(model: ByteModel, M: np.ndarray, T: int, C: int, lanes: int, prepare=None, run: int = 0):
    """The model's scores for steps 0, C, 2C, ... of the lane matrix M, in order (`prepare(scores)`
    instead where given, computed in the thread: work on the scores alone); `run` (a multiple of C):
    the scores of `run` steps at a time instead, [lanes, run, 256] (fewer at the end). The encoder knows
    every input byte in advance, so with ``PIPELINE`` a thread runs the model up to ``AHEAD`` steps
    ahead of the stack (onnxruntime and the stack's compiled kernels release the GIL: on two cores
    the model and the stack overlap). The scores are the same either way: the stack sees the same
    inputs in the same order."""
    X = model_inputs(M, -(-T // C) * C)
    run = run or C

    def steps(state):  # (scores of steps t0 .. t0 + run, state) for t0 = 0, run, 2 run, ...
        for r0 in range(0, T, run):
            got = []
            for t0 in range(r0, min(T, r0 + run), C):
                scores, state = model.step(X[:, t0: t0 + C], state)
                got.append(scores)
            yield (got[0] if len(got) == 1 else np.concatenate(got, axis=1)), state

    if not PIPELINE or T <= run:
        for scores, _ in steps(model.initial_state(lanes)):
            yield scores if prepare is None else prepare(scores)
        return
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for scores, _ in steps(model.initial_state(lanes)):
                if not put((scores if prepare is None else prepare(scores), None)):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            put((None, e))

    th = threading.Thread(target=work, name="lmz-model-ahead", daemon=True)
    th.start()
    try:
        for _ in range(0, T, run):
            scores, err = q.get()
            if err is not None:
                raise err
            yield scores
    finally:  # the consumer finished, failed or was interrupted: release the thread
        stop.set()
        th.join()


def decode_frame(model: ByteModel, stack: PredictorStack, coded: list[bytes], plan: FramePlan,
                 progress: Progress = None, report_every: int = 64) -> list[bytes]:
    """Decode the lanes of `plan` from their coded bytes (one model step per byte)."""
    lanes = plan.lanes
    if lanes == 0:
        return []
    if int(model.chunk) != 1:
        raise ModelError(f"decoding needs the one-step graph of the model (chunk 1, got {model.chunk})")
    lens, T = plan.lens, plan.steps
    dec = Decoder(coded)
    state = model.initial_state(lanes)
    out = np.zeros((lanes, T), dtype=np.uint8)
    x = np.zeros((lanes, 1), dtype=np.int64)
    use_model = stack.use_model
    if getattr(stack, "compiled_steps", False):
        for t0 in range(0, T, STEP_RUN):
            stack.decode_steps(out, lens, min(T, t0 + STEP_RUN), dec)
            if progress:
                progress(int(np.minimum(lens, t0 + STEP_RUN).sum() - np.minimum(lens, t0).sum()))
        return [out[i, : lens[i]].tobytes() for i in range(lanes)]
    raw_scores = use_model and getattr(stack, "takes_scores", False)
    groups = getattr(stack, "lane_groups", None)
    if raw_scores and PIPELINE and groups is not None and len(groups) > 1 and T > 1 and _cores() > 1:
        _decode_groups(model, stack, dec, plan, out, groups, progress, report_every)
        return [out[i, : lens[i]].tobytes() for i in range(lanes)]
    one_call = raw_scores and getattr(stack, "decodes_model_steps", False)  # (dec: the numpy Decoder)
    done = 0
    for t in range(T):
        if use_model:
            scores, state = model.step(x, state)
        if one_call:  # writes the step's bytes into out[:, t]
            stack.decode_model_step(out, lens, scores[:, 0], dec)
        elif raw_scores:
            out[:, t] = stack.decode_scores(scores[:, 0], lens > t, dec)
        else:
            out[:, t] = stack.decode_step(scores_to_freqs(scores[:, 0]) if use_model else None, lens > t, dec)
        x = out[:, t : t + 1].astype(np.int64)
        if progress and (t + 1) % report_every == 0:
            done = _report(progress, lens, t + 1, done)
    if progress:
        progress(int(lens.sum()) - done)
    return [out[i, : lens[i]].tobytes() for i in range(lanes)]


def _report(progress, lens: np.ndarray, t: int, done: int) -> int:
    """Report the lanes' bytes of steps up to t not reported yet (`done` so far); the new total."""
    now = int(np.minimum(lens, t).sum())
    progress(now - done)
    return now


def _cores() -> int:
    from .parallel import cores  # (parallel imports this module)

    return cores()


def _decode_groups(model: ByteModel, stack, dec: Decoder, plan: FramePlan, out: np.ndarray, groups,
                   progress: Progress, report_every: int) -> None:
    """decode_frame for a stack that decodes in lane groups (MixStack ``groups``): a thread runs the
    model per group, one step ahead. Group g's bytes of step t are known once the stack has decoded
    that group, so the model's step t + 1 for group g runs while the stack decodes the other groups
    (onnxruntime and the stack's kernels release the GIL: on two cores they overlap). The model is
    exact per lane (a lane's scores do not depend on the other lanes of the batch), so the scores
    are those of the whole-frame step: the same bits as decoding without the thread."""
    import queue
    import threading

    lens, T = plan.lens, plan.steps
    jobs: queue.Queue = queue.Queue()  # (group, step inputs [n, 1]) in coding order; None: stop
    results: queue.Queue = queue.Queue()  # (scores [n, 256] or their cum_of, error): one step per group waits
    cum_of = stack.cum_of if getattr(stack, "takes_cum", False) else None  # made in the thread too
    stop = threading.Event()

    def run() -> None:
        try:
            states = [model.initial_state(hi - lo) for lo, hi in groups]
            while not stop.is_set():
                job = jobs.get()
                if job is None:
                    return
                g, x = job
                scores, states[g] = model.step(x, states[g])
                results.put((scores[:, 0] if cum_of is None else cum_of(scores[:, 0]), None))
        except BaseException as e:  # handed to the decoder, raised there
            results.put((None, e))

    def get():
        while True:
            try:
                scores, err = results.get(timeout=0.1)
            except queue.Empty:
                if not th.is_alive():  # pragma: no cover - the thread always reports before it ends
                    raise RuntimeError("the model thread ended without a result") from None
                continue
            if err is not None:
                raise err
            return scores

    th = threading.Thread(target=run, name="lmz-model-groups", daemon=True)
    th.start()
    try:
        for g, (lo, hi) in enumerate(groups):  # step 0: the virtual 0 byte
            jobs.put((g, np.zeros((hi - lo, 1), dtype=np.int64)))
        done = 0
        for t in range(T):
            stack.decode_begin(lens > t)
            for g, (lo, hi) in enumerate(groups):
                syms = stack.decode_group(g, dec, get()) if cum_of is None else stack.decode_group(g, dec, cum=get())
                out[lo:hi, t] = syms
                if t + 1 < T:  # the model's next step for this group, while the stack decodes the others
                    jobs.put((g, np.asarray(syms, dtype=np.int64).reshape(hi - lo, 1)))
            stack.decode_end()
            if progress and (t + 1) % report_every == 0:
                done = _report(progress, lens, t + 1, done)
        if progress:
            progress(int(lens.sum()) - done)
    finally:  # done, failed or interrupted: release the thread
        stop.set()
        jobs.put(None)
        th.join()
