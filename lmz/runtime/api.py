"""The public API: one-shot compress()/decompress(), streaming Compressor/Decompressor, read_header().

    import lmz
    blob = lmz.compress(b"hello", model="text")
    assert lmz.decompress(blob) == b"hello"
    lmz.Compressor(model="text").copy_stream(open("in", "rb"), open("in.lmz", "wb"))

Memory: a stream is processed one frame (``frame_size`` bytes, default 4 MiB) at a time, so the
peak memory is a small multiple of the frame size plus the model, whatever the input size.
Every deliberate error is an :class:`~lmz.runtime.errors.LmzError`.
"""
from __future__ import annotations

import io
import os
import zlib
from pathlib import Path
from typing import BinaryIO, Callable

from . import blocks, images, model_store, parallel, pcm, segments, x86
from . import container as ct
from . import stack_params as sp
from .container import Header, Reader
from .errors import (
    ChecksumError,
    CorruptError,
    FormatError,
    LmzIOError,
    MemoryLimitError,
    ModelMismatchError,
    UsageError,
)
from .lanes import FRAME_SIZE, MAX_LANES, FramePlan, choose_lanes
from .loop import StackSpec, decode_frame, encode_frame, frame_stack, make_stack, preset_stack, stack_from_header
from .protocols import ByteModel

__all__ = ["compress", "decompress", "Compressor", "Decompressor", "read_header", "Header", "resolve_model",
           "load_model", "scan", "DEFAULT_MODEL"]  # the errors: lmz.runtime.errors (and lmz)

DEFAULT_MODEL = model_store.DEFAULT_MODEL
DEFAULT_MEMORY_LIMIT = 1 << 30  # bytes a decoder may need (well inside a 2 GB edge box)
Progress = Callable[[int], None] | None


# -- models -----------------------------------------------------------------------------------
# Lookup lives in model_store (search path: $LMZ_MODEL_PATH, the per-user directory, the shipped models).
def models_dir() -> Path:
    """The shipped models: package data of ``lmz.models``."""
    return model_store.shipped_dir()


def available_models() -> list[str]:
    """Names of the models on the search path."""
    return model_store.available()


def resolve_model(model: str | os.PathLike | None) -> Path:
    """NAME -> the first NAME.onnx on the search path; a PATH only when written as one (a separator or
    an .onnx suffix): a file called NAME in the working directory is not a model."""
    return model_store.resolve(model)


_CACHE: dict = {}


def load_model(model=None, provider: str = "auto", *, path: Path | None = None,
               threads: int = parallel.ORT_THREADS):
    """A model object (returned as is) or NAME/PATH -> ByteModel (cached per file and provider).
    The weights are checked against the model's fingerprint when it is loaded. `threads`:
    onnxruntime's intra-op threads (default 1: measured faster than more for these small per-byte
    steps, docs/bench/parallel.md; 0: onnxruntime's default, one per physical core)."""
    if isinstance(model, ByteModel):
        return model
    from .session import OnnxByteModel  # onnxruntime is imported only when a model is really needed

    p = (path or resolve_model(model)).resolve()
    st = p.stat()
    key = (str(p), provider, st.st_size, st.st_mtime_ns, st.st_ino, threads)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = OnnxByteModel(p, provider=provider, threads=threads)
    return _CACHE[key]


def _model_name(m: ByteModel) -> str:
    return Path(m.info.path).stem


# -- headers ----------------------------------------------------------------------------------
def read_header(src) -> Header:
    """The header of an lmz stream: bytes, a path, or a binary file object (read from its position)."""
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            return ct.read_header(f)
    return ct.read_header(src)


class _Prefixed:
    """`head`, then the rest of the file `f` (what was read to look at the input's start)."""

    def __init__(self, head: bytes, f: BinaryIO):
        self.head, self.f = memoryview(head), f

    def read(self, n: int) -> bytes:
        if self.head:
            b, self.head = bytes(self.head[:n]), self.head[n:]
            return b
        return self.f.read(n)


def _scaled(progress: Progress, num: int, den: int) -> Progress:
    """`progress` fed num/den of every count (the expanded data of deflate segments against the original)."""
    if progress is None or den <= 0:
        return progress
    seen = shown = 0

    def cb(n: int) -> None:
        nonlocal seen, shown
        seen += n
        now = seen * num // den
        if now > shown:
            progress(now - shown)
            shown = now
    return cb


