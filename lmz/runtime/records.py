"""Records: many small messages, each compressed on its own (the paper's independent chunks).

    blobs = lmz.compress_records([b"{...}", b"{...}"], model="text")   # list[bytes], same order
    lmz.decompress_record(blobs[0], model="text")                       # -> the first record
    lmz.decompress_records(blobs, model="text")                         # -> all of them, batched

Every record is one lane coded by the model alone from the model's zero state (no adaptive state
is shared, so any record decodes without the others). Records are batched into lanes of one
frame for throughput: grouped by length, so that the lanes of a batch end at about the same step.
The model's identity does not travel with a record: the caller names the model, as with a zstd
dictionary. With ``dictionary=`` (lmz/runtime/dictionary.py: a model-free mix stack primed on the
user's data) each record is instead coded from the primed state, one after the other, and the model
is not used. A record's blob (docs/FORMAT.md, Records) is ``varint n`` (its length), ``u16`` check
(the low 16 bits of its CRC-32), then the coder's bytes: 3 bytes of overhead under 128 bytes.
"""
from __future__ import annotations

import struct
import zlib
from typing import Iterable, Iterator

import numpy as np

from .container import RAW_PER_CODED, Reader, varint
from .errors import ChecksumError, CorruptError, FormatError, TruncatedError
from .lanes import FramePlan
from .loop import ModelOnly, decode_frame, encode_frame
from .stack_params import STACK_MIX, STACK_MODEL_ONLY

BATCH = 1024  # records per batch (lanes of one frame)
MAX_RECORD = 1 << 24  # a record blob may not claim more than 16 MiB


def _threads(n: int) -> int:
    from .parallel import resolve_threads

    return resolve_threads(n)


def _check(raw: bytes) -> int:
    return zlib.crc32(raw) & 0xFFFF


def _batches(lengths: list[int], batch: int) -> Iterator[list[int]]:
    """Indices of the non-empty records, shortest first, in batches of at most `batch` whose longest
    record is at most twice its shortest (lanes run in lockstep until the longest one ends)."""
    order = sorted((i for i, n in enumerate(lengths) if n), key=lambda i: lengths[i])
    cur: list[int] = []
    for i in order:
        if cur and (len(cur) == batch or lengths[i] > 2 * lengths[cur[0]] + 16):
            yield cur
            cur = []
        cur.append(i)
    if cur:
        yield cur


def compress_records(records: Iterable[bytes], model=None, provider: str = "auto", batch: int = BATCH,
                     dictionary=None, threads: int = 1) -> list[bytes]:
    """One independent blob per record, in order (an empty record gives a 3-byte blob). `threads`:
    with a dictionary, records are coded on that many threads (0: one per core)."""
    from .api import load_model

    recs = [bytes(r) for r in records]
    out: list[bytes] = [varint(len(r)) + struct.pack("<H", _check(r)) for r in recs]
    if dictionary is not None:
        return [o + c for o, c in zip(out, dictionary.encode_many(recs, _threads(threads)))]
    m = load_model(model, provider)
    for idx in _batches([len(r) for r in recs], batch):
        plan = FramePlan(0, np.array([len(recs[i]) for i in idx], dtype=np.int64))
        coded = encode_frame(m, ModelOnly(), b"".join(recs[i] for i in idx), plan)
        for i, c in zip(idx, coded):
            out[i] += c
    return out


def _parse(blob: bytes, stack_id: int = STACK_MODEL_ONLY) -> tuple[int, int, bytes]:
    r = Reader(bytes(blob))
    try:
        n = r.varint("record length")
        check = struct.unpack("<H", r.read(2, "record check"))[0]
    except TruncatedError:
        raise TruncatedError("truncated record (shorter than its length and check)") from None
    coded = bytes(blob[r.offset:])
    if n > MAX_RECORD:
        raise CorruptError(f"corrupt record: claims {n} bytes (at most {MAX_RECORD})")
    if n == 0 and coded:
        raise CorruptError("corrupt record: an empty record with coded bytes")
    if n and n > (len(coded) + 8) * RAW_PER_CODED[stack_id]:
        raise CorruptError(f"corrupt record: {n} bytes cannot come from {len(coded)} coded bytes")
    return n, check, coded


def decompress_records(blobs: Iterable[bytes], model=None, provider: str = "auto", batch: int = BATCH,
                       dictionary=None, threads: int = 1) -> list[bytes]:
    """The records of `blobs` (made by :func:`compress_records` with the same model or dictionary),
    in order."""
    if dictionary is not None:
        parsed = [_parse(b, STACK_MIX) for b in blobs]
        out = dictionary.decode_many([(c, n) for n, _, c in parsed], _threads(threads))
    else:
        parsed = [_parse(b) for b in blobs]
        out = _decode_batched(parsed, model, provider, batch)
    for i, (n, check, _) in enumerate(parsed):
        if _check(out[i]) != check:
            raise ChecksumError(f"record {i}: checksum mismatch (corrupt, or not made with this "
                                f"{'dictionary' if dictionary is not None else 'model'})")
    return out


def _decode_batched(parsed: list[tuple[int, int, bytes]], model, provider: str, batch: int) -> list[bytes]:
    """The model-coded records of `parsed`, decoded `batch` lanes at a time."""
    from .api import load_model

    m = load_model(model, provider)
    out = [b""] * len(parsed)
    for idx in _batches([p[0] for p in parsed], batch):
        plan = FramePlan(0, np.array([parsed[i][0] for i in idx], dtype=np.int64))
        dec = decode_frame(m, ModelOnly(), [parsed[i][2] for i in idx], plan)
        for i, d in zip(idx, dec):
            out[i] = d
    return out


def decompress_record(blob: bytes, model=None, provider: str = "auto", dictionary=None) -> bytes:
    """One record."""
    return decompress_records([blob], model, provider, dictionary=dictionary)[0]


def iter_decompress_records(blobs: Iterable[bytes], model=None, provider: str = "auto",
                            batch: int = BATCH, dictionary=None) -> Iterator[bytes]:
    """Records from an iterable of blobs, decoded `batch` at a time (bounded memory), in order."""
    buf: list[bytes] = []
    for b in blobs:
        buf.append(b)
        if len(buf) == batch:
            yield from decompress_records(buf, model, provider, batch, dictionary)
            buf = []
    if buf:
        yield from decompress_records(buf, model, provider, batch, dictionary)


__all__ = ["compress_records", "decompress_record", "decompress_records", "iter_decompress_records", "FormatError"]
