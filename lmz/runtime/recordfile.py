"""Records files: many independent records in one file, with an index for random access.

    with lmz.RecordsWriter("events.lmzr", model="mine", framing="lines") as w:
        w.write_many(lines)                       # batched: each record coded on its own
    with lmz.RecordsReader("events.lmzr") as r:
        len(r); r[41]                             # record 41: decodes that record only
        for rec in r: ...                         # all of them, batched, every check made

The layout (docs/FORMAT.md, "Records file"): a version-2 header with flag bit 3 (the model's name
and fingerprint travel once, there; stack 0, model only), a framing byte (how the records made up
the original input, so that extraction rebuilds it), per record ``varint b`` + its b-byte blob
(lmz/runtime/records.py: ``varint n``, ``u16`` check, coded bytes), the end marker (total record
bytes and the CRC-32 of the records' concatenation) and, with flag bit 2, the seek index whose
frames are the records. Every field is checked before it is used; a failure is an LmzError.
"""
from __future__ import annotations

import builtins
import io
import os
import struct
import zlib
from typing import Iterable, Iterator

import numpy as np

from . import container as ct
from .container import Header, Reader, varint
from .dictionary import check_spec
from .errors import CorruptError, FormatError, ModelMismatchError, TruncatedError, UsageError
from .loop import stack_from_header
from .records import MAX_RECORD, _parse, compress_records, decompress_records
from .stack_params import STACK_MIX, STACK_MODEL_ONLY

SUFFIX = ".lmzr"
# How the records made up the input: extraction writes them back the same way.
FRAMINGS = {"lines": 0, "u32": 1, "varint": 2, "files": 3}
FRAMING_NAMES = {v: k for k, v in FRAMINGS.items()}
MAX_NAMES = 1 << 26  # bytes of file names a records file may claim (framing "files")
MAX_NAME_BYTES = 4096
WRITE_BATCH = 4096  # records coded together (lanes of a few frames)
MIN_BLOB = 3  # varint n + u16 check


def blob_bound(max_record: int, stack_id: int = STACK_MODEL_ONLY) -> int:
    """The most bytes a record's blob may take: the model-only coder spends at most 16 bits on a
    byte (every frequency is at least 1/65536), the mix stack (a dictionary's) at most 16 bits on each
    of a byte's 8 decisions; plus the length, the check and the coder's flush."""
    return (2 if stack_id == STACK_MODEL_ONLY else 16) * max_record + 32


# -- framing ---------------------------------------------------------------------------------
def split_lines(f) -> Iterator[bytes]:
    """Lines of a binary file, each with its b'\\n' (the last one may lack it): joined, the input."""
    for line in f:
        if len(line) > MAX_RECORD:
            raise UsageError(f"a line of {len(line)} bytes: records are at most {MAX_RECORD} bytes")
        yield line


def split_prefixed(f, kind: str) -> Iterator[bytes]:
    """Records of a length-delimited file: each preceded by a u32 (little-endian) or a varint length."""
    r = Reader(f)
    while True:
        first = f.read(1)
        if not first:
            return
        try:
            if kind == "u32":
                n = struct.unpack("<I", first + r.read(3, "record length"))[0]
            else:
                n = first[0] & 0x7F
                shift, b = 7, first[0]
                while b & 0x80:
                    b = r.u8("record length")
                    n |= (b & 0x7F) << shift
                    shift += 7
                    if shift > 63:
                        raise UsageError("input: a record length is not a valid varint")
            if n > MAX_RECORD:
                raise UsageError(f"input: a record of {n} bytes (at most {MAX_RECORD})")
            yield r.read(n, "record")
        except TruncatedError:
            raise UsageError(f"input is not {kind}-length-delimited: it ends inside a record") from None


def join_prefixed(rec: bytes, framing: int) -> bytes:
    if framing == FRAMINGS["u32"]:
        return struct.pack("<I", len(rec)) + rec
    if framing == FRAMINGS["varint"]:
        return varint(len(rec)) + rec
    return rec


def check_name(name: str) -> str:
    """A relative file name a records file may carry: no absolute path, no '..', no empty part."""
    parts = name.split("/")
    if (not name or len(name.encode("utf-8")) > MAX_NAME_BYTES or name.startswith("/") or "\0" in name
            or "\\" in name or any(p in ("", ".", "..") for p in parts)):
        raise CorruptError(f"records file: refused file name {name[:80]!r} (not a plain relative path)")
    return name


def _pack_names(names: list[str]) -> bytes:
    return b"".join(check_name(n).encode("utf-8") + b"\0" for n in names)


