"""Frame-parallel coding (`-T N`): frames are coded or decoded in N worker processes and written in order.

Frames are independent given their input offset (the stack's tables start fresh in every frame), so
a worker needs only the frame's bytes and offset; the output is the same for every N. Each worker
opens the model once (the pool's initializer) with one onnxruntime intra-op thread unless told
otherwise (`worker_ort_threads`). At most about N frames are in flight
(`ordered`): memory stays bounded whatever the input size. Workers are started with `spawn`
(onnxruntime's and numba's threads do not survive a fork).
"""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .errors import LmzError, UsageError

_W: dict = {}  # in a worker: its Compressor / models / stacks


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(n) -> int:
    """-T N: 0 means one worker per core."""
    n = 1 if n is None else int(n)
    if n < 0:
        raise UsageError("threads must be >= 0 (0: one per core)")
    return cores() if n == 0 else n


# onnxruntime's intra-op threads per process unless given: 1. Measured (docs/bench/parallel.md) in
# one process and in each of 2 workers, 1 thread was 2-3x faster than 2 or onnxruntime's default:
# a model step is a few small ops per byte, and a thread pool's hand-offs cost more than they gain.
# Parallelism comes from the workers (-T), never from threads inside one session.
ORT_THREADS = 1


def worker_ort_threads(threads: int, ort_threads: int | None) -> int:
    """onnxruntime's intra-op threads per process: as given (0: onnxruntime's default), else
    ORT_THREADS, whatever the number of workers."""
    if ort_threads is not None:
        return int(ort_threads)
    return ORT_THREADS


def model_ref(model):
    """What a worker needs to open the same model: an ONNX file's path and provider, or a picklable
    model object (the tests' numpy fake) as it is."""
    from .session import OnnxByteModel  # no onnxruntime import: session imports it lazily

    if isinstance(model, OnnxByteModel):
        return ("onnx", str(model.info.path), model.provider)
    return ("object", model)


def open_ref(ref, ort_threads: int):
    from .api import load_model

    if ref[0] == "onnx":
        return load_model(ref[1], ref[2], threads=ort_threads)
    return ref[1]


class _Done:
    """A result that needs no worker (a stored frame), with a future's result()."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def cancel(self):
        return False


class Pool:
    def __init__(self, n: int, initializer, initargs):
        self.n, self.dead = n, False
        self.ex = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=initializer, initargs=initargs)

    def submit(self, fn, *args):
        return self.ex.submit(fn, *args)

    def close(self) -> None:
        if not self.dead:
            self.ex.shutdown(wait=True, cancel_futures=True)
        self.dead = True

    def kill(self) -> None:
        """Stop at once (an error, Ctrl-C, SIGTERM): a running frame is not waited for."""
        self.dead = True
        procs = list((getattr(self.ex, "_processes", None) or {}).values())  # private, but no public way
        self.ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(5)


def ordered(pool: Pool, jobs, window: int):
    """Yield the results of `jobs` ((fn, args) to run in a worker, or (None, value) already done) in
    order, with at most window + 1 of them submitted or held at a time."""
    q: deque = deque()
    try:
        for fn, args in jobs:
            q.append(_Done(args) if fn is None else pool.submit(fn, *args))
            while len(q) > window:
                yield _result(q.popleft())
        while q:
            yield _result(q.popleft())
    except BaseException:  # an error here or in the consumer, Ctrl-C, SIGTERM: stop the workers now
        pool.kill()
        raise


def _result(f):
    try:
        return f.result()
    except BrokenProcessPool as e:
        raise LmzError(f"a worker process died ({e}); try fewer threads (-T) or more memory") from None


# -- in the workers ----------------------------------------------------------------------------
def init_compressor(recipe: dict) -> None:
    from . import loop
    from .api import Compressor

    loop.PIPELINE = False  # one thread per worker: the workers already fill the cores

    r = dict(recipe)
    model = open_ref(r.pop("model"), r.pop("ort_threads"))
    _W["compressor"] = Compressor(model, **r)


def compress_task(raw: bytes, offset: int, image=None):
    return _W["compressor"].frame_list(raw, offset, image)


def init_decompressor(ort_threads: int) -> None:
    _W["ort_threads"] = ort_threads


def decode_task(ref, stack_id: int, stack_params: bytes, frame, offset: int) -> bytes:
    from .api import Decompressor
    from .loop import stack_from_header

    key = (stack_id, stack_params)
    if _W.get("stack_key") != key:
        _W["stack"], _W["stack_key"] = stack_from_header(stack_id, stack_params), key
    model = open_ref(ref, _W.get("ort_threads", 0))  # load_model caches the session
    return Decompressor()._decode_frame(model, _W["stack"], frame, offset)
