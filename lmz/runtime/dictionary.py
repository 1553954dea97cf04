"""Dictionaries: the predictor stack primed on the user's own data, for small independent records.

    d = lmz.train_dictionary(samples)                     # samples: records of the user's data
    open("events.lmzd", "wb").write(d.to_bytes())
    blobs = lmz.compress_records(recs, dictionary=d)      # each record on its own, from the primed state
    lmz.decompress_record(blobs[0], dictionary=lmz.Dictionary.load("events.lmzd"))

What zstd's dictionary is to zstd. A dictionary holds a prime text P (up to a few MiB, pieces of the
training data) and the parameters of a model-free mix stack (lmz/runtime/stack: context statistics,
bit histories, match model, mixer, APM). Priming codes P through that stack once (encoder and decoder
alike: integer arithmetic, the same state on every CPU); every record is then coded as the
continuation of P from a copy of the primed state, and the state goes back to the primed one before
the next record. So a record's statistics start from everything P taught the stack and still adapt
within the record (a frozen primed state measured far worse: docs/bench/records.md), and no record
depends on another.

The file (docs/FORMAT.md, "Dictionary file"): ``LMZD``, version, the stack's parameters (the
container's checked JSON), the prime, a CRC-32; every field is checked before use.
"""
from __future__ import annotations

import copy
import hashlib
import os
import struct
import threading
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

import numpy as np

from .coder import Decoder, Encoder
from .container import Reader, varint
from .errors import CorruptError, FormatError, MemoryLimitError, TruncatedError, UsageError
from .stack_params import STACK_MIX

MAGIC = b"LMZD"
VERSION = 1
# prime bytes: 2 MiB coded records 3-8% smaller than 1 MiB on the development records (priming takes
# twice as long: about 10-15 s per MiB on one core here, once per process)
DEFAULT_SIZE = 2 << 20
MAX_PRIME = 64 << 20
MAX_PARAMS = 1 << 16
PIECE = 4096  # a prime is cut from the samples in pieces this long, evenly spread
PRIME_RUN = 1 << 16  # steps per compiled call while priming
# The stack of new dictionaries: the text mix without the model, plus orders 5 and 8, four sparse
# contexts (the byte 2 back, 3 back, 3-4 back, 2-3 back) and the column contexts (the same field of
# the previous line). Chosen on the training splits of docs/bench/records.md (the last 256 KiB of each
# held out as development records): on 2048-byte records the sparse contexts gave -6% on the CSV,
# the column contexts -19% on the CSV and -7% on the JSON lines.
PARAMS = dict(use_model=False, mixer2=1, orders=(0, 1, 2, 3, 4, 5, 6, 8), sparse=(2, 4, 12, 6), columns=1)


def _stack_spec(params: dict):
    from .loop import make_stack

    return make_stack("on", **params)


