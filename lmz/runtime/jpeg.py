"""Baseline JPEG scans as their quantised DCT coefficients, re-encoded bit for bit.

A JPEG file's scan is Huffman-coded: like deflated data, no byte model predicts it (xz and zpaq
-m5 leave a photo at 97%). Its content, the quantised coefficients of 8x8 blocks, is very
predictable from the same frequency in the neighbouring blocks (packJPG, Lepton and paq8's JPEG
model all build on this). :func:`parse` reads a baseline (SOF0/SOF1, 8-bit, Huffman) JPEG whose one
scan holds all its components, :func:`decode` turns the scan's entropy-coded bytes into the
coefficients, :func:`planes` lays them out as an image of one plane per frequency for the raster
stack (and :func:`unplanes` takes them back), and :func:`encode` writes them back with the file's
own Huffman tables the way every baseline encoder does (DC differences, runs of zeros with ZRL and EOB, 1-bits padding before each
restart marker and at the end, 0xFF bytes stuffed with 0x00). The segment writer
(``segments.py``) keeps the coefficients only if :func:`encode` gives back the original bytes, so an
unusual encoder costs ratio, never data. Progressive and arithmetic-coded JPEGs, several scans,
12-bit samples stay as they are.

Integer arithmetic only; the kernels are compiled with numba.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .jit import njit

__all__ = ["Header", "parse", "decode", "encode", "planes", "unplanes", "coded_size"]

MAX_BLOCKS = 1 << 22  # 268 Mpixel of 4:4:4 data: a larger image stays raw


@dataclass
class Header:
    """What the coefficients' coding needs from a JPEG file's markers."""
    end: int  # where the scan's entropy-coded bytes start (after the SOS segment)
    width: int
    height: int
    comps: list  # per component in scan order: (H, V, DC table, AC table, quant table)
    restart: int  # MCUs per restart interval (0: none)
    tables: np.ndarray  # [8, 256] Huffman code of each symbol (DC tables 0-3, AC tables 4-7), -1: none
    lengths: np.ndarray  # [8, 256] its length in bits (0: the symbol has no code)
    quant: list  # the quantisation tables [4] (64 values in zigzag order, or None)

    @property
    def hmax(self) -> int:
        return max(c[0] for c in self.comps)

    @property
    def vmax(self) -> int:
        return max(c[1] for c in self.comps)

    @property
    def mcus(self) -> tuple[int, int]:
        """(MCU columns, MCU rows); a one-component scan's MCU is one block."""
        if len(self.comps) == 1:
            h, v = self.comps[0][:2]
            return -(-(-(-self.width * h // self.hmax)) // 8), -(-(-(-self.height * v // self.vmax)) // 8)
        return -(-self.width // (8 * self.hmax)), -(-self.height // (8 * self.vmax))

    def grid(self, c: int) -> tuple[int, int]:
        """(block columns, block rows) component `c` has in the scan (with the MCUs' padding blocks)."""
        mx, my = self.mcus
        if len(self.comps) == 1:
            return mx, my
        return mx * self.comps[c][0], my * self.comps[c][1]

    @property
    def blocks(self) -> int:
        return sum(gx * gy for gx, gy in (self.grid(c) for c in range(len(self.comps))))


def _canonical(counts: bytes, symbols: bytes):
    """Per symbol: its canonical Huffman code and length (JPEG Annex C), or None for a bad table."""
    code, k = 0, 0
    codes = np.full(256, -1, np.int64)
    lens = np.zeros(256, np.int64)
    for n in range(1, 17):
        for _ in range(counts[n - 1]):
            s = symbols[k]
            if lens[s]:
                return None  # a symbol twice
            codes[s], lens[s] = code, n
            code += 1
            k += 1
        if code > 1 << n:
            return None
        code <<= 1
    return codes, lens


def parse(data: bytes) -> Header | None:
    """The header of a baseline JPEG at the start of `data`, up to its (only) scan; None for anything
    else (progressive, arithmetic coding, 12-bit, a scan without every component, bad tables)."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    tables = np.full((8, 256), -1, np.int64)
    lengths = np.zeros((8, 256), np.int64)
    quant: list = [None] * 4
    frame, restart, pos = None, 0, 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        m = data[pos + 1]
        if m == 0xFF:  # fill bytes before a marker
            pos += 1
            continue
        n = struct.unpack_from(">H", data, pos + 2)[0]
        seg = data[pos + 4:pos + 2 + n]
        if n < 2 or len(seg) != n - 2:
            return None
        if m in (0xC0, 0xC1):  # baseline / extended sequential, Huffman
            if frame is not None or len(seg) < 6 or seg[0] != 8:
                return None
            h, w, nf = struct.unpack_from(">HHB", seg, 1)
            if not (1 <= nf <= 4 and len(seg) == 6 + 3 * nf and w and h):
                return None
            frame = {seg[6 + 3 * i]: (seg[7 + 3 * i] >> 4, seg[7 + 3 * i] & 15, seg[8 + 3 * i]) for i in range(nf)}
            if len(frame) != nf or any(not (1 <= hh <= 4 and 1 <= vv <= 4 and tq < 4) for hh, vv, tq in frame.values()):
                return None
            width, height = w, h
        elif 0xC2 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):  # progressive, lossless, arithmetic
            return None
        elif m == 0xC4:
            i = 0
            while i < len(seg):
                if i + 17 > len(seg) or seg[i] >> 4 > 1 or seg[i] & 15 > 3:
                    return None
                t = (seg[i] >> 4) * 4 + (seg[i] & 15)
                total = sum(seg[i + 1:i + 17])
                if total > 256 or i + 17 + total > len(seg):
                    return None
                got = _canonical(seg[i + 1:i + 17], seg[i + 17:i + 17 + total])
                if got is None:
                    return None
                tables[t], lengths[t] = got
                i += 17 + total
        elif m == 0xDB:
            i = 0
            while i < len(seg):
                if seg[i] >> 4 or seg[i] & 15 > 3 or i + 65 > len(seg):
                    return None  # 16-bit tables only come with 12-bit samples
                quant[seg[i] & 15] = list(seg[i + 1:i + 65])
                i += 65
        elif m == 0xDD:
            if len(seg) != 2:
                return None
            restart = struct.unpack(">H", seg)[0]
        elif m == 0xDA:
            if frame is None or not seg or len(seg) != 4 + 2 * seg[0]:
                return None
            ns = seg[0]
            ids = [seg[1 + 2 * i] for i in range(ns)]
            if sorted(ids) != sorted(frame) or len(set(ids)) != ns:
                return None
            if tuple(seg[1 + 2 * ns:]) != (0, 63, 0):
                return None
            comps = []
            for i in range(ns):
                hh, vv, tq = frame[ids[i]]
                td, ta = seg[2 + 2 * i] >> 4, seg[2 + 2 * i] & 15
                if td > 3 or ta > 3 or quant[tq] is None:
                    return None
                comps.append((hh, vv, td, 4 + ta, tq))
            hdr = Header(pos + 2 + n, width, height, comps, restart, tables, lengths, quant)
            if ns > 1 and sum(c[0] * c[1] for c in comps) > 10:
                return None
            if hdr.blocks > MAX_BLOCKS:
                return None
            return hdr
        elif m in (0xD8, 0xD9) or 0xD0 <= m <= 0xD7:
            return None
        pos += 2 + n
    return None


def _layout(h: Header):
    """Per block of the scan, in coding order: (component, block column, block row), as arrays, and
    the offset of each component's blocks in the coefficient array."""
    mx, my = h.mcus
    nc = len(h.comps)
    grids = [h.grid(c) for c in range(nc)]
    base = np.cumsum([0] + [gx * gy for gx, gy in grids])
    if nc == 1:
        order = np.arange(mx * my, dtype=np.int64)
        return order, np.zeros(mx * my, np.int64), base
    idx = []
    comp = []
    for y in range(my):
        for x in range(mx):
            for c, (hh, vv, *_) in enumerate(h.comps):
                gx = grids[c][0]
                for v in range(vv):
                    for u in range(hh):
                        idx.append(base[c] + (y * vv + v) * gx + x * hh + u)
                        comp.append(c)
    return np.array(idx, np.int64), np.array(comp, np.int64), base


def _dec_tables(h: Header):
    """Decoding tables per Huffman table: for code length n, the first code, the last code + 1, and the
    index of its first symbol in the symbols-by-code list."""
    first = np.zeros((8, 17), np.int64)
    last = np.zeros((8, 17), np.int64)
    start = np.zeros((8, 17), np.int64)
    syms = np.zeros((8, 256), np.int64)
    for t in range(8):
        order = sorted((h.lengths[t, s], h.tables[t, s], s) for s in range(256) if h.lengths[t, s])
        k = 0
        for n in range(1, 17):
            group = [o for o in order if o[0] == n]
            start[t, n] = k
            if group:
                first[t, n], last[t, n] = group[0][1], group[-1][1] + 1
            for o in group:
                syms[t, k] = o[2]
                k += 1
    return first, last, start, syms


@njit(cache=True, nogil=True, inline="always")
def _bit(data, pos, acc, bits):
    """The next bit of the entropy-coded bytes at data[pos:] (a 0xFF byte is followed by a stuffed
    0x00): (bit, pos, acc, bits), bit -1 at a marker or the end."""
    if bits == 0:
        if pos >= data.shape[0]:
            return -1, pos, acc, bits
        acc = np.int64(data[pos])
        if acc == 0xFF:
            if pos + 1 >= data.shape[0] or data[pos + 1] != 0:
                return -1, pos, acc, bits
            pos += 1
        pos += 1
        bits = 8
    bits -= 1
    return (acc >> bits) & 1, pos, acc, bits


@njit(cache=True, nogil=True)
def _decode(data, pos, order, comp, dct, act, restart, mcu_blocks, first, last, start, syms, coef):
    """Decode the scan at data[pos:] into coef[blocks, 64] (zigzag order); returns the position after
    the entropy-coded bytes (at the marker that ends them), or -1 if they do not decode."""
    n = data.shape[0]
    acc = np.int64(0)
    bits = np.int64(0)
    pred = np.zeros(4, np.int64)
    rst = 0
    for b in range(order.shape[0]):
        if restart and b and b % (restart * mcu_blocks) == 0:
            bits = 0  # the rest of the byte is padding, then RSTn
            if pos + 1 >= n or data[pos] != 0xFF or data[pos + 1] != 0xD0 + (rst & 7):
                return -1
            pos += 2
            rst += 1
            pred[:] = 0
        c = comp[b]
        blk = order[b]
        coef[blk, :] = 0
        k = 0
        while k < 64:
            t = dct[c] if k == 0 else act[c]
            code = np.int64(0)
            sym = -1
            for ln in range(1, 17):  # the Huffman code, bit by bit
                bit, pos, acc, bits = _bit(data, pos, acc, bits)
                if bit < 0:
                    return -1
                code = (code << 1) | bit
                if first[t, ln] <= code < last[t, ln]:
                    sym = syms[t, start[t, ln] + code - first[t, ln]]
                    break
            if sym < 0:
                return -1
            r, s = (0, sym) if k == 0 else (sym >> 4, sym & 15)
            if k == 0 and s > 11:
                return -1
            if k > 0 and s == 0:
                if r != 15:
                    break  # EOB
                k += 16  # ZRL
                if k > 64:
                    return -1
                continue
            k += r
            if k > 63 or (k > 0 and s > 10):
                return -1
            v = np.int64(0)
            for _ in range(s):
                bit, pos, acc, bits = _bit(data, pos, acc, bits)
                if bit < 0:
                    return -1
                v = (v << 1) | bit
            if s and v < (1 << (s - 1)):
                v -= (1 << s) - 1
            if k == 0:
                pred[c] += v
                if not -32768 <= pred[c] <= 32767:
                    return -1  # beyond any 8-bit image's DC: not kept as 16-bit coefficients
                coef[blk, 0] = pred[c]
            else:
                coef[blk, k] = v
            k += 1
    if pos + 1 >= n or data[pos] != 0xFF or data[pos + 1] == 0:
        return -1
    return pos


@njit(cache=True, nogil=True, inline="always")
def _put(out, o, acc, bits, word, n):
    """Append the n low bits of word (most significant first) to the bit buffer (acc, bits), writing
    whole bytes to out[o:] with a 0x00 after each 0xFF: (o, acc, bits), o -1 when out is full."""
    for i in range(n - 1, -1, -1):
        acc = (acc << 1) | ((word >> i) & 1)
        bits += 1
        if bits == 8:
            if o + 2 > out.shape[0]:
                return -1, acc, bits
            out[o] = acc & 0xFF
            o += 1
            if acc & 0xFF == 0xFF:
                out[o] = 0
                o += 1
            acc = 0
            bits = 0
    return o, acc, bits


@njit(cache=True, nogil=True)
def _encode(coef, order, comp, dct, act, restart, mcu_blocks, codes, lens, out):
    """The scan's entropy-coded bytes of coef into out; returns their length, or -1 if a value has no
    code in the tables or out is too small."""
    o = 0
    acc = np.int64(0)
    bits = np.int64(0)
    pred = np.zeros(4, np.int64)
    rst = 0
    nb = order.shape[0]
    for b in range(nb + 1):
        if b == nb or (restart and b and b % (restart * mcu_blocks) == 0):
            if bits:  # pad the last byte with 1-bits
                o, acc, bits = _put(out, o, acc, bits, 0xFF, 8 - bits)
                if o < 0:
                    return -1
            if b == nb:
                break
            if o + 2 > out.shape[0]:
                return -1
            out[o] = 0xFF
            out[o + 1] = 0xD0 + (rst & 7)
            o += 2
            rst += 1
            pred[:] = 0
        c = comp[b]
        blk = order[b]
        run = 0
        for k in range(64):
            if k == 0:
                v = coef[blk, 0] - pred[c]
                pred[c] = coef[blk, 0]
                t = dct[c]
            else:
                v = coef[blk, k]
                t = act[c]
                if v == 0:
                    run += 1
                    if k < 63:
                        continue
                    if lens[t, 0] == 0:  # EOB
                        return -1
                    o, acc, bits = _put(out, o, acc, bits, codes[t, 0], lens[t, 0])
                    if o < 0:
                        return -1
                    continue
                while run > 15:  # ZRL
                    if lens[t, 0xF0] == 0:
                        return -1
                    o, acc, bits = _put(out, o, acc, bits, codes[t, 0xF0], lens[t, 0xF0])
                    if o < 0:
                        return -1
                    run -= 16
            a = -v if v < 0 else v
            s = 0
            while a >> s:
                s += 1
            if (k == 0 and s > 11) or (k > 0 and s > 10):
                return -1
            sym = s if k == 0 else (run << 4) | s
            run = 0
            ln = lens[t, sym]
            if ln == 0:
                return -1
            extra = v if v >= 0 else v + (1 << s) - 1
            o, acc, bits = _put(out, o, acc, bits, (codes[t, sym] << s) | (extra & ((1 << s) - 1)), ln + s)
            if o < 0:
                return -1
    return o


def _args(h: Header):
    order, comp, _ = _layout(h)
    dct = np.array([c[2] for c in h.comps], np.int64)
    act = np.array([c[3] for c in h.comps], np.int64)
    mcu_blocks = 1 if len(h.comps) == 1 else sum(c[0] * c[1] for c in h.comps)
    return order, comp, dct, act, mcu_blocks


def decode(data: bytes, h: Header) -> tuple[np.ndarray, int] | None:
    """(coefficients [blocks, 64] int16 in zigzag order, component by component; the end of the
    scan's entropy-coded bytes) of the file `data` with header `h`, or None if the scan does not
    decode."""
    order, comp, dct, act, mcu_blocks = _args(h)
    first, last, start, syms = _dec_tables(h)
    coef = np.zeros((h.blocks, 64), np.int16)
    end = _decode(np.frombuffer(data, np.uint8), h.end, order, comp, dct, act, h.restart, mcu_blocks,
                  first, last, start, syms, coef)
    return None if end < 0 else (coef, end)


def encode(coef: np.ndarray, h: Header, size_hint: int) -> bytes | None:
    """The scan's entropy-coded bytes of `coef` (as :func:`decode` gives them), or None."""
    order, comp, dct, act, mcu_blocks = _args(h)
    cap = max(size_hint, 1024)
    while True:
        out = np.zeros(cap, np.uint8)
        n = _encode(coef, order, comp, dct, act, h.restart, mcu_blocks, h.tables, h.lengths, out)
        if n >= 0:
            return out[:n].tobytes()
        if cap > 4 * coef.shape[0] * 64 * 4 + 1024:
            return None
        cap *= 2


@njit(cache=True, nogil=True)
def _dc_residuals(dc, inverse):
    """DC values [rows, cols] <-> their residuals from the median edge predictor (LOCO-I) of the
    left, upper and upper-left blocks' values (`inverse`: residuals in, values out), in place."""
    gy, gx = dc.shape
    val = dc.copy() if not inverse else np.zeros_like(dc)
    for y in range(gy):
        for x in range(gx):
            w = val[y, x - 1] if x else (val[y - 1, x] if y else 0)
            n = val[y - 1, x] if y else w
            nw = val[y - 1, x - 1] if x and y else n
            p = max(w, n) if nw <= min(w, n) else min(w, n) if nw >= max(w, n) else w + n - nw
            if inverse:
                val[y, x] = dc[y, x] + p
            else:
                dc[y, x] = val[y, x] - p
    if inverse:
        dc[:, :] = val


def _bands(h: Header) -> list[list[int]]:
    """The components of each band of the coefficient image, in order: component 0 alone, then the
    others side by side in one band when they share a block grid that fits the image's width twice
    or more (Cb and Cr at 4:2:0 or 4:2:2), else each alone."""
    rest = list(range(1, len(h.comps)))
    grids = {h.grid(c) for c in rest}
    if len(rest) > 1 and len(grids) == 1 and len(rest) * grids.pop()[0] <= h.grid(0)[0]:
        return [[0], rest]
    return [[0]] + [[c] for c in rest]


def _header(h: Header) -> bytes:
    return PGM_HEADER % (h.grid(0)[0], 64 * sum(h.grid(band[0])[1] for band in _bands(h)))


def planes(h: Header, coef: np.ndarray) -> bytes | None:
    """The coefficients as one 8-bit gray image (a binary PGM, so that the raster stack codes them with
    its 2-D contexts) as wide as component 0's blocks per row: per band of components (:func:`_bands`),
    per zigzag frequency, a plane of the band's block rows, each row its components' block rows side
    by side, padded with zeros; the DC plane holds residuals of a DC predictor. Each value v is the
    byte v + 128 when -127 <= v <= 126, else 0, with v after the image as two bytes (v + 32768,
    big-endian), in the image's order. None if a value is beyond 16 bits."""
    width = h.grid(0)[0]
    _, _, base = _layout(h)
    pix, esc = [], []
    for band in _bands(h):
        gy = h.grid(band[0])[1]
        vals = np.zeros((64, gy, width), np.int32)  # padding: value 0
        x = 0
        for c in band:
            gx = h.grid(c)[0]
            cc = coef[base[c]:base[c + 1]].reshape(gy, gx, 64).transpose(2, 0, 1)
            dc = cc[0].astype(np.int64)
            _dc_residuals(dc, False)
            if dc.size and np.abs(dc).max() > 32767:
                return None
            vals[:, :, x:x + gx] = cc
            vals[0, :, x:x + gx] = dc
            x += gx
        mask = (vals < -127) | (vals > 126)
        pix.append(np.where(mask, 0, vals + 128).astype(np.uint8).tobytes())
        esc.append((vals[mask] + 32768).astype(">u2").tobytes())
    return _header(h) + b"".join(pix) + b"".join(esc)


PGM_HEADER = b"P5\n%d %d\n255\n"


def coded_size(h: Header) -> int:
    """The bytes of the image :func:`planes` makes for header `h` (without its escaped values)."""
    return len(_header(h)) + h.grid(0)[0] * 64 * sum(h.grid(band[0])[1] for band in _bands(h))


def unplanes(h: Header, data) -> np.ndarray | None:
    """The coefficients back (int16, as :func:`decode` gives them) from what :func:`planes` made, or
    None if `data` is not such an image for header `h`."""
    width = h.grid(0)[0]
    head = _header(h)
    n = coded_size(h)
    if bytes(data[:len(head)]) != head or len(data) < n:
        return None
    pix = np.frombuffer(data, np.uint8, n - len(head), len(head))
    escapes = np.frombuffer(data, ">u2", (len(data) - n) // 2, n)
    if len(data) != n + 2 * int(np.count_nonzero(pix == 0)):
        return None
    _, _, base = _layout(h)
    coef = np.zeros((h.blocks, 64), np.int16)
    row, e = 0, 0
    for band in _bands(h):
        gy = h.grid(band[0])[1]
        vals = pix[row * width:(row + 64 * gy) * width].reshape(64, gy, width).astype(np.int16) - 128
        mask = vals == -128
        k = int(np.count_nonzero(mask))
        vals[mask] = (escapes[e:e + k].astype(np.int32) - 32768).astype(np.int16)
        e += k
        x = 0
        for c in band:
            gx = h.grid(c)[0]
            img = vals[:, :, x:x + gx]
            dc = img[0].astype(np.int64)
            _dc_residuals(dc, True)
            if dc.size and np.abs(dc).max() > 32767:
                return None
            img[0] = dc
            coef[base[c]:base[c + 1]] = img.transpose(1, 2, 0).reshape(gx * gy, 64)
            x += gx
        row += 64 * gy
    return coef if e == len(escapes) else None
