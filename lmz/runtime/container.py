"""The lmz container: a self-describing header, then frames, then an end marker.

The byte layout is specified in docs/FORMAT.md; this module is its only implementation.
Everything is little-endian; varints are unsigned LEB128 (at most 10 bytes).
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import stack_params as sp
from .errors import ChecksumError, CorruptError, FormatError, TruncatedError
from .lanes import MAX_FRAME as MAX_FRAME_LIMIT
from .lanes import MAX_LANES, FramePlan, lane_lengths  # noqa: F401  (lane_lengths: re-exported)
from .model_store import fingerprint_matches, valid_name  # noqa: F401  (the stream's rules for both)
from .segments import MAX_TABLE, Table
from .stack_params import STACK_MIX, STACK_MODEL_ONLY

MAGIC = b"\x89LMZ"
VERSION = 2  # what this build writes; it reads 1 and 2
VERSIONS_READ = (1, 2)
FLAG_CONTENT_SIZE = 0x01
FLAG_OVERRIDES = 0x02  # version 2: stack parameters that differ from the preset follow
FLAG_INDEX = 0x04  # version 2: a seek index follows the end marker
FLAG_RECORDS = 0x08  # version 2: a records file (lmz/runtime/recordfile.py), not frames
FLAG_SEGMENTS = 0x10  # version 2: a segment table follows; the frames hold the expanded data (segments.py)
FLAGS_KNOWN = {1: FLAG_CONTENT_SIZE,
               2: FLAG_CONTENT_SIZE | FLAG_OVERRIDES | FLAG_INDEX | FLAG_RECORDS | FLAG_SEGMENTS}
INDEX_MAGIC = b"LMZX"  # the last 4 bytes of a stream with a seek index

CODER_RANGE48 = 1  # lmz/runtime/coder.py: 48-bit range coder, range kept in [2**40, 2**48]
FREQS_V1 = 1  # lmz/runtime/freqs.py: scores_to_freqs with EXP_LUT v1
STACK_NAMES = {STACK_MODEL_ONLY: "model", STACK_MIX: "mix"}

FRAME_END = 0x00
FRAME_STORED = 0x01
FRAME_MODELED = 0x02
FRAME_OWN_STACK = 0x03  # version 2: a modeled frame that names its own predictor stack

MAX_NAME = 64
MAX_PARAMS = 4096
FP_BYTES = {1: 32, 2: 8}  # bytes of the model fingerprint a header records
# Version 2 keeps every coded byte (no implicit trailing zeros), so a lane's coded length bounds the
# bytes it can decode to: a binary decision costs at least -log2(65535/65536) bits (8 per byte with
# the mix), a model-only symbol at least -log2(65281/65536) bits (every frequency is >= 1). A
# frame claiming more is refused before any work (a 1% margin and 8 bytes of coder flush added).
RAW_PER_CODED = {STACK_MODEL_ONLY: 1434, STACK_MIX: 45880}


@dataclass
class Header:
    fingerprint: str  # sha256 of the model weights, hex: 64 digits (version 1) or its first 16 (version 2)
    model_name: str = ""
    stack_id: int = STACK_MODEL_ONLY
    stack_params: bytes = b""  # the stack's complete parameters, compact JSON (expanded from the preset)
    max_frame: int = 1 << 22
    content_size: int | None = None
    coder_id: int = CODER_RANGE48
    prob_bits: int = 16
    freqs_id: int = FREQS_V1
    version: int = VERSION
    size: int = field(default=0, compare=False)  # bytes the header takes in the stream (set when read)
    preset: int | None = field(default=None, compare=False)  # version 2: the preset id it was written with
    index: bool = False  # version 2, flag bit 2: a seek index follows the end marker
    records: bool = False  # version 2, flag bit 3: a records file (independent records, not frames)
    # version 2, flag bit 4: how the frames' expanded data rebuilds the original (deflate segments);
    # content_size is then the original's size
    segments: Table | None = None

    @property
    def stack_name(self) -> str:
        return STACK_NAMES.get(self.stack_id, f"stack-{self.stack_id}")

    @property
    def params(self) -> dict:
        return sp.parse_params(self.stack_params) if self.stack_params else {}

    def pack(self) -> bytes:
        """Version 2 (docs/FORMAT.md): the stack as a preset id plus the parameters that differ."""
        fp = bytes.fromhex(self.fingerprint)[:FP_BYTES[2]]
        if len(fp) != FP_BYTES[2]:
            raise ValueError("fingerprint must be at least 8 bytes")
        name = self.model_name.encode("utf-8")
        if self.model_name and not valid_name(self.model_name):
            raise ValueError(f"model name {self.model_name!r} cannot be recorded (letters, digits, . _ -; "
                             f"at most {MAX_NAME}; no leading dot)")
        preset, over = sp.to_preset(self.stack_id, self.params)
        blob = sp.dump_params(over) if over else b""
        if len(blob) > MAX_PARAMS:
            raise ValueError("stack params too long")
        flags = (FLAG_CONTENT_SIZE if self.content_size is not None else 0) | (FLAG_OVERRIDES if blob else 0)
        flags |= (FLAG_INDEX if self.index else 0) | (FLAG_RECORDS if self.records else 0)
        flags |= FLAG_SEGMENTS if self.segments is not None else 0
        if self.segments is not None and (self.index or self.records):
            raise ValueError("a segment table excludes a seek index and records")
        body = bytearray(fp)
        body += bytes([len(name)]) + name
        body += bytes([self.stack_id]) + varint(preset)
        if blob:
            body += varint(len(blob)) + blob
        if self.segments is not None:
            body += self.segments.pack()
        body += bytes([self.coder_id]) + varint(self.max_frame)
        if self.content_size is not None:
            body += varint(self.content_size)
        n = len(body) + 4  # the checksum
        head = MAGIC + bytes([2, flags]) + varint(n) + bytes(body)
        return head + struct.pack("<I", zlib.crc32(head))


# -- reading primitives ----------------------------------------------------------------------
class Reader:
    """Exact reads from a file-like object or bytes; a short read is a TruncatedError."""

    def __init__(self, src):
        self.f = io.BytesIO(src) if isinstance(src, (bytes, bytearray, memoryview)) else src
        self.offset = 0
        self.size = None  # with `at`: the file's size (skip() then seeks)

    @classmethod
    def at(cls, f, pos: int, size: int) -> Reader:
        """A Reader of the seekable file `f` (of `size` bytes) from `pos`; offsets are file positions."""
        f.seek(pos)
        r = cls(f)
        r.offset, r.size = pos, size
        return r

    def read(self, n: int, what: str = "data") -> bytes:
        if n == 0:
            return b""
        parts, got = [], 0
        while got < n:
            b = self.f.read(n - got)
            if not b:
                raise TruncatedError(f"truncated stream: expected {n} bytes of {what} at offset {self.offset + got}")
            parts.append(b)
            got += len(b)
        out = b"".join(parts)
        self.offset += n
        return out

    def skip(self, n: int, what: str = "data") -> None:
        """Move past n bytes: a seek when the Reader was made with `at` (the file's size known), else a read."""
        if self.size is None:
            self.read(n, what)
            return
        if self.offset + n > self.size:
            raise TruncatedError(f"truncated stream: expected {n} bytes of {what} at offset {self.offset}")
        self.offset += n
        self.f.seek(self.offset)

    def u8(self, what: str) -> int:
        return self.read(1, what)[0]

    def varint(self, what: str) -> int:
        v = shift = 0
        for _ in range(10):
            b = self.u8(what)
            v |= (b & 0x7F) << shift
            if b < 0x80:
                return v
            shift += 7
        raise CorruptError(f"corrupt stream: {what} is not a valid varint")


def varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_header(src, records: bool = False) -> Header:
    """Parse and validate the header at the start of `src` (bytes or a binary file object).
    A records file (flag bit 3) is refused unless `records` (its reader: lmz/runtime/recordfile.py)."""
    r = src if isinstance(src, Reader) else Reader(src)
    try:
        magic = r.read(4, "magic")
    except TruncatedError:
        raise FormatError("not an lmz stream (too short for the magic number)") from None
    if magic != MAGIC:
        raise FormatError(f"not an lmz stream (magic {magic.hex()} != {MAGIC.hex()})")
    version, flags = r.read(2, "header")
    if version not in VERSIONS_READ:
        raise FormatError(f"unsupported lmz format version {version} (this build reads versions "
                          f"{', '.join(map(str, VERSIONS_READ))}): written by a newer lmz, or not lmz data")
    if flags & ~FLAGS_KNOWN[version]:
        raise FormatError(f"reserved header flag bits set ({flags:#04x}): written by a newer lmz or corrupt")
    h = _read_header_v1(r, magic, version, flags) if version == 1 else _read_header_v2(r, flags)
    if h.model_name and not valid_name(h.model_name):
        raise FormatError("corrupt header (the model name is not a plain name)")
    if h.records != records:
        raise FormatError("a records file: read it with `lmz-run records` or lmz.RecordsReader" if h.records
                          else "not a records file (a plain lmz stream: use `lmz-run -d`)")
    return h


def _read_header_v1(r: Reader, magic: bytes, version: int, flags: int) -> Header:
    start = r.offset - 6
    total = struct.unpack("<H", r.read(2, "header"))[0]
    if total < 8 + 32 + 1 + 3 + 7 + 4:
        raise FormatError(f"corrupt header (length {total})")
    rest = r.read(total - 8, "header")
    head, crc = magic + struct.pack("<BBH", version, flags, total) + rest[:-4], rest[-4:]
    if struct.unpack("<I", crc)[0] != zlib.crc32(head):
        raise ChecksumError("corrupt header (header checksum mismatch)")
    b = Reader(rest[:-4])
    try:
        fp = b.read(32, "fingerprint").hex()
        name = b.read(b.u8("name length"), "model name").decode("utf-8", "replace")
        stack_id = b.u8("stack id")
        params = b.read(struct.unpack("<H", b.read(2, "params length"))[0], "stack params")
        coder_id, prob_bits, freqs_id, max_frame = struct.unpack("<BBBI", b.read(7, "coder fields"))
        size = struct.unpack("<Q", b.read(8, "content size"))[0] if flags & FLAG_CONTENT_SIZE else None
    except TruncatedError:
        raise FormatError("corrupt header (fields overrun the header length)") from None
    if b.f.read(1):
        raise FormatError("corrupt header (bytes left after the last field)")
    if coder_id != CODER_RANGE48 or prob_bits != 16 or freqs_id != FREQS_V1:
        raise FormatError(f"unsupported coder (id {coder_id}, {prob_bits} bits, freqs {freqs_id})")
    if stack_id not in STACK_NAMES:
        raise FormatError(f"unknown predictor stack id {stack_id}")
    _check_max_frame(max_frame)
    full = sp.check_params(stack_id, sp.parse_params(params)) if params else {}
    if stack_id == STACK_MIX and not full:
        raise FormatError("corrupt header (the mix stack records its parameters)")
    return Header(fp, name, stack_id, params, max_frame, size, coder_id, prob_bits, freqs_id, version,
                  r.offset - start)


def _read_header_v2(r: Reader, flags: int) -> Header:
    start = r.offset - 6
    n = r.varint("header length")
    longest = 8 + 1 + MAX_NAME + 1 + 10 + 10 + MAX_PARAMS + 1 + 10 + 10 + 4 + (MAX_TABLE if flags & FLAG_SEGMENTS else 0)
    if not 8 + 1 + 2 + 1 + 1 + 4 <= n <= longest:
        raise FormatError(f"corrupt header (length {n})")
    head_len = r.offset - start
    rest = r.read(n, "header")
    r_bytes = MAGIC + bytes([2, flags]) + varint(n)
    if len(r_bytes) != head_len:
        raise FormatError("corrupt header (length is not a minimal varint)")
    if struct.unpack("<I", rest[-4:])[0] != zlib.crc32(r_bytes + rest[:-4]):
        raise ChecksumError("corrupt header (header checksum mismatch)")
    b = Reader(rest[:-4])
    try:
        fp = b.read(FP_BYTES[2], "fingerprint").hex()
        nl = b.u8("name length")
        if nl > MAX_NAME:
            raise FormatError(f"corrupt header (model name of {nl} bytes)")
        raw_name = b.read(nl, "model name")
        try:
            name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError("corrupt header (the model name is not UTF-8)") from None
        stack_id = b.u8("stack id")
        preset = b.varint("preset")
        over = {}
        if flags & FLAG_OVERRIDES:
            m = b.varint("overrides length")
            if not 2 <= m <= MAX_PARAMS:
                raise FormatError(f"corrupt header (stack overrides of {m} bytes)")
            over = sp.parse_params(b.read(m, "stack overrides"))
        segments = Table.read(b) if flags & FLAG_SEGMENTS else None
        coder_id = b.u8("coder id")
        max_frame = b.varint("max frame size")
        size = b.varint("content size") if flags & FLAG_CONTENT_SIZE else None
    except TruncatedError:
        raise FormatError("corrupt header (fields overrun the header length)") from None
    if b.f.read(1):
        raise FormatError("corrupt header (bytes left after the last field)")
    if coder_id != CODER_RANGE48:
        raise FormatError(f"unsupported coder id {coder_id} (written by a newer lmz?)")
    if stack_id not in STACK_NAMES:
        raise FormatError(f"unknown predictor stack id {stack_id} (written by a newer lmz?)")
    _check_max_frame(max_frame)
    if size is not None and size >= 1 << 63:
        raise FormatError(f"corrupt header (content size {size})")
    if segments is not None:
        if flags & (FLAG_INDEX | FLAG_RECORDS):
            raise FormatError("corrupt header (a segment table with a seek index or records)")
        if size is not None and size != segments.size:
            raise FormatError(f"corrupt header (content size {size}, the segment table says {segments.size})")
    full = sp.from_preset(stack_id, preset, sp.check_params(stack_id, over))
    blob = sp.dump_params(full) if full else b""
    return Header(fp, name, stack_id, blob, max_frame, size, coder_id, 16, FREQS_V1, 2, r.offset - start, preset,
                  index=bool(flags & FLAG_INDEX), records=bool(flags & FLAG_RECORDS), segments=segments)


def _check_max_frame(max_frame: int) -> None:
    if not 1 <= max_frame <= MAX_FRAME_LIMIT:
        raise FormatError(f"corrupt header (frame size {max_frame})")


# -- lanes and frames ------------------------------------------------------------------------
def lane_check(raw: bytes) -> int:
    return zlib.crc32(raw) & 0xFFFF


@dataclass
class Frame:
    kind: int  # FRAME_STORED / FRAME_MODELED / FRAME_END
    raw_len: int = 0
    raw: bytes | None = None  # stored frame
    lane_lens: np.ndarray | None = None  # modeled frame
    lane_stored: list[bool] | None = None
    lane_payload: list[bytes] | None = None
    lane_checks: list[int] | None = None  # None for stored lanes
    total: int = 0  # end frame
    crc: int = 0
    size: int = 0  # bytes in the stream
    stack_id: int | None = None  # frame 03: its own stack (None: the header's)
    stack_params: bytes = b""  # frame 03: the stack's complete parameters, compact JSON (checked)
    preset: int | None = None  # frame 03: the preset id it was written with


def pack_frame(raw: bytes, plan: FramePlan | None, coded: list[bytes] | None, store_lanes: bool = True,
               stack: tuple[int, dict] | None = None) -> bytes:
    """The smallest encoding of one frame: modeled lanes (each lane stored if coding expands it and
    `store_lanes`) or the whole frame stored. `coded`: the coder output per lane of `plan` (None: store).
    `stack`: (stack id, complete parameters) of a frame coded with another stack than the header's
    (frame type 03); None: the header's (frame type 02)."""
    n = len(raw)
    stored = bytes([FRAME_STORED]) + varint(n) + raw
    if not coded:
        return stored
    lens = plan.lens
    flags = np.zeros(len(coded), dtype=bool)
    meta, payload, off = bytearray(), [], 0
    for i, c in enumerate(coded):
        lane = raw[off: off + lens[i]]
        off += lens[i]
        if store_lanes and len(c) >= len(lane):
            flags[i] = True
            payload.append(lane)
        else:
            if len(c) >= len(lane):  # kept coded (shared-state stack): the frame is stored instead
                return stored
            meta += varint(len(c)) + struct.pack("<H", lane_check(lane))
            payload.append(c)
    head = bytes([FRAME_MODELED]) if stack is None else own_stack_prefix(*stack)
    head += varint(n) + varint(len(coded)) + np.packbits(flags, bitorder="little").tobytes()
    modeled_len = len(head) + len(meta) + sum(len(p) for p in payload)
    if modeled_len >= len(stored):
        return stored
    return head + bytes(meta) + b"".join(payload)


def own_stack_prefix(stack_id: int, params: dict) -> bytes:
    """Frame 03's type byte and stack fields: u8 stack id, varint preset, varint m + m bytes of overrides."""
    preset, over = sp.to_preset(stack_id, params)
    blob = sp.dump_params(over) if over else b""
    if len(blob) > MAX_PARAMS:
        raise ValueError("stack params too long")
    return bytes([FRAME_OWN_STACK, stack_id]) + varint(preset) + varint(len(blob)) + blob


def _read_own_stack(r: Reader, start: int) -> tuple[int, bytes, int]:
    """Frame 03's stack fields -> (stack id, complete checked parameters as JSON, preset)."""
    stack_id = r.u8("frame stack id")
    if stack_id not in STACK_NAMES:
        raise CorruptError(f"corrupt stream: unknown predictor stack id {stack_id} in the frame at offset {start}")
    preset = r.varint("frame preset")
    m = r.varint("frame overrides length")
    if m > MAX_PARAMS or m == 1:
        raise CorruptError(f"corrupt stream: stack overrides of {m} bytes in the frame at offset {start}")
    over = sp.parse_params(r.read(m, "frame stack overrides")) if m else {}
    full = sp.from_preset(stack_id, preset, sp.check_params(stack_id, over))
    return stack_id, sp.dump_params(full) if full else b"", preset


def pack_end(total: int, crc: int) -> bytes:
    """Version 2's end marker: the total original bytes (varint) and their CRC-32."""
    return bytes([FRAME_END]) + varint(total) + struct.pack("<I", crc)


def read_frame(r: Reader, header: Header, payload: bool = True) -> Frame:
    """The next frame (or the end marker). `payload=False`: check the frame's fields but skip its
    data (stored bytes, lane payloads: left None) with seeks where `r` can: a scan without decoding."""
    start = r.offset
    kind = r.u8("frame type")
    if kind == FRAME_END:
        if header.version == 1:
            total, crc = struct.unpack("<QI", r.read(12, "end marker"))
        else:
            total = r.varint("end marker")
            crc = struct.unpack("<I", r.read(4, "end marker"))[0]
        return Frame(FRAME_END, total=total, crc=crc, size=r.offset - start)
    if kind not in (FRAME_STORED, FRAME_MODELED, FRAME_OWN_STACK) or (kind == FRAME_OWN_STACK and header.version < 2):
        raise CorruptError(f"corrupt stream: unknown frame type {kind:#04x} at offset {start}")
    stack_id, params, preset = header.stack_id, b"", None
    if kind == FRAME_OWN_STACK:
        stack_id, params, preset = _read_own_stack(r, start)
    n = r.varint("frame length")
    if not 1 <= n <= header.max_frame:
        raise CorruptError(f"corrupt stream: frame length {n} outside 1..{header.max_frame} at offset {start}")
    if kind == FRAME_STORED:
        if not payload:
            r.skip(n, "stored frame")
            return Frame(FRAME_STORED, n, size=r.offset - start)
        raw = r.read(n, "stored frame")
        return Frame(FRAME_STORED, n, raw=raw, size=r.offset - start)
    lanes = r.varint("lane count")
    if not 1 <= lanes <= min(n, MAX_LANES):
        raise CorruptError(f"corrupt stream: lane count {lanes} for a frame of {n} bytes")
    flags = np.unpackbits(np.frombuffer(r.read((lanes + 7) // 8, "lane flags"), dtype=np.uint8),
                          bitorder="little")
    if flags[lanes:].any():
        raise CorruptError("corrupt stream: padding bits of the lane flags are set")
    stored = [bool(x) for x in flags[:lanes]]
    lens = lane_lengths(n, lanes)
    clens, checks = [], []
    for i in range(lanes):
        if stored[i]:
            clens.append(int(lens[i]))
            checks.append(None)
        else:
            c = r.varint("lane length")
            if c >= lens[i]:
                raise CorruptError(f"corrupt stream: lane {i} claims {c} coded bytes for {lens[i]} raw bytes")
            if header.version >= 2 and lens[i] > (c + 8) * RAW_PER_CODED[stack_id]:
                raise CorruptError(f"corrupt stream: lane {i} claims {lens[i]} bytes from {c} coded bytes, more "
                                   f"than the {STACK_NAMES[stack_id]} stack can code (offset {start})")
            clens.append(c)
            checks.append(struct.unpack("<H", r.read(2, "lane check"))[0])
    if payload:
        data = [r.read(c, "lane data") for c in clens]
    else:
        data = None
        r.skip(sum(clens), "lane data")
    return Frame(kind, n, lane_lens=lens, lane_stored=stored, lane_payload=data, lane_checks=checks,
                 size=r.offset - start, stack_id=stack_id if kind == FRAME_OWN_STACK else None,
                 stack_params=params, preset=preset)


# -- seek index ------------------------------------------------------------------------------
INDEX_TAIL = 8  # u32 index length + INDEX_MAGIC


def pack_index(frames: list[tuple[int, int]]) -> bytes:
    """The seek index of a stream whose frames took frames[i] = (coded bytes, raw bytes):
    varint F, per frame varint coded + varint raw, u32 length of those fields, then LMZX."""
    body = bytearray(varint(len(frames)))
    for c, n in frames:
        body += varint(c) + varint(n)
    return bytes(body) + struct.pack("<I", len(body)) + INDEX_MAGIC


def parse_index(body: bytes, max_frame: int, min_raw: int = 1) -> list[tuple[int, int]]:
    """The (coded, raw) sizes of an index's fields (without its u32 length and LMZX), checked
    (`min_raw` 0: a records file's index, where a record may be empty)."""
    r = Reader(body)
    try:
        count = r.varint("index frame count")
        if count > len(body) // 2:
            raise CorruptError(f"corrupt seek index: {count} frames in {len(body)} bytes")
        out = []
        for _ in range(count):
            c, n = r.varint("index entry"), r.varint("index entry")
            if not min_raw <= n <= max_frame or c < 3:
                raise CorruptError(f"corrupt seek index: a frame of {c} coded / {n} raw bytes")
            out.append((c, n))
    except TruncatedError:
        raise CorruptError("corrupt seek index: its entries overrun its length") from None
    if r.f.read(1):
        raise CorruptError("corrupt seek index: bytes left after its last entry")
    return out


def read_index(r: Reader, frames: list[tuple[int, int]]) -> None:
    """Read the seek index that follows an end marker and check it against the frames just read
    (frames[i] = (coded bytes, raw bytes)); the data itself was checked by the end marker."""
    start = r.offset
    count = r.varint("seek index")
    if count != len(frames):
        raise CorruptError(f"corrupt seek index: {count} frames listed, the stream has {len(frames)}")
    for i, (c, n) in enumerate(frames):
        if (r.varint("seek index"), r.varint("seek index")) != (c, n):
            raise CorruptError(f"corrupt seek index: entry {i} does not match frame {i}")
    m = struct.unpack("<I", r.read(4, "seek index"))[0]
    if m != r.offset - 4 - start or r.read(4, "seek index") != INDEX_MAGIC:
        raise CorruptError("corrupt seek index: bad length or tag")