class Dictionary:
    """A prime text and the stack parameters it primes; ``primed()`` builds (once) the primed stack."""

    def __init__(self, prime: bytes, params: dict | None = None):
        from .loop import stack_from_header

        prime = bytes(prime)
        if not 1 <= len(prime) <= MAX_PRIME:
            raise UsageError(f"a dictionary's prime must hold 1..{MAX_PRIME} bytes, not {len(prime)}")
        spec = _stack_spec(PARAMS if params is None else params)
        self.spec = stack_from_header(STACK_MIX, spec.blob)  # the checked, complete parameters
        check_spec(self.spec)
        self.prime = prime
        self._primed = None
        self._local, self._lock = threading.local(), threading.Lock()

    # -- the file --------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        blob = self.spec.blob
        body = MAGIC + bytes([VERSION]) + varint(len(blob)) + blob + varint(len(self.prime)) + self.prime
        return body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Dictionary":
        from .loop import stack_from_header

        data = bytes(data)
        if data[:4] != MAGIC:
            raise FormatError("not an lmz dictionary (no LMZD magic)")
        r = Reader(data)
        try:
            r.read(4, "magic")
            v = r.u8("dictionary version")
            if v != VERSION:
                raise FormatError(f"dictionary version {v} is not supported (this lmz reads version {VERSION})")
            n = r.varint("parameters length")
            if not 2 <= n <= MAX_PARAMS or r.offset + n > len(data):
                raise CorruptError(f"corrupt dictionary: parameters of {n} bytes")
            blob = r.read(n, "parameters")
            m = r.varint("prime length")
            if not 1 <= m <= MAX_PRIME or r.offset + m + 4 != len(data):
                raise CorruptError(f"corrupt dictionary: a prime of {m} bytes in a file of {len(data)}")
            prime = r.read(m, "prime")
            crc = struct.unpack("<I", r.read(4, "checksum"))[0]
        except TruncatedError:
            raise TruncatedError("truncated dictionary") from None
        if zlib.crc32(data[:-4]) != crc:
            raise CorruptError("corrupt dictionary: checksum mismatch")
        d = cls.__new__(cls)
        d.spec = stack_from_header(STACK_MIX, blob)
        check_spec(d.spec)
        d.prime, d._primed, d._local, d._lock = prime, None, threading.local(), threading.Lock()
        return d

    @classmethod
    def load(cls, path) -> "Dictionary":
        with open(path, "rb") as f:
            return cls.from_bytes(f.read(MAX_PRIME + MAX_PARAMS + 64))

    @property
    def fingerprint(self) -> str:
        """sha256 of the file's bytes, hex (records files record its first 16 digits)."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    # -- priming and coding ----------------------------------------------------------------
    def cache_file(self) -> Path | None:
        """Where the primed state is cached (None: the cache is off)."""
        return _cache_file(self.fingerprint)

    def primed(self):
        """The stack after coding the prime (one lane; built on first use, then kept)."""
        with self._lock:
            return self._prime()

    def _prime(self):
        if self._primed is None:
            n = len(self.prime)
            st = self.spec.cls(1, **self.spec.params)
            st.act = np.ones(1, dtype=bool)
            cache = _cache_file(self.fingerprint)
            if not (cache and _load_state(cache, st, n)):
                M = np.frombuffer(self.prime, dtype=np.uint8).reshape(1, n)
                lens = np.array([n], dtype=np.int64)
                for t0 in range(0, n, PRIME_RUN):  # the coder's output is dropped: only the state counts
                    st.encode_steps(M, lens, min(n, t0 + PRIME_RUN), Encoder(1, capacity=16 * PRIME_RUN + 64))
                if cache:
                    _save_state(cache, st)
            self._primed = st
        return self._primed

    def _fresh(self, n: int):
        """The primed state in this thread's working stack (copied over its last record's: no
        allocation), ready to code n bytes after the prime; and the lane's length."""
        src = self.primed()
        loc = self._local  # one working stack per thread
        if getattr(loc, "work", None) is None:
            loc.work = copy.deepcopy(src)
            loc.pairs = _state_pairs(loc.work, src)
        for dst, a in loc.pairs:
            np.copyto(dst, a)
        st = loc.work
        for k, v in vars(src).items():
            if isinstance(v, (int, float, str, bool, type(None))):
                setattr(st, k, v)
        st.t = len(self.prime)
        return st, np.array([len(self.prime) + n], dtype=np.int64)

    def encode(self, rec: bytes) -> bytes:
        """One record's coded bytes (the coder's stream of its bytes after the prime)."""
        if not rec:
            return b""
        st, lens = self._fresh(len(rec))
        M = np.zeros((1, int(lens[0])), dtype=np.uint8)
        M[0, len(self.prime):] = np.frombuffer(rec, dtype=np.uint8)
        enc = Encoder(1, capacity=2 * len(rec) + 64)
        st.encode_steps(M, lens, int(lens[0]), enc)
        return enc.finish()[0]

    def decode(self, coded: bytes, n: int) -> bytes:
        """The n bytes of a record from its coded bytes (the caller bounds n)."""
        if n == 0:
            return b""
        st, lens = self._fresh(n)
        out = np.zeros((1, int(lens[0])), dtype=np.uint8)
        st.decode_steps(out, lens, int(lens[0]), Decoder([coded]))
        return out[0, len(self.prime):].tobytes()


    def encode_many(self, recs: list[bytes], threads: int = 1) -> list[bytes]:
        """encode() of every record, on `threads` threads (the compiled stack releases the GIL; each
        thread keeps a working copy of the primed state, about 60 MB with the default stack)."""
        return self._map(self.encode, [(r,) for r in recs], threads)

    def decode_many(self, items: list[tuple[bytes, int]], threads: int = 1) -> list[bytes]:
        """decode() of every (coded, n), on `threads` threads."""
        return self._map(self.decode, items, threads)

    def _map(self, fn, args: list[tuple], threads: int) -> list[bytes]:
        if threads <= 1 or len(args) < 2:
            return [fn(*a) for a in args]
        self.primed()
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lmz-dict") as ex:
            return list(ex.map(lambda a: fn(*a), args))


