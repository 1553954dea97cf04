"""Random access to lmz files: ``lmz.open(path)`` is a seekable, read-only binary file of the original
bytes that decodes only the frames a read needs; ``lmz.open(path, "wb")`` writes a stream.

    with lmz.open("big.txt.lmz") as f:
        f.seek(-4096, io.SEEK_END)
        tail = f.read()                       # decodes the last frame (or two) only

The frames are located from the seek index at the end of the file (written with
``Compressor(index=True)`` / ``lmz-run --seekable``) when the file is one stream that has one;
otherwise (an older file, one made without an index, concatenated streams) by a scan of the
frame headers that skips their data (one small read per frame plus its lane table). Every frame
read is checked (lane checks; stored frames have none); the whole-stream CRC-32 is checked only by
a sequential decompression (``lmz-run -t``), since random access never sees every byte.
"""
from __future__ import annotations

import bisect
import builtins
import io
import os
import struct
import zlib
from dataclasses import dataclass

from . import container as ct
from . import images
from .container import Header, Reader
from .errors import CorruptError, FormatError, UsageError
from .loop import frame_stack


@dataclass
class _Frame:
    start: int  # offset in the original bytes (of the whole file: concatenated streams follow each other)
    raw_len: int
    pos: int  # where the frame starts in the file
    size: int  # its bytes in the file
    stream_offset: int  # offset of its first byte within its own stream (the stack's image contexts use it)
    stream: int  # which stream (index into LmzReader.headers)


def _file_size(f) -> int:
    here = f.tell()
    n = f.seek(0, io.SEEK_END)
    f.seek(here)
    return n


def locate_frames(f, size: int) -> tuple[list[Header], list[_Frame]]:
    """The headers and frames of the lmz file `f` (seekable, `size` bytes)."""
    fast = _from_index(f, size)
    return fast if fast is not None else _scan(f, size)


def _from_index(f, size: int):
    """From the trailing seek index, when the file is exactly one stream with an index; else None."""
    if size < ct.INDEX_TAIL + 16:
        return None
    f.seek(size - ct.INDEX_TAIL)
    m, tag = struct.unpack("<I4s", f.read(ct.INDEX_TAIL))
    if tag != ct.INDEX_MAGIC or m > size - ct.INDEX_TAIL:
        return None
    f.seek(0)
    h = ct.read_header(Reader(f))
    if not h.index:
        return None
    f.seek(size - ct.INDEX_TAIL - m)
    entries = ct.parse_index(f.read(m), h.max_frame)
    total = sum(n for _, n in entries)
    end_len = len(ct.pack_end(total, 0))
    if h.size + sum(c for c, _ in entries) + end_len + m + ct.INDEX_TAIL != size:
        return None  # concatenated streams, or not this stream's index: scan
    r = Reader.at(f, size - ct.INDEX_TAIL - m - end_len, size)
    end = ct.read_frame(r, h)
    if end.kind != ct.FRAME_END or end.total != total:
        raise CorruptError("corrupt stream: the seek index does not match the end marker")
    frames, pos, off = [], h.size, 0
    for c, n in entries:
        frames.append(_Frame(off, n, pos, c, off, 0))
        pos += c
        off += n
    return [h], frames


def _scan(f, size: int):
    headers, frames, pos, start = [], [], 0, 0
    while pos < size:
        r = Reader.at(f, pos, size)
        h = ct.read_header(r)  # FormatError if what follows an end marker is not another stream
        headers.append(h)
        index, off = [], 0
        while True:
            fr = ct.read_frame(r, h, payload=False)
            if fr.kind == ct.FRAME_END:
                if fr.total != off:
                    raise CorruptError(f"corrupt stream: end marker says {fr.total} bytes, frames hold {off}")
                break
            frames.append(_Frame(start + off, fr.raw_len, r.offset - fr.size, fr.size, off, len(headers) - 1))
            index.append((fr.size, fr.raw_len))
            off += fr.raw_len
        if h.index:
            ct.read_index(r, index)
        start += off
        pos = r.offset
    if not headers:
        raise FormatError("not an lmz stream (empty file)")
    return headers, frames