def _parse_names(blob: bytes) -> list[str]:
    if not blob.endswith(b"\0"):
        raise CorruptError("records file: the file names do not end with a NUL")
    try:
        names = [check_name(n.decode("utf-8")) for n in blob[:-1].split(b"\0")]
    except UnicodeDecodeError:
        raise CorruptError("records file: a file name is not UTF-8") from None
    if len(set(names)) != len(names):
        raise CorruptError("records file: a file name appears twice")
    return names


# -- writing ---------------------------------------------------------------------------------
class RecordsWriter:
    """Writes a records file: ``write(rec)`` / ``write_many(recs)``, then ``close()`` (the end marker
    and the index). Records are coded `batch` at a time; memory holds one batch."""

    def __init__(self, file, model=None, framing: str = "lines", names: list[str] | None = None,
                 provider: str = "auto", index: bool = True, batch: int = WRITE_BATCH, max_record: int = MAX_RECORD,
                 dictionary=None, threads: int = 1):
        from .api import DEFAULT_MODEL, _model_name, load_model

        if framing not in FRAMINGS:
            raise UsageError(f"framing {framing!r}: one of {', '.join(FRAMINGS)}")
        if (framing == "files") != (names is not None):
            raise UsageError("framing 'files' takes the files' names (and only it does)")
        if not 1 <= max_record <= MAX_RECORD:
            raise UsageError(f"max_record must be in 1..{MAX_RECORD}")
        if dictionary is not None and model is not None:
            raise UsageError("records are coded with a model or with a dictionary, not both")
        self.dictionary, self.threads = dictionary, threads
        self.model = None if dictionary is not None else load_model(model or DEFAULT_MODEL, provider)
        self.framing, self.names, self.batch, self.max_record = FRAMINGS[framing], names, batch, max_record
        self._own = isinstance(file, (str, bytes, os.PathLike))
        self._f = builtins.open(file, "wb") if self._own else file
        self._buf: list[bytes] = []
        self._entries: list[tuple[int, int]] = []
        self._total, self._crc, self.closed = 0, 0, False
        if dictionary is not None:  # the dictionary's fingerprint and stack in place of a model's
            self.header = Header(dictionary.fingerprint, "", STACK_MIX, dictionary.spec.blob, max_record, None,
                                 index=index, records=True)
        else:
            self.header = Header(self.model.info.fingerprint, _model_name(self.model), STACK_MODEL_ONLY, b"",
                                 max_record, None, index=index, records=True)
        pre = bytes([self.framing])
        if names is not None:
            blob = _pack_names(names)
            if len(blob) > MAX_NAMES:
                raise UsageError(f"{len(names)} file names take {len(blob)} bytes (at most {MAX_NAMES})")
            pre += varint(len(blob)) + blob
        self._f.write(self.header.pack() + pre)

    def write(self, rec: bytes) -> None:
        if self.closed:
            raise ValueError("write to a closed RecordsWriter")
        if len(rec) > self.max_record:
            raise UsageError(f"a record of {len(rec)} bytes (this file's limit: {self.max_record})")
        self._buf.append(bytes(rec))
        if len(self._buf) >= self.batch:
            self._flush()

    def write_many(self, recs: Iterable[bytes]) -> None:
        for r in recs:
            self.write(r)

    def _flush(self) -> None:
        if not self._buf:
            return
        blobs = compress_records(self._buf, model=self.model, dictionary=self.dictionary, threads=self.threads)
        out = bytearray()
        for rec, blob in zip(self._buf, blobs):
            entry = varint(len(blob)) + blob
            out += entry
            self._entries.append((len(entry), len(rec)))
            self._total += len(rec)
            self._crc = zlib.crc32(rec, self._crc)
        self._f.write(bytes(out))
        self._buf = []

    @property
    def count(self) -> int:
        return len(self._entries) + len(self._buf)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._flush()
            if self.names is not None and len(self.names) != len(self._entries):
                raise UsageError(f"{len(self.names)} file names for {len(self._entries)} records")
            self._f.write(ct.pack_end(self._total, self._crc))
            if self.header.index:
                self._f.write(ct.pack_index(self._entries))
            self._f.flush()
        finally:
            self.closed = True
            if self._own:
                self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- reading ---------------------------------------------------------------------------------
def _read_preamble(r: Reader) -> tuple[int, list[str] | None]:
    framing = r.u8("records framing")
    if framing not in FRAMING_NAMES:
        raise FormatError(f"records file: unknown framing {framing} (written by a newer lmz?)")
    if framing != FRAMINGS["files"]:
        return framing, None
    m = r.varint("file names length")
    if not 2 <= m <= MAX_NAMES or (r.size is not None and r.offset + m > r.size):
        raise CorruptError(f"records file: file names of {m} bytes")
    return framing, _parse_names(r.read(m, "file names"))