def _read_full(f: BinaryIO, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


# -- compression ------------------------------------------------------------------------------
class _Workers:
    """Owns the worker processes of ``threads > 1``: ``close()`` or a ``with`` block stops them."""

    _pool = None

    def close(self) -> None:
        """Stop the worker processes (with threads > 1); a later call starts them again."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_OWN = object()  # Compressor._code: report progress to the Compressor's own callback


def _transform(raw: bytes, params: dict) -> bytes:
    """The bytes a frame's stack codes: `raw` after the stack's transform (x86 or pcm), if any."""
    if params.get("x86"):
        return x86.encode(raw)
    if params.get("pcm"):
        return pcm.encode(raw, params["pcm"])
    return raw


def _untransform(data: bytes, params: dict) -> bytes:
    """The inverse of :func:`_transform` on a decoded frame (CorruptError if its range does not fit)."""
    if params.get("x86"):
        return x86.decode(data)
    if params.get("pcm"):
        _check_pcm(params["pcm"], len(data))
        return pcm.decode(data, params["pcm"])
    return data


def _check_pcm(rng, size: int) -> None:
    try:
        pcm.check(rng, size)
    except ValueError as e:
        raise CorruptError(f"corrupt stream: {e}") from None


class Compressor(_Workers):
    """Compresses streams frame by frame. `model` is a NAME, a PATH or a loaded model object."""

    def __init__(self, model=DEFAULT_MODEL, provider: str = "auto", lanes: int | None = None, mix="auto",
                 frame_size: int = FRAME_SIZE, min_lane: int | None = None, max_lanes: int | None = None,
                 progress: Progress = None, mix_params: dict | None = None, lane_size: int | None = None,
                 index: bool = False, threads: int = 1, ort_threads: int | None = None, recompress: bool = True):
        """`index`: write a seek index after the end marker (header flag bit 2; docs/FORMAT.md), so that
        :func:`lmz.open` finds every frame from the last bytes of the file (without it, lmz.open scans
        the frame headers). `threads`: code frames in this many worker processes (0: one per core;
        the output is the same for every value); `ort_threads`: onnxruntime's intra-op threads in this
        process and each worker (None: 1, measured fastest; 0: onnxruntime's default). `lane_size`: cut every frame into lanes of exactly this many bytes (the paper's independent
        2048-byte chunks: ``lane_size=2048``); a frame's remainder (< lane_size bytes) becomes a frame
        of its own with one lane. Overrides `lanes`/`min_lane`/`max_lanes`. The stream format is
        unchanged: this only chooses how frames and lanes are cut. `mix`: "auto" (default: per frame,
        the model with the mix, the mix alone or stored; runtime/blocks.py), "on" (the model with the
        mix for every frame), "off" (the model alone). `recompress`: with mix="auto", no index and no
        lane_size, a gzip, zip, PNG or baseline JPEG input is coded as the data it holds (inflated bytes, PNG
        pixels, JPEG coefficients) wherever lmz reproduces the original from it (runtime/segments.py); False:
        its bytes as they are."""
        if not 1 <= frame_size <= ct.MAX_FRAME_LIMIT:
            raise UsageError(f"frame size must be in 1..{ct.MAX_FRAME_LIMIT}")
        if lane_size is not None and not 1 <= lane_size <= frame_size:
            raise UsageError(f"lane size must be in 1..{frame_size} (the frame size)")
        self.model = load_model(model, provider, threads=parallel.worker_ort_threads(1, ort_threads))
        self.index = bool(index)
        self.threads = parallel.resolve_threads(threads)
        self._pool = None
        self._recipe = dict(model=parallel.model_ref(self.model), provider=provider, lanes=lanes, mix=mix,
                            frame_size=frame_size, min_lane=min_lane, max_lanes=max_lanes, mix_params=mix_params,
                            lane_size=lane_size, ort_threads=parallel.worker_ort_threads(self.threads, ort_threads))
        # mix="auto" (the general-purpose default): the stream's stack is the mix with the model, and
        # each frame may instead be stored or coded without the model (runtime/blocks.py)
        self.auto = mix == "auto"
        if self.auto:
            mix = "on"
            self.plain = preset_stack(sp.STACK_MIX, sp.PRESET_PLAIN)
            self.binary = preset_stack(sp.STACK_MIX, sp.PRESET_BINARY)
            self.x86 = preset_stack(sp.STACK_MIX, sp.PRESET_X86)
            self.pcm = preset_stack(sp.STACK_MIX, sp.PRESET_PCM)
            self.raster = preset_stack(sp.STACK_MIX, sp.PRESET_RASTER)
            # a text model is not tried on binary blocks (image, audio and users' models are)
            meta = getattr(getattr(self.model, "info", None), "meta", None) or {}
            self.text_model = meta.get("lmz.kind", _model_name(self.model).split("-")[0]) == "text"
        # mix parameters: the model's own (lmz-export --mix-params), then the caller's
        info = getattr(self.model, "info", None)
        model_mix = info.mix_params if info is not None and mix in ("on", "mix", True) else {}
        self.stack = make_stack(mix, **{**model_mix, **(mix_params or {})})
        # shortest lane: the stack's own (mix: 1 KiB, model only: 4 KiB) unless given
        self.min_lane = min_lane if min_lane is not None else self.stack.min_lane
        self.max_lanes = max_lanes if max_lanes is not None else self.stack.max_lanes
        self.lanes, self.frame_size = lanes, frame_size
        self.lane_size = lane_size
        self.progress = progress
        self.recompress = bool(recompress) and self.auto and not self.index and lane_size is None

    def header(self, content_size: int | None = None, table: segments.Table | None = None) -> Header:
        return Header(self.model.info.fingerprint, _model_name(self.model), self.stack.stack_id,
                      self.stack.blob, self.frame_size, content_size, index=self.index, segments=table)

    def frame(self, raw: bytes, offset: int = 0) -> bytes:
        """The coded frame(s) of `raw`, the input's bytes from position `offset` on."""
        return b"".join(c for c, _ in self.frame_list(raw, offset))

    def frame_list(self, raw: bytes, offset: int = 0, image: list | None = None) -> list[tuple[bytes, int]]:
        """The frames of `raw` (one, or several with `lane_size`): (coded frame, its raw length) each.
        `image`: the raster geometry of a frame that continues an image begun in an earlier frame."""
        if self.lane_size is not None:
            return self._frames_fixed_lanes(raw, offset)
        return [(self._frame(raw, choose_lanes(len(raw), self.lanes, self.min_lane, self.max_lanes), offset, image),
                 len(raw))]

    def _frames_fixed_lanes(self, raw: bytes, offset: int) -> list[tuple[bytes, int]]:
        ls = self.lane_size
        per = ls * min(MAX_LANES, max(1, len(raw) // ls))
        out = []
        for s in range(0, len(raw), per):
            part = raw[s: s + per]
            full = len(part) // ls * ls
            if full:  # fixed lanes are the paper's regime: always the stream's stack (no block decisions)
                out.append((self._code(part[:full], full // ls, offset + s, self.stack), full))
            if full < len(part):
                out.append((self._code(part[full:], 1, offset + s + full, self.stack), len(part) - full))
        return out

    def _frame(self, raw: bytes, lanes: int, offset: int, image: list | None = None) -> bytes:
        if not self.auto:
            return self._code(raw, lanes, offset, self.stack)
        # progress: only a coding of the whole block reports as it goes (a block larger than the
        # sample is coded whole once, but for the rare fallback); samples and small blocks, coded
        # several ways, report once at the end
        done = 0

        def report(n: int) -> None:
            nonlocal done
            done += n
            self.progress(n)

        def prog(b: bytes):
            return report if self.progress and len(b) == len(raw) > blocks.SAMPLE else None

        def own(spec):  # a coder with a stack recorded in its frames (type 03), lanes from its preset
            return lambda b, o: self._code(b, choose_lanes(len(b), None, spec.min_lane, spec.max_lanes), o, spec,
                                           True, prog(b))

        def with_params(preset, **params):  # a coder with a preset's stack and the block's own params
            return own(StackSpec(preset.name, preset.stack_id, preset.cls, dict(preset.params, **params)))

        def audio(b, o, rng):  # 16-bit PCM: preset 7 with the block's sample range
            return with_params(self.pcm, pcm=rng)(b, o)

        def raster(b, o, geo):  # a raster image: preset 11 with its geometry
            return with_params(self.raster, raster=geo)(b, o)

        out = blocks.choose_frame(
            raw, offset,
            lambda b, o: self._code(b, choose_lanes(len(b), self.lanes, self.min_lane, self.max_lanes), o, self.stack,
                                    False, prog(b)),
            own(self.plain), own(self.binary), own(self.x86), text_model=self.text_model, pcm16=audio, raster=raster,
            geometry=image)
        if self.progress and done < len(raw):
            self.progress(len(raw) - done)
        return out

    def _code(self, raw: bytes, lanes: int, offset: int, spec, own: bool = False, progress=_OWN) -> bytes:
        """One frame coded with `spec` (`own`: recorded in the frame, type 03), or stored if smaller.
        `progress`: the Compressor's unless given (a block decision passes its own, or None)."""
        plan = FramePlan.cut(offset, len(raw), lanes)
        data = _transform(raw, spec.params)  # the stack codes the transformed bytes
        coded = encode_frame(self.model, spec.make(plan), data, plan, self.progress if progress is _OWN else progress)
        frame = ct.pack_frame(data, plan, coded, store_lanes=spec.independent_lanes,
                              stack=(spec.stack_id, spec.params) if own else None)
        return ct.pack_frame(raw, None, None) if data is not raw and frame[0] == ct.FRAME_STORED else frame

    def copy_stream(self, ifh: BinaryIO, ofh: BinaryIO, size: int | None = None) -> tuple[int, int]:
        """Read `ifh` to its end, write the compressed stream to `ofh`; returns (read, written).

        `size`, when known, is recorded in the header and checked."""
        table, ifh, size, original = self._segments(ifh, size) if self.recompress else (None, ifh, size, None)
        progress = self.progress
        if table is not None:  # the frames code the expanded data; the header records the original's size
            self.progress = _scaled(progress, table.size, table.expanded)
        try:
            if table is not None and table.size <= SEGMENTS_COMPARED:
                return self._smaller_of(ifh, original, ofh, table)
            return self._copy_frames(ifh, ofh, size, table)
        finally:
            self.progress = progress

    def _smaller_of(self, expanded: BinaryIO, original: bytes, ofh: BinaryIO, table) -> tuple[int, int]:
        """A small input with a segment table is coded both ways, expanded and as it is, and the smaller
        stream written: a table and the expanded data's cold start can cost more than they gain."""
        a, b = io.BytesIO(), io.BytesIO()
        self._copy_frames(expanded, a, None, table)
        self.progress = None
        self._copy_frames(io.BytesIO(original), b, table.size, None)
        best = min(a.getvalue(), b.getvalue(), key=len)
        return table.size, write_all(ofh, best)

    def _segments(self, ifh: BinaryIO, size: int | None):
        """(segment table or None, the stream to code, its size, the input's bytes when there is a
        table): a gzip, zip, PNG or JPEG input of at most MAX_INPUT bytes is read whole and split into
        raw and deflate (or JPEG) segments."""
        head = _read_full(ifh, 8)
        if not segments.may_hold_segments(head):
            return None, _Prefixed(head, ifh), size, None
        data = head + _read_full(ifh, segments.MAX_INPUT + 1 - len(head))
        if len(data) > segments.MAX_INPUT:
            return None, _Prefixed(data, ifh), size, None
        if size is not None and size != len(data):
            raise UsageError(f"input changed while compressing: expected {size} bytes, read {len(data)}")
        got = segments.split(data)
        if got is None:
            return None, io.BytesIO(data), size, None
        table, expanded = got
        return table, io.BytesIO(expanded), None, data

    def _copy_frames(self, ifh: BinaryIO, ofh: BinaryIO, size: int | None, table) -> tuple[int, int]:
        written = write_all(ofh, self.header(table.size if table else size, table).pack())
        total, crc, index = 0, 0, []
        frames = images.Frames()  # an image larger than a frame: its geometry for the later frames

        def chunks():
            nonlocal total, crc
            while True:
                raw = _read_full(ifh, self.frame_size)
                if not raw:
                    return
                yield raw, total, frames.image(raw, total) if self.auto else None
                total += len(raw)
                crc = zlib.crc32(raw, crc)

        if self.threads > 1:
            pool = self._get_pool()
            coded = parallel.ordered(pool, ((parallel.compress_task, item) for item in chunks()), self.threads)
        else:
            coded = (self.frame_list(*item) for item in chunks())
        for parts in coded:
            for c, n in parts:
                written += write_all(ofh, c)
                index.append((len(c), n))
                if self.progress and self.threads > 1:
                    self.progress(n)
        if size is not None and size != total:
            raise UsageError(f"input changed while compressing: expected {size} bytes, read {total}")
        written += write_all(ofh, ct.pack_end(total, crc))
        if self.index:
            written += write_all(ofh, ct.pack_index(index))
        return (table.size if table else total), written

    def _get_pool(self):
        if self._pool is None or self._pool.dead:
            self._pool = parallel.Pool(self.threads, parallel.init_compressor, (self._recipe,))
        return self._pool

    def compress(self, data: bytes) -> bytes:
        out = io.BytesIO()
        self.copy_stream(io.BytesIO(data), out, len(data))
        return out.getvalue()


SEGMENTS_COMPARED = 64 << 10  # inputs up to this size with a segment table are also coded without it


def compress(data: bytes, model=DEFAULT_MODEL, provider: str = "auto", lanes: int | None = None, mix="auto",
             **kw) -> bytes:
    """One-shot compression of `data`; the header records the size."""
    return Compressor(model, provider, lanes, mix, **kw).compress(bytes(data))


# -- decompression ----------------------------------------------------------------------------
class Decompressor(_Workers):
    """Decompresses lmz streams. `model`: None (the name recorded in the stream), NAME, PATH or object."""

    def __init__(self, model=None, provider: str = "auto", progress: Progress = None,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT, threads: int = 1, ort_threads: int | None = None):
        """`memory_limit`: refuse (before any work) a stream whose frames and predictor stack would
        need more bytes than this to decode (zstd's --memory); the need is computed from the header
        and each frame's lane count. `threads`: decode frames in this many worker processes (0: one
        per core); `ort_threads`: onnxruntime's intra-op threads in this process and each worker (None: 1, measured
        fastest; 0: onnxruntime's default)."""
        self.model_arg, self.provider, self.progress = model, provider, progress
        self.memory_limit = int(memory_limit)
        self.threads = parallel.resolve_threads(threads)
        self.ort_threads = parallel.worker_ort_threads(self.threads, ort_threads)
        self._pool = None

    def _check_memory(self, spec, lanes: int, frame_bytes: int, rebuild: int = 0) -> None:
        """`spec`: the stream's StackSpec (its parameters already parsed and checked once); `rebuild`:
        what deflate segments hold (segments.Table.memory)."""
        need = sp.stack_memory(spec.stack_id, spec.params, lanes) + sp.frame_memory(frame_bytes) + rebuild
        if need > self.memory_limit:
            extra = f", {rebuild >> 20} MiB to deflate a segment again" if rebuild else ""
            raise MemoryLimitError(f"decoding this stream needs about {need >> 20} MiB (frames of up to "
                                   f"{frame_bytes:,} bytes, {lanes} lanes, the {spec.name} stack's tables{extra}), "
                                   f"above the limit of {self.memory_limit >> 20} MiB; raise it with --memory")

    def _model_for(self, h: Header):
        arg = self.model_arg
        if arg is None:
            # the name recorded in the stream is only a name (never a path), and a model with the
            # recorded fingerprint is found on the search path even under another name
            m = load_model(None, self.provider, path=model_store.resolve_for_stream(h.model_name, h.fingerprint),
                           threads=self.ort_threads)
        else:
            m = load_model(arg, self.provider, threads=self.ort_threads)
        if not ct.fingerprint_matches(h.fingerprint, m.info.fingerprint):
            shown = h.model_name if model_store.valid_name(h.model_name) else "(invalid name)"
            raise ModelMismatchError(
                f"model mismatch: the stream was made with {shown!r} (fingerprint {h.fingerprint[:16]}), "
                f"but {_model_name(m)!r} has fingerprint {m.info.fingerprint[:16]}; pass --model with the right one")
        return m

    def frames(self, ifh: BinaryIO):
        """Yield the decompressed frames of the stream in `ifh`, checking everything."""
        r = Reader(ifh)
        h = ct.read_header(r)
        stack = stack_from_header(h.stack_id, h.stack_params)
        table = h.segments
        if table is None:
            self._check_memory(stack, 1, min(h.max_frame, h.content_size if h.content_size is not None else h.max_frame))
        else:
            self._check_memory(stack, 1, h.max_frame, table.memory())
        model = self._model_for(h)
        progress = self.progress
        if table is not None:  # progress counts original bytes
            self.progress = _scaled(progress, table.size, table.expanded)
        try:
            yield from self._frames(r, h, stack, model)
        finally:
            self.progress = progress

    def _frames(self, r: Reader, h: Header, stack, model):
        table = h.segments
        rebuild = segments.Rebuilder(table) if table is not None else None
        rebuild_memory = table.memory() if table is not None else 0  # held while the frames decode
        index, end, own = [], [], {}

        def jobs():  # (None, raw) for a stored frame, (task, args) for a modeled one
            offset = 0
            while True:
                f = ct.read_frame(r, h)
                if f.kind == ct.FRAME_END:
                    end.append(f)
                    return
                index.append((f.size, f.raw_len))
                if f.kind == ct.FRAME_STORED:
                    yield None, f.raw
                else:
                    self._check_memory(frame_stack(stack, f, own), sum(1 for s in f.lane_stored if not s), f.raw_len,
                                       rebuild_memory)
                    sid, blob = (h.stack_id, h.stack_params) if f.stack_id is None else (f.stack_id, f.stack_params)
                    yield parallel.decode_task, (ref, sid, blob, f, offset)
                offset += f.raw_len

        if self.threads > 1:
            if self._pool is None or self._pool.dead:
                self._pool = parallel.Pool(self.threads, parallel.init_decompressor, (self.ort_threads,))
            ref = parallel.model_ref(model)
            results = parallel.ordered(self._pool, jobs(), self.threads)
        else:
            ref = None
            results = (self._decode_frame(model, frame_stack(stack, args[3], own), args[3], args[4]) if fn
                       else self._stored(args) for fn, args in jobs())
        total, crc = 0, 0
        for raw in results:
            if self.progress and self.threads > 1:
                self.progress(len(raw))
            total += len(raw)
            crc = zlib.crc32(raw, crc)
            if rebuild is None:
                yield raw
            else:
                yield from rebuild.feed(raw)
        f = end[0]
        if f.total != total:
            raise CorruptError(f"corrupt stream: end marker says {f.total} bytes, frames hold {total}")
        if table is None and h.content_size is not None and h.content_size != total:
            raise CorruptError(f"corrupt stream: header says {h.content_size} bytes, frames hold {total}")
        if f.crc != crc:
            raise ChecksumError("checksum mismatch: the decompressed data is not the original")
        if rebuild is not None:
            yield from rebuild.finish()
        if h.index:
            ct.read_index(r, index)

    def _stored(self, raw: bytes) -> bytes:
        if self.progress:
            self.progress(len(raw))
        return raw

    def _decode_frame(self, model, spec, f, offset: int) -> bytes:
        sel = [i for i, s in enumerate(f.lane_stored) if not s]
        if not spec.independent_lanes and len(sel) != len(f.lane_stored):
            raise CorruptError(f"corrupt stream: stored lanes in a frame of the {spec.name!r} stack")
        lanes = list(f.lane_payload)
        if self.progress:
            self.progress(int(sum(f.lane_lens[i] for i, s in enumerate(f.lane_stored) if s)))
        plan = FramePlan(offset, f.lane_lens).select(sel)
        try:
            stack = spec.make(plan)
        except (TypeError, ValueError) as e:
            raise FormatError(f"corrupt predictor stack parameters ({e})") from None
        if spec.params.get("pcm"):  # the sample range must lie in the frame (checked before decoding)
            _check_pcm(spec.params["pcm"], int(sum(f.lane_lens)))
        dec = decode_frame(model, stack, [f.lane_payload[i] for i in sel], plan, self.progress)
        for i, d in zip(sel, dec):
            if ct.lane_check(d) != f.lane_checks[i]:
                raise ChecksumError(f"checksum mismatch in lane {i}: corrupt data or a different model/runtime")
            lanes[i] = d
        return _untransform(b"".join(lanes), spec.params)

    def copy_stream(self, ifh: BinaryIO, ofh: BinaryIO) -> tuple[int, int]:
        """Decompress `ifh` into `ofh`; returns (compressed bytes read, bytes written).

        Concatenated streams (``cat a.lmz b.lmz``) decompress to the concatenation of their
        contents, as with gzip, xz and zstd; anything after an end marker that is not another lmz
        stream is a FormatError."""
        written = 0
        counter = _Counting(ifh)
        while True:
            for raw in self.frames(counter):
                written += write_all(ofh, raw)
            nxt = counter.peek(len(ct.MAGIC))
            if not nxt:
                return counter.n, written
            if nxt != ct.MAGIC:
                raise FormatError(f"trailing data after the end of the lmz stream (at byte {counter.n}): "
                                  "not another lmz stream")

    def decompress(self, data: bytes) -> bytes:
        out = io.BytesIO()
        self.copy_stream(io.BytesIO(data), out)
        return out.getvalue()


class _Counting:
    """Counts what is read, and can look ahead without consuming."""

    def __init__(self, f):
        self.f, self.n, self._ahead = f, 0, b""

    def peek(self, n: int) -> bytes:
        while len(self._ahead) < n:
            b = self.f.read(n - len(self._ahead))
            if not b:
                break
            self._ahead += b
        return self._ahead[:n]

    def read(self, n=-1):
        if self._ahead:
            if n is None or n < 0:
                b, self._ahead = self._ahead + self.f.read(), b""
            else:
                b, self._ahead = self._ahead[:n], self._ahead[n:]
        else:
            b = self.f.read(n)
        self.n += len(b)
        return b


def write_all(f, data) -> int:
    """Write all of `data` to `f`: a raw (unbuffered) file may take only part of a write, and the
    rest must be written again; a failing write is an LmzIOError. Returns len(data)."""
    mv = memoryview(data).cast("B")
    off, n = 0, len(mv)
    while off < n:
        try:
            w = f.write(mv[off:])
        except BlockingIOError as e:  # a buffered non-blocking file: part of it went out
            w = e.characters_written
            _wait_writable(f)
        except OSError as e:
            raise LmzIOError(f"write error: {e.strerror or e}") from None
        if w is None:
            if not isinstance(f, io.RawIOBase):
                return n  # a Python file-like object that returns nothing from write()
            _wait_writable(f)  # a raw non-blocking file that took nothing
            continue
        if w <= 0 and off < n:
            raise LmzIOError(f"write error: no progress after {off} of {n} bytes")
        off += w
    return n


def _wait_writable(f) -> None:
    import select

    try:
        select.select([], [f], [])
    except (OSError, ValueError, TypeError):
        pass


def decompress(data: bytes, model=None, provider: str = "auto") -> bytes:
    """One-shot decompression; `model` defaults to the model named in the stream."""
    return Decompressor(model, provider).decompress(bytes(data))


# -- inspection -------------------------------------------------------------------------------
def scan(src) -> dict:
    """Walk the frames of a stream without decoding: header, sizes (``size``: the original's,
    ``coded_size``: what the frames hold, more than ``size`` with deflate segments), frame and lane
    counts, and each frame's (type, preset of its own stack or None) in ``frame_kinds``."""
    opened = isinstance(src, (str, os.PathLike))
    f = open(src, "rb") if opened else (io.BytesIO(src) if isinstance(src, (bytes, bytearray)) else src)
    try:
        r = Reader(f)
        h = ct.read_header(r)
        lanes = 0
        kinds: list[tuple[int, int | None]] = []
        own: dict[str, int] = {}  # frames with their own stack (type 03): "stack preset N" -> count
        while True:
            fr = ct.read_frame(r, h, payload=False)
            if fr.kind == ct.FRAME_END:
                break
            kinds.append((fr.kind, fr.preset))
            if fr.kind != ct.FRAME_STORED:
                lanes += len(fr.lane_stored)
            if fr.stack_id is not None:
                key = f"{ct.STACK_NAMES[fr.stack_id]} preset {fr.preset}"
                own[key] = own.get(key, 0) + 1
        table = h.segments  # with deflate segments: the original's size and CRC; the frames hold more
        return {"header": h, "compressed": r.offset, "size": table.size if table else fr.total,
                "crc32": table.crc if table else fr.crc, "coded_size": fr.total, "frames": len(kinds),
                "stored_frames": sum(k == ct.FRAME_STORED for k, _ in kinds), "lanes": lanes,
                "frame_kinds": kinds, "own_stack_frames": own}
    finally:
        if opened:
            f.close()
