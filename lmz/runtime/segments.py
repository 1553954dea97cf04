"""Segments (header flag bit 4): a gzip, zip, PNG or JPEG file coded as the data it holds.

Deflated bytes look random to every model, so lmz, like xz and zpaq, could only store a .tar.gz,
a zip archive (.whl, .jar, .docx) or a PNG image. Instead the writer cuts the input into segments:
raw bytes (headers, trailers, anything else) and deflate streams that ``lmz/runtime/deflate.py``
reproduces exactly from their inflated bytes (streams written by zlib, or by GNU gzip). The frames
then code the *expanded* data, every segment's raw or inflated bytes in order, with the usual
per-block decisions (the tarball inside is text and binary blocks); the segment table in the header
says how to rebuild the original. The reader streams the frames' bytes through a
:class:`Rebuilder`, which passes raw segments on and deflates each inflated segment again when it
is complete.

A PNG image whose pixels ``png.py`` handles goes one step further (kind PNG_PIXELS): the segment
runs from the file's start to its last IDAT chunk, and its expanded bytes are the pixels as a PAM
image (the raster stack's 2-D contexts see the pixels, not the row filters' residuals), the rows'
filter types, and the file's bytes before its first IDAT chunk; rebuilding filters the rows again
and deflates them as kind PNG_IDAT does.

A baseline JPEG image is the same idea with Huffman coding in place of deflate (kind JPEG_SCAN,
``jpeg.py``): the segment runs from the file's start to the end of its scan, and its expanded bytes
are the scan's quantised DCT coefficients laid out as an 8-bit gray image (a PGM, so the frames code
it with the raster stack's 2-D contexts: the same frequency in the neighbouring blocks), followed
by the file's header bytes up to the scan (``head`` bytes, recorded in the table). Rebuilding
Huffman-codes the coefficients again with the file's own tables.

Three layouts are looked at: gzip members from the start of the input, one after another (as
``cat a.gz b.gz`` makes them); a zip archive's entries from its start, one after another
(following each local header); a PNG image's run of IDAT chunks (one zlib stream cut into chunks
of one size: kind PNG_IDAT rebuilds the zlib wrapper and the chunks too). Headers, trailers,
stored entries, the zip central directory, other PNG chunks, whatever follows, and any stream this
build does not reproduce (another deflate implementation, a flushed stream, an inflated size above
MAX_INFLATED) stay raw. The frames' end marker covers the expanded data; the table holds the
original's size and CRC-32, checked after rebuilding. The writer rebuilds the input from its table
before it keeps it, so a table can cost ratio, never data.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from . import deflate, jpeg, png
from .errors import ChecksumError, CorruptError, FormatError

__all__ = ["Segment", "Table", "Rebuilder", "split", "may_hold_segments", "MAX_INFLATED", "MAX_SEGMENTS"]

RAW, DEFLATE, GNU_DEFLATE, PNG_IDAT, JPEG_SCAN, PNG_PIXELS = 0, deflate.ZLIB, deflate.GNU, 3, 4, 5  # kinds (docs/FORMAT.md)
IMPLEMENTATIONS = {DEFLATE: "zlib", GNU_DEFLATE: "GNU gzip", PNG_IDAT: "zlib in PNG IDAT chunks",
                   JPEG_SCAN: "baseline JPEG, Huffman", PNG_PIXELS: "PNG pixels, filtered, zlib in IDAT chunks"}
ZLIB_KINDS = (DEFLATE, PNG_IDAT, PNG_PIXELS)  # deflated with zlib's algorithm
MIN_CHUNK = 256  # PNG_IDAT: the shortest IDAT chunk size recorded (framing costs 12 bytes a chunk)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SEGMENTS = 4096
MAX_INFLATED = 1 << 27  # a deflate segment's inflated bytes: the reader holds one such segment whole
MAX_INPUT = 1 << 28  # the writer reads a gzip, zip or PNG input whole up to this size (a larger one: as it is)
MAX_EXPANDED = 1 << 29  # the writer holds the input and the expanded data: later streams stay raw
MIN_DEFLATED = 64  # smaller deflate streams stay raw (a table entry costs about 8 bytes)
MAX_TABLE = 10 + 10 + 4 + MAX_SEGMENTS * (1 + 4 + 10 + 10 + 10 + 10)  # the table's largest encoding
MAX_JPEG = 48 << 20  # JPEG_SCAN: the most expanded bytes the writer makes (a reader needs 12 x: 576 MiB)
MAX_PNG_PIXELS = 64 << 20  # PNG_PIXELS: the most expanded bytes (a reader needs 7 x; a larger PNG: kind PNG_IDAT)
MAX_HEAD = 1 << 20  # JPEG_SCAN, PNG_PIXELS: the most file header bytes (markers or chunks before the image data)
GZIP_MAGIC = b"\x1f\x8b\x08"
JPEG_MAGIC = b"\xff\xd8\xff"
ZIP_LOCAL = b"PK\x03\x04"
ZIP_DESCRIPTOR = b"PK\x07\x08"


@dataclass(frozen=True)
class Segment:
    kind: int  # RAW, DEFLATE, GNU_DEFLATE, PNG_IDAT, JPEG_SCAN or PNG_PIXELS
    size: int  # its bytes in the original
    coded: int  # its bytes in the expanded data the frames code (RAW: size; deflated: the inflated length)
    level: int = 0  # deflated: the parameters that reproduce it
    mem_level: int = 0
    wbits: int = 0
    strategy: int = 0  # deflate.DEFAULT or FILTERED
    chunk: int = 0  # PNG_IDAT, PNG_PIXELS: the data bytes of every IDAT chunk but the last
    head: int = 0  # JPEG_SCAN, PNG_PIXELS: the file's header bytes, at the end of its expanded bytes


def _rebuild_jpeg(s: Segment, data: bytes) -> bytes:
    head = data[len(data) - s.head:]
    h = jpeg.parse(head)
    if h is None or h.end != len(head):
        raise CorruptError("corrupt stream: a JPEG segment's header is not a baseline JPEG's up to its scan")
    coef = jpeg.unplanes(h, memoryview(data)[:len(data) - s.head])
    if coef is None:
        raise CorruptError("corrupt stream: a JPEG segment's coefficients do not fit its header")
    scan = jpeg.encode(coef, h, s.size - s.head)
    if scan is None:
        raise CorruptError("corrupt stream: a JPEG segment's coefficients have no Huffman code")
    return head + scan


def _zlib_header(level: int, wbits: int, strategy: int) -> bytes:
    """The two bytes zlib's deflateInit2 writes before a zlib stream (RFC 1950)."""
    flags = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    h = ((8 + ((wbits - 8) << 4)) << 8) | flags << 6
    return (h + 31 - h % 31).to_bytes(2, "big")