def _check_header(h: Header) -> None:
    if h.stack_id == STACK_MIX:  # made with a dictionary: its stack's parameters, checked
        check_spec(stack_from_header(STACK_MIX, h.stack_params))
    elif h.stack_id != STACK_MODEL_ONLY or h.params:
        raise FormatError("records file: records are coded by the model alone (stack 0, no parameters) "
                          "or with a dictionary (stack 1)")
    if h.max_frame > MAX_RECORD:
        raise FormatError(f"records file: records of up to {h.max_frame} bytes (at most {MAX_RECORD})")


def _read_entry(r: Reader, h: Header) -> tuple[bytes, int] | None:
    """The next record's blob and its entry size, or None at the end marker (left unread)."""
    start = r.offset
    b = r.varint("record blob length")
    if b == 0:
        return None
    if not MIN_BLOB <= b <= blob_bound(h.max_frame, h.stack_id):
        raise CorruptError(f"records file: a record blob of {b} bytes at offset {start}")
    if r.size is not None and r.offset + b > r.size:
        raise TruncatedError(f"truncated records file: a record of {b} bytes at offset {start} overruns the file")
    blob = r.read(b, "record blob")
    if _parse(blob, h.stack_id)[0] > h.max_frame:
        raise CorruptError(f"records file: a record longer than the header's limit ({h.max_frame}) at offset {start}")
    return blob, r.offset - start


def _read_end(r: Reader) -> tuple[int, int]:
    """The end marker after the last record (its 00 byte already read)."""
    total = r.varint("end marker")
    crc = struct.unpack("<I", r.read(4, "end marker"))[0]
    return total, crc


def _coder_for(h: Header, model, provider: str, dictionary) -> dict:
    """The records functions' keyword for this file: its model (found and checked as a stream's) or
    the dictionary passed (checked against the file's fingerprint)."""
    from .api import Decompressor

    if h.stack_id != STACK_MIX:
        if dictionary is not None:
            raise UsageError("this records file was made with a model, not a dictionary")
        return {"model": Decompressor(model, provider)._model_for(h)}
    if dictionary is None:
        raise UsageError(f"this records file was made with a dictionary (fingerprint {h.fingerprint[:16]}): "
                         "pass it (--dict FILE)")
    if not ct.fingerprint_matches(h.fingerprint, dictionary.fingerprint):
        raise ModelMismatchError(f"dictionary mismatch: the file was made with fingerprint {h.fingerprint[:16]}, "
                                 f"the dictionary passed has {dictionary.fingerprint[:16]}")
    return {"dictionary": dictionary}


def iter_file(f, model=None, provider: str = "auto", batch: int = WRITE_BATCH, dictionary=None, threads: int = 1):
    """(header, framing, names, iterator of records) of a records file read in order from `f` (a pipe
    is fine): every record, the end marker's total and CRC-32 and the index are checked (the iterator
    raises at the first failure; no record is yielded before its batch decoded and checked)."""
    r = Reader(f)
    h = ct.read_header(r, records=True)
    _check_header(h)
    framing, names = _read_preamble(r)
    coder = _coder_for(h, model, provider, dictionary)
    if dictionary is not None:
        coder["threads"] = threads

    def records():
        entries, total, crc, buf = [], 0, 0, []

        def flush():
            nonlocal total, crc
            for rec in decompress_records(buf, **coder):
                total += len(rec)
                crc = zlib.crc32(rec, crc)
                yield rec

        while True:
            got = _read_entry(r, h)
            if got is None:
                break
            blob, size = got
            entries.append((size, _parse(blob, h.stack_id)[0]))
            buf.append(blob)
            if len(buf) >= batch:
                yield from flush()
                buf = []
        yield from flush()
        end_total, end_crc = _read_end(r)
        if end_total != total:
            raise CorruptError(f"records file: end marker says {end_total} bytes, the records hold {total}")
        if end_crc != crc:
            raise CorruptError("records file: checksum of the records' bytes does not match")
        if names is not None and len(names) != len(entries):
            raise CorruptError(f"records file: {len(names)} file names for {len(entries)} records")
        if h.index:
            ct.read_index(r, entries)
        if r.f.read(1):
            raise CorruptError("records file: data after its end")

    return h, framing, names, records()