def _state_pairs(work, src) -> list[tuple[np.ndarray, np.ndarray]]:
    """(working array, primed array) for every array of the stack's state, each once (tuples of
    arrays share members with attributes), less the update's scratch tables that every decision
    leaves as it found them (``first`` all -1, ``acnt`` all 0: 13 MB that need no copy) and the
    constant lookup tables."""
    skip = {id(src.first), id(src.acnt)} | {id(a) for a in src.tabs}
    pairs, seen = [], set()
    for k, v in vars(src).items():
        w = getattr(work, k)
        items = [(w, v)] if isinstance(v, np.ndarray) else list(zip(w, v)) if isinstance(v, tuple) else []
        for a, b in items:
            if isinstance(b, np.ndarray) and id(b) not in skip and id(b) not in seen:
                seen.add(id(b))
                pairs.append((a, b))
    return pairs


# -- the primed-state cache ----------------------------------------------------------------------
# Priming takes 10-15 s per MiB of prime; the state it reaches (about 60 MB of tables) is kept in
# $LMZ_CACHE_DIR (default $XDG_CACHE_HOME/lmz or ~/.cache/lmz; LMZ_CACHE_DIR="" turns it off), one
# file per dictionary named by its fingerprint, with a sha256 of its arrays checked on every load.
# A file that fails any check is ignored (the stack is primed again); one that cannot be written
# (a read-only home) is simply not written.
def _cache_file(fingerprint: str) -> Path | None:
    d = os.environ.get("LMZ_CACHE_DIR")
    if d == "":
        return None
    if d is None:
        d = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "lmz")
    return Path(d) / f"dict-{fingerprint[:32]}.npz"


def _digest(arrays, t: int) -> np.ndarray:
    h = hashlib.sha256(struct.pack("<Q", t))
    for a in arrays:
        h.update(np.ascontiguousarray(a).view(np.uint8).reshape(-1))
    return np.frombuffer(h.digest(), dtype=np.uint8)


def _save_state(path: Path, st) -> None:
    arrays = [b for _, b in _state_pairs(st, st)]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, t=np.array([st.t]), digest=_digest(arrays, st.t), **{f"a{i}": a for i, a in enumerate(arrays)})
        os.replace(tmp, path)
    except OSError:
        pass


def _load_state(path: Path, st, n: int) -> bool:
    """Fill the fresh stack `st` from the cache file if it holds exactly its arrays after `n` bytes."""
    pairs = _state_pairs(st, st)
    try:
        with np.load(path, allow_pickle=False) as z:
            if set(z.files) != {"t", "digest"} | {f"a{i}" for i in range(len(pairs))} or z["t"].tolist() != [n]:
                return False
            got = [z[f"a{i}"] for i in range(len(pairs))]
            if any(g.shape != b.shape or g.dtype != b.dtype for g, (_, b) in zip(got, pairs)):
                return False
            if not np.array_equal(_digest(got, n), z["digest"]):
                return False
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return False
    for g, (a, _) in zip(got, pairs):
        np.copyto(a, g)
    st.t = n
    return True


def check_spec(spec) -> None:
    """A dictionary's stack codes text statistics alone (parameters absent from a stream default to
    the stack's DEFAULTS, as when it is built), and its state, held twice (the primed stack and a
    working copy), fits the decoders' default memory limit: checked before anything is allocated."""
    from .api import DEFAULT_MEMORY_LIMIT
    from .stack_params import stack_memory

    p = dict(spec.cls.DEFAULTS)
    p.update(spec.params)
    if p["use_model"] or p["img_w"] or p["pcm"] or p["x86"]:
        raise FormatError("a dictionary's stack must be model-free text statistics (no model, image, PCM or x86)")
    need = 2 * stack_memory(STACK_MIX, p, 1)
    if need > DEFAULT_MEMORY_LIMIT:
        raise MemoryLimitError(f"a dictionary whose stack needs {need >> 20} MiB (at most {DEFAULT_MEMORY_LIMIT >> 20} MiB)")


def train_dictionary(samples: Iterable[bytes], size: int = DEFAULT_SIZE, params: dict | None = None) -> Dictionary:
    """A dictionary primed on `samples` (the user's records or files): all of them if they hold at most
    `size` bytes, else ``size // 4096`` pieces of 4 KiB spread evenly over their concatenation. The
    prime ends with a newline (added if missing), so that a record starts at a line start for the
    column contexts."""
    if not 1 <= size <= MAX_PRIME:
        raise UsageError(f"dictionary size must be in 1..{MAX_PRIME}")
    data = b"".join(bytes(s) for s in samples)
    if not data:
        raise UsageError("no training data for the dictionary")
    if len(data) > size:
        k = max(1, size // PIECE)
        step = len(data) // k
        data = b"".join(data[i * step: i * step + PIECE] for i in range(k))[:size - 1]
    if not data.endswith(b"\n"):
        data += b"\n"
    return Dictionary(data, params)


__all__ = ["Dictionary", "train_dictionary", "DEFAULT_SIZE"]