def _idat_chunks(z: bytes, chunk: int) -> bytes:
    """`z` cut into PNG IDAT chunks of `chunk` data bytes (the last one shorter), with their CRCs."""
    out = bytearray()
    for i in range(0, len(z), chunk):
        part = b"IDAT" + z[i:i + chunk]
        out += struct.pack(">I", len(part) - 4) + part + struct.pack(">I", zlib.crc32(part))
    return bytes(out)


def _max_size(kind: int, coded: int, chunk: int) -> int:
    """The most original bytes a deflated segment of `coded` inflated bytes can rebuild to (JPEG:
    a block of 64 coded bytes is at most 64 codes of 27 bits, each byte stuffed, and a restart marker)."""
    if kind == JPEG_SCAN:
        return 7 * coded + 16
    n = deflate.bound(coded)
    return n if kind not in (PNG_IDAT, PNG_PIXELS) else n + 6 + 12 * -(-(n + 6) // chunk)


def rebuild_segment(s: Segment, data: bytes) -> bytes:
    """The original bytes of the (not raw) segment `s` from its expanded bytes."""
    if s.kind == JPEG_SCAN:
        return _rebuild_jpeg(s, data)
    head = b""
    if s.kind == PNG_PIXELS:
        head, data = data[len(data) - s.head:], _png_rows(s, data)
    d = deflate.deflate(data, s.level, s.mem_level, s.wbits, DEFLATE if s.kind in ZLIB_KINDS else s.kind, s.strategy)
    if s.kind not in (PNG_IDAT, PNG_PIXELS):
        return d
    z = _zlib_header(s.level, s.wbits, s.strategy) + d + struct.pack(">I", zlib.adler32(data))
    return head + _idat_chunks(z, s.chunk)


def _png_rows(s: Segment, data: bytes) -> bytes:
    """A PNG_PIXELS segment's filtered rows from its PAM image and filter types (the inflated IDAT data)."""
    i = png.ihdr(data[len(data) - s.head:])
    if i is None:
        raise CorruptError("corrupt stream: a PNG segment's header is not a PNG's that lmz codes as pixels")
    pam = png.pam_header(i)
    n = i.height * i.width * i.bpp
    if len(data) != len(pam) + n + i.height + s.head or not data.startswith(pam):
        raise CorruptError("corrupt stream: a PNG segment's pixels do not fit its header")
    rows = png.refilter(data[len(pam):len(pam) + n], data[len(pam) + n:len(pam) + n + i.height], i)
    if rows is None:
        raise CorruptError("corrupt stream: a PNG segment has a filter type above 4")
    return rows


def _memory(s: Segment) -> int:
    """What rebuilding `s` holds: its expanded bytes (twice while they are handed over) and its
    original bytes with their copies (3 x), and, for a deflate segment, the deflater's output (PNG:
    with its zlib wrapper and IDAT chunks), window, hash and symbol tables, for PNG pixels also the
    pixels' and the filtered rows' copies (4 bytes per expanded byte); for a JPEG, the coefficients
    as 16-bit integers and their working copies (10 bytes per expanded byte)."""
    if s.kind == JPEG_SCAN:
        return 12 * s.coded + 3 * s.size
    return 2 * s.coded + deflate.bound(s.coded) + 3 * s.size + (4 * s.coded if s.kind == PNG_PIXELS else 0)


@dataclass(frozen=True)
class Table:
    segments: tuple[Segment, ...]
    size: int  # the original's bytes
    crc: int  # CRC-32 of the original

    @property
    def expanded(self) -> int:
        return sum(s.coded for s in self.segments)

    @property
    def deflated(self) -> int:
        """The number of deflated segments."""
        return sum(s.kind != RAW for s in self.segments)

    def memory(self) -> int:
        """Bytes the reader holds for the largest segment that is not raw (:func:`_memory`)."""
        worst = max((_memory(s) for s in self.segments if s.kind != RAW), default=0)
        return worst + (8 << 20) if worst else 0

    def pack(self) -> bytes:
        out = bytearray(_varint(len(self.segments)) + _varint(self.size) + struct.pack("<I", self.crc))
        for s in self.segments:
            if s.kind == RAW:
                out += bytes([RAW]) + _varint(s.size)
            elif s.kind == JPEG_SCAN:
                out += bytes([JPEG_SCAN]) + _varint(s.head) + _varint(s.coded) + _varint(s.size)
            else:
                out += bytes([s.kind, s.level, s.mem_level, s.wbits, s.strategy])
                out += _varint(s.chunk) if s.kind in (PNG_IDAT, PNG_PIXELS) else b""
                out += _varint(s.head) if s.kind == PNG_PIXELS else b""
                out += _varint(s.coded) + _varint(s.size)
        return bytes(out)

    @classmethod
    def read(cls, r) -> Table:
        """Parse and check a table from the container Reader `r` (FormatError on anything out of range)."""
        n = r.varint("segment count")
        if not 1 <= n <= MAX_SEGMENTS:
            raise FormatError(f"corrupt header (segment table of {n} segments)")
        size = r.varint("original size")
        crc = struct.unpack("<I", r.read(4, "original CRC-32"))[0]
        segs, total = [], 0
        for i in range(n):
            kind = r.u8("segment kind")
            if kind == RAW:
                s = r.varint("segment size")
                if s < 1:
                    raise FormatError(f"corrupt header (raw segment {i} is empty)")
                segs.append(Segment(RAW, s, s))
            elif kind == JPEG_SCAN:
                head, coded, s = r.varint("JPEG header size"), r.varint("coefficient bytes"), r.varint("JPEG size")
                if not (4 <= head <= min(coded, MAX_HEAD) and coded <= MAX_INFLATED
                        and head < s <= _max_size(kind, coded, 0)):
                    raise FormatError(f"corrupt header (segment {i}: a JPEG of {s} bytes from {coded} bytes, "
                                      f"{head} of them its header)")
                segs.append(Segment(kind, s, coded, head=head))
            elif kind in IMPLEMENTATIONS:
                level, mem, wbits = r.u8("deflate level"), r.u8("deflate memLevel"), r.u8("deflate window bits")
                strategy = r.u8("deflate strategy")
                try:
                    deflate.check(DEFLATE if kind in ZLIB_KINDS else kind, level, mem, wbits, strategy)
                except ValueError as e:
                    raise FormatError(f"corrupt header (segment {i}: {e})") from None
                chunk = r.varint("IDAT chunk size") if kind in (PNG_IDAT, PNG_PIXELS) else 0
                if kind in (PNG_IDAT, PNG_PIXELS) and not MIN_CHUNK <= chunk < 1 << 31:
                    raise FormatError(f"corrupt header (segment {i}: IDAT chunks of {chunk} bytes)")
                head = r.varint("PNG header size") if kind == PNG_PIXELS else 0
                coded, s = r.varint("inflated size"), r.varint("deflated size")
                if coded > MAX_INFLATED or not 1 <= s <= _max_size(kind, coded, chunk) + head:
                    raise FormatError(f"corrupt header (segment {i}: {coded} bytes inflated, {s} deflated)")
                if kind == PNG_PIXELS and not 33 <= head <= min(coded, MAX_HEAD):
                    raise FormatError(f"corrupt header (segment {i}: a PNG header of {head} bytes)")
                segs.append(Segment(kind, s, coded, level, mem, wbits, strategy, chunk, head))
            else:
                raise FormatError(f"corrupt header (segment {i} has unknown kind {kind}; written by a newer lmz?)")
            total += segs[-1].size
        if total != size:
            raise FormatError(f"corrupt header (segments hold {total} bytes, the table says {size})")
        return cls(tuple(segs), size, crc)


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def may_hold_segments(head: bytes) -> bool:
    """Whether an input starting with these 8 bytes is a gzip file, a zip archive, a PNG or a JPEG image."""
    return head[:3] in (GZIP_MAGIC, JPEG_MAGIC) or head[:4] == ZIP_LOCAL or head[:8] == PNG_SIGNATURE


def _gzip_body(data: memoryview, pos: int) -> int | None:
    """Where the deflate stream of the gzip member at `pos` starts (RFC 1952), or None."""
    if bytes(data[pos:pos + 3]) != GZIP_MAGIC or len(data) < pos + 18:
        return None
    flg = data[pos + 3]
    if flg & 0xE0:
        return None
    p = pos + 10
    if flg & 4:  # FEXTRA
        if len(data) < p + 2:
            return None
        p += 2 + (data[p] | data[p + 1] << 8)
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flg & bit:
            end = bytes(data[p:p + 65536]).find(b"\0")
            if end < 0:
                return None
            p += end + 1
    if flg & 2:  # FHCRC
        p += 2
    return p if p < len(data) else None


def _inflate(data: memoryview, pos: int) -> tuple[bytes, int] | None:
    """The inflated bytes of the raw deflate stream at `pos` and its length, or None (not a complete
    stream, or larger than MAX_INFLATED)."""
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(data[pos:], MAX_INFLATED + 1)
    except zlib.error:
        return None
    if not d.eof or len(out) > MAX_INFLATED:
        return None
    return out, len(data) - pos - len(d.unused_data)


@dataclass
class _Candidate:
    """A deflate stream the writer may turn into a segment."""
    start: int  # where the segment would begin in the original
    size: int  # the original bytes it would replace
    inflated: bytes
    deflated: memoryview  # the raw deflate bytes to reproduce
    prefer: tuple  # (implementation, level, memLevel) to try first
    kind: int = 0  # 0: DEFLATE or GNU_DEFLATE, as found; PNG_IDAT
    wbits: int = 15
    strategies: tuple = (deflate.DEFAULT,)
    header: bytes = b""  # PNG_IDAT: the zlib header the parameters must give
    chunk: int = 0


def _gzip_streams(mv: memoryview):
    """The deflate stream of each gzip member, from the start on. The guess: GNU gzip writes OS 3
    (Unix), Python's gzip 255; both write XFL 2 for the slowest level, 4 for the fastest."""
    pos = 0
    while True:
        body = _gzip_body(mv, pos)
        got = _inflate(mv, body) if body is not None else None
        if got is None or body + got[1] + 8 > len(mv):  # + the trailer: CRC-32 and size
            return
        xfl, os_code = mv[pos + 8], mv[pos + 9]
        level = 9 if xfl == 2 else 1 if xfl == 4 else 6
        impls = (GNU_DEFLATE, DEFLATE) if os_code == 3 else (DEFLATE, GNU_DEFLATE)
        yield _Candidate(body, got[1], got[0], mv[body:body + got[1]], tuple((impl, level, 8) for impl in impls))
        pos = body + got[1] + 8


def _zip_streams(mv: memoryview):
    """The deflate stream of each deflated entry of a zip archive (zlib's default level first),
    following the local
    headers from the start (APPNOTE 4.3.7); stops at the central directory or anything unexpected."""
    pos = 0
    while bytes(mv[pos:pos + 4]) == ZIP_LOCAL and pos + 30 <= len(mv):
        flags, method = struct.unpack_from("<HH", mv, pos + 6)
        csize, _, nlen, xlen = struct.unpack_from("<IIHH", mv, pos + 18)
        start = pos + 30 + nlen + xlen
        if method == 8:
            got = _inflate(mv, start)
            if got is None:
                return
            yield _Candidate(start, got[1], got[0], mv[start:start + got[1]], ((DEFLATE, 6, 8),))
            end = start + got[1]
        elif flags & 8 or csize == 0xFFFFFFFF:  # a size only after the data (or in zip64 fields)
            return
        else:
            end = start + csize
        if flags & 8:  # a data descriptor: optional signature, CRC-32, sizes
            end += 16 if bytes(mv[end:end + 4]) == ZIP_DESCRIPTOR else 12
        if end > len(mv):
            return
        pos = end


def _png_streams(mv: memoryview):
    """The zlib stream of a PNG image, held in its run of IDAT chunks (all of one size but the last,
    each with a right CRC). libpng writes with strategy Z_FILTERED, other tools with the default;
    the window bits and level class come from the zlib header."""
    pos = 8
    while pos + 12 <= len(mv):
        n, kind = struct.unpack_from(">I4s", mv, pos)
        if kind == b"IDAT":
            break
        pos += 12 + n
    else:
        return
    start, sizes, parts = pos, [], []
    while pos + 12 <= len(mv):
        n, kind = struct.unpack_from(">I4s", mv, pos)
        if kind != b"IDAT" or pos + 12 + n > len(mv):
            break
        body = mv[pos + 4:pos + 8 + n]
        if zlib.crc32(body) != struct.unpack_from(">I", mv, pos + 8 + n)[0]:
            return
        sizes.append(n)
        parts.append(body[4:])
        pos += 12 + n
    z = b"".join(parts)
    if (len(z) < 7 or z[0] & 0x0F != 8 or z[0] >> 4 > 7 or z[1] & 0x20 or (z[0] << 8 | z[1]) % 31
            or any(n != sizes[0] for n in sizes[:-1]) or not 0 < sizes[-1] <= sizes[0] or sizes[0] < MIN_CHUNK):
        return
    got = _inflate(memoryview(z), 2)
    if got is None or got[1] != len(z) - 6 or struct.unpack(">I", z[-4:])[0] != zlib.adler32(got[0]):
        return
    level = {0: 1, 1: 5, 2: 6, 3: 9}[z[1] >> 6]
    yield _Candidate(start, pos - start, got[0], memoryview(z)[2:-4], ((DEFLATE, level, 8), (DEFLATE, level, 9)),
                     PNG_IDAT, (z[0] >> 4) + 8, (deflate.FILTERED, deflate.DEFAULT), z[:2], sizes[0])


def _jpeg_segment(data: bytes) -> tuple[Segment, bytes] | None:
    """The JPEG_SCAN segment of a baseline JPEG image (from its start to the end of its scan) and its
    expanded bytes, or None."""
    h = jpeg.parse(data)
    if h is None or h.end > MAX_HEAD or jpeg.coded_size(h) + h.end > MAX_JPEG:
        return None
    got = jpeg.decode(data, h)
    planes = None if got is None else jpeg.planes(h, got[0])
    if planes is None or len(planes) + h.end > MAX_JPEG:
        return None
    coded = planes + data[:h.end]
    return Segment(JPEG_SCAN, got[1], len(coded), head=h.end), coded


def _png_pixels(data: bytes, c: _Candidate) -> bytes | None:
    """The expanded bytes of a PNG_PIXELS segment (a PAM image of the pixels, the rows' filter types,
    the file's bytes before its first IDAT chunk), or None if png.py does not code this image."""
    head = data[:c.start]
    i = png.ihdr(head)
    got = None if i is None or c.start > MAX_HEAD or i.filtered_size > MAX_PNG_PIXELS else png.unfilter(c.inflated, i)
    if got is None:
        return None
    out = png.pam_header(i) + got[0] + got[1] + head
    return out if len(out) <= MAX_PNG_PIXELS else None


def split(data: bytes) -> tuple[Table, bytes] | None:
    """The segment table of `data` and its expanded bytes, or None when no deflate stream or JPEG scan
    of it is reproduced (then nothing is gained)."""
    mv = memoryview(data)
    segs: list[Segment] = []
    parts: list = []
    raw_from = 0

    def raw_until(end: int) -> None:
        nonlocal raw_from
        if end > raw_from:
            segs.append(Segment(RAW, end - raw_from, end - raw_from))
            parts.append(mv[raw_from:end])
        raw_from = end

    head = bytes(mv[:8])
    if head[:3] == JPEG_MAGIC:  # one segment from the start: the JPEG up to the end of its scan
        got = _jpeg_segment(data)
        if got is None:
            return None
        segs.append(got[0])
        parts.append(got[1])
        raw_from = got[0].size
        streams = ()
    else:
        streams = (_gzip_streams(mv) if head[:3] == GZIP_MAGIC else _png_streams(mv) if head == PNG_SIGNATURE
                   else _zip_streams(mv))
    grown = 0
    for c in streams:
        grown += len(c.inflated) - c.size
        if len(segs) >= MAX_SEGMENTS - 2 or len(data) + grown > MAX_EXPANDED:
            break
        if len(c.deflated) < MIN_DEFLATED:
            continue
        found = deflate.find_params(c.inflated, c.deflated, c.prefer, c.wbits, c.strategies)
        if found is None:
            continue
        impl, level, mem, wbits, strategy = found
        if c.kind == PNG_IDAT and (impl != DEFLATE or _zlib_header(level, wbits, strategy) != c.header):
            continue
        pixels = _png_pixels(data, c) if c.kind == PNG_IDAT and raw_from == 0 else None
        if pixels is not None:  # the PNG from its signature on, coded as its pixels
            segs.append(Segment(PNG_PIXELS, c.start + c.size, len(pixels), level, mem, wbits, strategy, c.chunk,
                                c.start))
            parts.append(pixels)
        else:
            raw_until(c.start)
            segs.append(Segment(c.kind or impl, c.size, len(c.inflated), level, mem, wbits, strategy, c.chunk))
            parts.append(c.inflated)
        raw_from = c.start + c.size
    if not any(s.kind != RAW for s in segs):
        return None
    raw_until(len(data))
    table, expanded = Table(tuple(segs), len(data), zlib.crc32(data)), b"".join(parts)
    rebuilt = Rebuilder(table)  # what a reader will do: the table is only written if it rebuilds the input
    try:
        same = b"".join(rebuilt.feed(expanded) + rebuilt.finish()) == data
    except (CorruptError, ValueError):
        same = False
    return (table, expanded) if same else None


class Rebuilder:
    """Turns the expanded bytes, fed in any pieces, back into the original."""

    def __init__(self, table: Table):
        self.table = table
        self.k = 0  # the current segment
        self.got = 0  # its expanded bytes seen so far
        self.buf = bytearray()  # a deflate segment's inflated bytes
        self.total = 0
        self.crc = 0

    def feed(self, chunk) -> list[bytes]:
        out: list[bytes] = []
        mv = memoryview(chunk)
        i = 0
        self._complete(out)
        while i < len(mv):
            if self.k >= len(self.table.segments):
                raise CorruptError("corrupt stream: the frames hold more bytes than the segment table")
            s = self.table.segments[self.k]
            take = mv[i:i + s.coded - self.got]
            i += len(take)
            self.got += len(take)
            if s.kind == RAW:
                self._emit(out, bytes(take))
            else:
                self.buf += take
            self._complete(out)
        return out

    def _complete(self, out: list[bytes]) -> None:
        """Finish every segment whose expanded bytes are all in (a deflate segment may hold none)."""
        segs = self.table.segments
        while self.k < len(segs) and self.got == segs[self.k].coded:
            s = segs[self.k]
            if s.kind != RAW:
                data, self.buf = bytes(self.buf), bytearray()
                d = rebuild_segment(s, data)
                del data
                if len(d) != s.size:
                    raise CorruptError(f"corrupt stream: segment {self.k} deflates to {len(d)} bytes, the table "
                                       f"says {s.size}")
                self._emit(out, d)
                self.buf = bytearray()
            self.k += 1
            self.got = 0

    def _emit(self, out: list[bytes], b: bytes) -> None:
        self.total += len(b)
        self.crc = zlib.crc32(b, self.crc)
        out.append(b)

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        self._complete(out)
        if self.k != len(self.table.segments):
            raise CorruptError("corrupt stream: the frames end before the segment table's last segment")
        if self.total != self.table.size:
            raise CorruptError(f"corrupt stream: rebuilt {self.total} bytes, the segment table says {self.table.size}")
        if self.crc != self.table.crc:
            raise ChecksumError("checksum mismatch: the rebuilt data is not the original")
        return out