class LmzReader(io.BufferedIOBase):
    """A read-only, seekable binary file of an lmz file's original bytes (see the module doc)."""

    def __init__(self, file, model=None, provider: str = "auto", memory_limit: int | None = None):
        from .api import DEFAULT_MEMORY_LIMIT, Decompressor

        self._own = isinstance(file, (str, bytes, os.PathLike))
        self._f = builtins.open(file, "rb") if self._own else file
        try:
            if not self._f.seekable():
                raise UsageError("lmz.open needs a seekable file (decompress a pipe with lmz.Decompressor)")
            self.name = getattr(self._f, "name", None)
            self.headers, self._frames = locate_frames(self._f, _file_size(self._f))
            if any(h.segments is not None for h in self.headers):
                raise UsageError("this lmz file holds deflate segments (a gzip, zip or PNG file coded as the data it holds): "
                                 "its original bytes exist only whole, so lmz.open and --range cannot read parts "
                                 "of it; decompress it whole (lmz.decompress, lmz-run -d), or compress it with "
                                 "--seekable or --no-recompress")
        except BaseException:
            if self._own:
                self._f.close()
            raise
        self._starts = [fr.start for fr in self._frames]
        self.size = self._frames[-1].start + self._frames[-1].raw_len if self._frames else 0
        self._dec = Decompressor(model, provider, memory_limit=memory_limit or DEFAULT_MEMORY_LIMIT)
        self._models: dict = {}
        self._own_stacks: dict = {}  # the stacks of frames that name their own (type 03)
        self._pos = 0
        self._cached = (-1, b"")  # the last decoded frame: (frame number, bytes)

    # -- io.BufferedIOBase ------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}.get(whence)
        if base is None:
            raise ValueError(f"invalid whence ({whence})")
        pos = base + offset
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        end = self.size if size is None or size < 0 else min(self.size, self._pos + size)
        parts = []
        while self._pos < end:
            i = bisect.bisect_right(self._starts, self._pos) - 1
            data = self._frame_bytes(i)
            lo = self._pos - self._frames[i].start
            piece = data[lo: lo + end - self._pos]
            parts.append(piece)
            self._pos += len(piece)
        return b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, b) -> int:
        mv = memoryview(b).cast("B")
        data = self.read(len(mv))
        mv[: len(data)] = data
        return len(data)

    readinto1 = readinto

    def close(self) -> None:
        if not self.closed and self._own:
            self._f.close()
        self._cached = (-1, b"")
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    # -- frames -------------------------------------------------------------------------------------
    def _frame_bytes(self, i: int) -> bytes:
        if self._cached[0] == i:
            return self._cached[1]
        fr = self._frames[i]
        h = self.headers[fr.stream]
        r = Reader.at(self._f, fr.pos, fr.pos + fr.size)
        f = ct.read_frame(r, h)
        if f.kind == ct.FRAME_END or f.size != fr.size or f.raw_len != fr.raw_len:
            raise CorruptError(f"corrupt stream: the frame at byte {fr.pos} does not match the seek index")
        if f.kind == ct.FRAME_STORED:
            data = f.raw
        else:
            model, spec = self._model(fr.stream)
            spec = frame_stack(spec, f, self._own_stacks)
            self._dec._check_memory(spec, sum(1 for s in f.lane_stored if not s), f.raw_len)
            data = self._dec._decode_frame(model, spec, f, fr.stream_offset)
        self._cached = (i, data)
        return data

    def _model(self, stream: int):
        if stream not in self._models:
            from .loop import stack_from_header

            h = self.headers[stream]
            self._models[stream] = (self._dec._model_for(h), stack_from_header(h.stack_id, h.stack_params))
        return self._models[stream]

    @property
    def frame_count(self) -> int:
        return len(self._frames)


class LmzWriter(io.BufferedIOBase):
    """A write-only binary file that compresses what is written, one frame at a time; close()
    writes the end marker (and the seek index)."""

    def __init__(self, file, model=None, index: bool = True, **kw):
        from .api import DEFAULT_MODEL, Compressor

        self._c = Compressor(model or DEFAULT_MODEL, index=index, **kw)
        self._own = isinstance(file, (str, bytes, os.PathLike))
        self._f = builtins.open(file, "wb") if self._own else file
        self.name = getattr(self._f, "name", None)
        self._buf = bytearray()
        self._total, self._crc, self._index = 0, 0, []
        self._frames = images.Frames()  # an image larger than a frame keeps its geometry
        self._write(self._c.header().pack())

    def writable(self) -> bool:
        return True

    def _write(self, b: bytes) -> None:
        from .api import write_all

        write_all(self._f, b)

    def write(self, b) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        mv = memoryview(b).cast("B")
        self._buf += mv
        fs = self._c.frame_size
        while len(self._buf) >= fs:
            self._emit(bytes(self._buf[:fs]))
            del self._buf[:fs]
        return len(mv)

    def _emit(self, raw: bytes) -> None:
        image = self._frames.image(raw, self._total) if self._c.auto else None
        for c, n in self._c.frame_list(raw, self._total, image):
            self._write(c)
            self._index.append((len(c), n))
        self._total += len(raw)
        self._crc = zlib.crc32(raw, self._crc)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._buf:
                self._emit(bytes(self._buf))
                self._buf = bytearray()
            self._write(ct.pack_end(self._total, self._crc))
            if self._c.index:
                self._write(ct.pack_index(self._index))
            self._f.flush()
        finally:
            if self._own:
                self._f.close()
            super().close()


def open(file, mode: str = "rb", *, model=None, provider: str = "auto", memory_limit: int | None = None,  # noqa: A001
         index: bool = True, **compressor_options):
    """An lmz file as a binary file object. ``"rb"``: a seekable reader of the original bytes (see
    :class:`LmzReader`); ``"wb"``: a writer that compresses (with a seek index unless
    ``index=False``; `compressor_options` go to :class:`lmz.Compressor`). `file`: a path or a binary
    file object (seekable for reading)."""
    m = mode.replace("b", "")
    if m == "r":
        if compressor_options:
            raise UsageError(f"lmz.open: options {sorted(compressor_options)} are for writing")
        return LmzReader(file, model, provider, memory_limit)
    if m in ("w", "x"):
        if m == "x" and isinstance(file, (str, bytes, os.PathLike)) and os.path.exists(file):
            raise FileExistsError(file)
        return LmzWriter(file, model, index=index, provider=provider, **compressor_options)
    raise UsageError(f"lmz.open: mode {mode!r} (use 'rb' or 'wb')")