class RecordsReader:
    """Random access to a records file: ``len(r)``, ``r[i]`` (decodes record i only), ``r.get(i, j)``
    (several, batched), ``iter(r)`` (all, in order, every check). The positions come from the seek
    index when there is a consistent one, else from a scan of the record lengths (no decoding)."""

    def __init__(self, file, model=None, provider: str = "auto", dictionary=None):
        self._own = isinstance(file, (str, bytes, os.PathLike))
        self._f = builtins.open(file, "rb") if self._own else file
        self.model_arg, self.provider, self.dictionary, self._coder = model, provider, dictionary, None
        try:
            if not self._f.seekable():
                raise UsageError("RecordsReader needs a seekable file (read a pipe with iter_file)")
            self.size = self._f.seek(0, io.SEEK_END)
            self._f.seek(0)
            r = Reader.at(self._f, 0, self.size)
            self.header = ct.read_header(r, records=True)
            _check_header(self.header)
            self.framing, self.names = _read_preamble(r)
            self._first = r.offset
            sizes = self._from_index() if self.header.index else None
            if sizes is None:
                sizes = self._scan()
            self._sizes = np.array([c for c, _ in sizes], dtype=np.int64)
            self.lengths = np.array([n for _, n in sizes], dtype=np.int64)
            self._pos = self._first + np.concatenate([[0], np.cumsum(self._sizes)[:-1]]).astype(np.int64) \
                if len(sizes) else np.zeros(0, np.int64)
            if self.names is not None and len(self.names) != len(sizes):
                raise CorruptError(f"records file: {len(self.names)} file names for {len(sizes)} records")
        except BaseException:
            if self._own:
                self._f.close()
            raise

    @property
    def coder(self) -> dict:
        """{"model": m} or {"dictionary": d}: loaded on first use, checked against the header's fingerprint."""
        if self._coder is None:
            self._coder = _coder_for(self.header, self.model_arg, self.provider, self.dictionary)
        return self._coder

    @property
    def model(self):
        """The model (None for a file made with a dictionary)."""
        return self.coder.get("model")

    @property
    def framing_name(self) -> str:
        return FRAMING_NAMES[self.framing]

    def _from_index(self):
        """The index's (entry size, record length) list when it describes this file exactly, else None."""
        size, tail = self.size, ct.INDEX_TAIL
        if size < self._first + 6 + tail + 1:
            return None
        self._f.seek(size - tail)
        m, tag = struct.unpack("<I4s", self._f.read(tail))
        if tag != ct.INDEX_MAGIC or m > size - tail - self._first:
            return None
        self._f.seek(size - tail - m)
        entries = ct.parse_index(self._f.read(m), self.header.max_frame, min_raw=0)
        total = sum(n for _, n in entries)
        end_len = len(ct.pack_end(total, 0))
        if self._first + sum(c for c, _ in entries) + end_len + m + tail != size:
            raise CorruptError("records file: the seek index does not add up to the file's size")
        if any(c < 1 + MIN_BLOB for c, _ in entries):
            raise CorruptError("records file: the seek index lists an entry too small for a record")
        r = Reader.at(self._f, size - tail - m - end_len, size)
        if r.u8("end marker") != ct.FRAME_END or _read_end(r)[0] != total:
            raise CorruptError("records file: the seek index does not match the end marker")
        return entries

    def _scan(self):
        r = Reader.at(self._f, self._first, self.size)
        out = []
        while True:
            start = r.offset
            b = r.varint("record blob length")
            if b == 0:
                break
            if not MIN_BLOB <= b <= blob_bound(self.header.max_frame, self.header.stack_id):
                raise CorruptError(f"records file: a record blob of {b} bytes at offset {start}")
            n = r.varint("record length")
            if n > self.header.max_frame:
                raise CorruptError(f"records file: a record of {n} bytes at offset {start}")
            r.skip(start + len(varint(b)) + b - r.offset, "record blob")
            out.append((r.offset - start, n))
        return out

    def __len__(self) -> int:
        return len(self._sizes)

    def _blob(self, i: int) -> bytes:
        self._f.seek(int(self._pos[i]))
        raw = self._f.read(int(self._sizes[i]))
        r = Reader(raw)
        try:
            b = r.varint("record blob length")
        except FormatError:
            raise CorruptError(f"records file: record {i} is cut or damaged") from None
        if r.offset + b != len(raw) or b < MIN_BLOB:
            raise CorruptError(f"records file: record {i} does not match the seek index")
        blob = raw[r.offset:]
        if _parse(blob, self.header.stack_id)[0] != self.lengths[i]:
            raise CorruptError(f"records file: record {i}'s length does not match the seek index")
        return blob

    def get(self, *indices: int) -> list[bytes]:
        """Records `indices` (each decoded alone, batched together), in the order asked."""
        n = len(self)
        for i in indices:
            if not -n <= i < n:
                raise UsageError(f"record {i}: the file has {n} records")
        idx = [i % n for i in indices]
        return decompress_records([self._blob(i) for i in idx], **self.coder)

    def __getitem__(self, i: int) -> bytes:
        return self.get(i)[0]

    def __iter__(self) -> Iterator[bytes]:
        self._f.seek(0)
        c = self.coder
        return iter_file(self._f, c.get("model"), self.provider, dictionary=c.get("dictionary"))[3]

    def close(self) -> None:
        if self._own and not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
