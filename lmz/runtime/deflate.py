"""Deflate as zlib and GNU gzip write it, bit for bit, so that deflated data can be stored inflated.

A .gz, .tgz or zip member holds deflated bytes that no model can predict; inflated, the same data
compresses well (a source tarball: 27% of its .tar.gz). To store the inflated bytes losslessly the
decoder must deflate them again to exactly the original bytes, which only works when it runs the
same algorithm as the program that made them. Most deflate streams come from one of two programs:

* zlib (Python's gzip, tarfile and zipfile, setuptools, pip, git archive, Java's jar, libpng, ...):
  ``_deflate`` is zlib 1.2.12-1.3's ``deflate`` (``deflate.c``, ``trees.c``) for the default
  strategy: levels 1-9, memLevel 1-9, window bits 9-15, the whole input in one call and ``Z_FINISH``;
* GNU gzip (``gzip``, ``tar czf``): ``_deflate_gnu`` is gzip 1.x's own deflate, zlib's ancestor:
  the same matcher without zlib's end-of-input guards, blocks of at most 32767 symbols or 32768
  matches, cut early when a block of 4096 * k symbols compresses to under half (levels 3-9).

Both share the Huffman stage (``_flush_block``): trees built with zlib's heap order, depth tie-break
and length-limit repair, and the choice of stored, fixed or dynamic block. Written from the
algorithms' descriptions and checked against the system's zlib and gzip on many inputs
(tests/test_deflate.py); the system's zlib is never used to decode, so a machine whose zlib differs
(zlib-ng, libdeflate) decodes the same. The emulation is literal where the output depends on it,
down to the window's slide (what ``longest_match`` may read past the end of the input is what the
original reads). The encoder of a stream (``lmz/runtime/segments.py``) only relies on this module
after it has reproduced the original bytes exactly, so a deviation costs ratio (the stream is kept
deflated), never data. Integer arithmetic only: the same on every CPU.
"""
from __future__ import annotations

import numpy as np

from .jit import njit

__all__ = ["deflate", "reproduces", "find_params", "bound", "check", "ZLIB", "GNU", "DEFAULT", "FILTERED", "LEVELS", "MEM_LEVELS", "WBITS"]

LEVELS = range(1, 10)
MEM_LEVELS = range(1, 10)
WBITS = range(9, 16)

MIN_MATCH, MAX_MATCH = 3, 258
MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1
TOO_FAR = 4096
L_CODES, D_CODES, BL_CODES = 286, 30, 19
HEAP_SIZE = 2 * L_CODES + 1
MAX_BITS, MAX_BL_BITS = 15, 7
END_BLOCK = 256

# per level: good_length, max_lazy (deflate_fast: max_insert_length), nice_length, max_chain
CONFIG = np.array([[0, 0, 0, 0], [4, 4, 8, 4], [4, 5, 16, 8], [4, 6, 32, 32], [4, 4, 16, 16],
                   [8, 16, 32, 32], [8, 16, 128, 128], [8, 32, 128, 256], [32, 128, 258, 1024],
                   [32, 258, 258, 4096]], dtype=np.int64)
EXTRA_LBITS = np.array([0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0], dtype=np.int64)
EXTRA_DBITS = np.array([0, 0, 0, 0] + [i // 2 for i in range(2, 28)], dtype=np.int64)
EXTRA_BLBITS = np.array([0] * 16 + [2, 3, 7], dtype=np.int64)
BL_ORDER = np.array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15], dtype=np.int64)


def _reverse(code: int, n: int) -> int:
    return int(f"{code:0{n}b}"[::-1], 2)


def _static_tables():
    base_length = np.zeros(29, np.int64)
    length_code = np.zeros(256, np.int64)
    length = 0
    for code in range(28):
        base_length[code] = length
        for _ in range(1 << EXTRA_LBITS[code]):
            length_code[length] = code
            length += 1
    length_code[length - 1] = 28  # length 258 has its own code
    base_dist = np.zeros(D_CODES, np.int64)
    dist_code = np.zeros(512, np.int64)
    dist = 0
    for code in range(16):
        base_dist[code] = dist
        for _ in range(1 << EXTRA_DBITS[code]):
            dist_code[dist] = code
            dist += 1
    dist >>= 7
    for code in range(16, D_CODES):
        base_dist[code] = dist << 7
        for _ in range(1 << (EXTRA_DBITS[code] - 7)):
            dist_code[256 + dist] = code
            dist += 1
    slen = np.array([8] * 144 + [9] * 112 + [7] * 24 + [8] * 8, dtype=np.int64)
    scode = np.zeros(288, np.int64)
    count = np.bincount(slen, minlength=MAX_BITS + 1)
    nxt, code = np.zeros(MAX_BITS + 1, np.int64), 0
    for bits in range(1, MAX_BITS + 1):
        code = (code + count[bits - 1]) << 1
        nxt[bits] = code
    for n in range(288):
        scode[n] = _reverse(int(nxt[slen[n]]), int(slen[n]))
        nxt[slen[n]] += 1
    sdlen = np.full(D_CODES, 5, np.int64)
    sdcode = np.array([_reverse(n, 5) for n in range(D_CODES)], dtype=np.int64)
    return base_length, length_code, base_dist, dist_code, slen, scode, sdlen, sdcode


BASE_LENGTH, LENGTH_CODE, BASE_DIST, DIST_CODE, SL_LEN, SL_CODE, SD_LEN, SD_CODE = _static_tables()


# -- bit writer: bw = [bit buffer, bit count, output position, failure (1 mismatch, 2 full)] ----
@njit(cache=True, nogil=True)
def _put_byte(bw, out, expect, check, b):
    p = bw[2]
    if p >= out.shape[0]:
        bw[3] = 2
        return
    out[p] = b
    if check and (p >= expect.shape[0] or expect[p] != b):
        bw[3] = 1
    bw[2] = p + 1


@njit(cache=True, nogil=True)
def _send_bits(bw, out, expect, check, value, length):
    bw[0] |= value << bw[1]
    bw[1] += length
    while bw[1] >= 8:
        _put_byte(bw, out, expect, check, bw[0] & 255)
        bw[0] >>= 8
        bw[1] -= 8


@njit(cache=True, nogil=True)
def _windup(bw, out, expect, check):
    if bw[1] > 0:
        _put_byte(bw, out, expect, check, bw[0] & 255)
    bw[0] = 0
    bw[1] = 0


# -- Huffman trees (trees.c) --------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _smaller(freq, depth, n, m):
    return freq[n] < freq[m] or (freq[n] == freq[m] and depth[n] <= depth[m])


@njit(cache=True, nogil=True)
def _downheap(freq, depth, heap, heap_len, k):
    v = heap[k]
    j = k << 1
    while j <= heap_len:
        if j < heap_len and _smaller(freq, depth, heap[j + 1], heap[j]):
            j += 1
        if _smaller(freq, depth, v, heap[j]):
            break
        heap[k] = heap[j]
        k = j
        j <<= 1
    heap[k] = v


@njit(cache=True, nogil=True)
def _build_tree(freq, ln, dad, code, elems, slen, has_stree, extra, extra_base, max_length, heap, depth, bl_count,
                acc):
    """zlib's build_tree + gen_bitlen + gen_codes; acc = [opt_len, static_len]. Returns max_code."""
    heap_len = 0
    heap_max = HEAP_SIZE
    max_code = -1
    for n in range(elems):
        if freq[n] != 0:
            heap_len += 1
            heap[heap_len] = n
            max_code = n
            depth[n] = 0
        else:
            ln[n] = 0
    while heap_len < 2:  # at least two codes of non-zero frequency
        if max_code < 2:
            max_code += 1
            node = max_code
        else:
            node = 0
        heap_len += 1
        heap[heap_len] = node
        freq[node] = 1
        depth[node] = 0
        acc[0] -= 1
        if has_stree:
            acc[1] -= slen[node]
    for n in range(heap_len // 2, 0, -1):
        _downheap(freq, depth, heap, heap_len, n)
    node = elems
    while True:
        n = heap[1]
        heap[1] = heap[heap_len]
        heap_len -= 1
        _downheap(freq, depth, heap, heap_len, 1)
        m = heap[1]
        heap_max -= 1
        heap[heap_max] = n
        heap_max -= 1
        heap[heap_max] = m
        freq[node] = (freq[n] + freq[m]) & 0xFFFF
        depth[node] = ((depth[n] if depth[n] >= depth[m] else depth[m]) + 1) & 0xFF
        dad[n] = node
        dad[m] = node
        heap[1] = node
        node += 1
        _downheap(freq, depth, heap, heap_len, 1)
        if heap_len < 2:
            break
    heap_max -= 1
    heap[heap_max] = heap[1]
    # gen_bitlen
    for b in range(MAX_BITS + 1):
        bl_count[b] = 0
    ln[heap[heap_max]] = 0
    overflow = 0
    h = heap_max + 1
    while h < HEAP_SIZE:
        n = heap[h]
        bits = ln[dad[n]] + 1
        if bits > max_length:
            bits = max_length
            overflow += 1
        ln[n] = bits
        h += 1
        if n > max_code:
            continue
        bl_count[bits] += 1
        xbits = extra[n - extra_base] if n >= extra_base else 0
        f = freq[n]
        acc[0] += f * (bits + xbits)
        if has_stree:
            acc[1] += f * (slen[n] + xbits)
    if overflow > 0:
        while True:
            bits = max_length - 1
            while bl_count[bits] == 0:
                bits -= 1
            bl_count[bits] -= 1
            bl_count[bits + 1] += 2
            bl_count[max_length] -= 1
            overflow -= 2
            if overflow <= 0:
                break
        h = HEAP_SIZE
        for bits in range(max_length, 0, -1):
            n = bl_count[bits]
            while n != 0:
                h -= 1
                m = heap[h]
                if m > max_code:
                    continue
                if ln[m] != bits:
                    acc[0] += (bits - ln[m]) * freq[m]
                    ln[m] = bits
                n -= 1
    # gen_codes
    nxt = np.zeros(MAX_BITS + 1, np.int64)
    c = 0
    for bits in range(1, MAX_BITS + 1):
        c = (c + bl_count[bits - 1]) << 1
        nxt[bits] = c
    for n in range(max_code + 1):
        b = ln[n]
        if b == 0:
            continue
        v = nxt[b]
        nxt[b] += 1
        r = 0
        for _ in range(b):
            r = (r << 1) | (v & 1)
            v >>= 1
        code[n] = r
    return max_code


@njit(cache=True, nogil=True)
def _scan_tree(ln, max_code, blfreq):
    prevlen = -1
    nextlen = ln[0]
    count = 0
    max_count, min_count = 7, 4
    if nextlen == 0:
        max_count, min_count = 138, 3
    ln[max_code + 1] = 0xFFFF  # guard
    for n in range(max_code + 1):
        curlen = nextlen
        nextlen = ln[n + 1]
        count += 1
        if count < max_count and curlen == nextlen:
            continue
        elif count < min_count:
            blfreq[curlen] += count
        elif curlen != 0:
            if curlen != prevlen:
                blfreq[curlen] += 1
            blfreq[16] += 1
        elif count <= 10:
            blfreq[17] += 1
        else:
            blfreq[18] += 1
        count = 0
        prevlen = curlen
        if nextlen == 0:
            max_count, min_count = 138, 3
        elif curlen == nextlen:
            max_count, min_count = 6, 3
        else:
            max_count, min_count = 7, 4


@njit(cache=True, nogil=True)
def _send_tree(ln, max_code, blln, blcode, bw, out, expect, check):
    prevlen = -1
    nextlen = ln[0]
    count = 0
    max_count, min_count = 7, 4
    if nextlen == 0:
        max_count, min_count = 138, 3
    for n in range(max_code + 1):
        curlen = nextlen
        nextlen = ln[n + 1]
        count += 1
        if count < max_count and curlen == nextlen:
            continue
        elif count < min_count:
            while count != 0:
                _send_bits(bw, out, expect, check, blcode[curlen], blln[curlen])
                count -= 1
        elif curlen != 0:
            if curlen != prevlen:
                _send_bits(bw, out, expect, check, blcode[curlen], blln[curlen])
                count -= 1
            _send_bits(bw, out, expect, check, blcode[16], blln[16])
            _send_bits(bw, out, expect, check, count - 3, 2)
        elif count <= 10:
            _send_bits(bw, out, expect, check, blcode[17], blln[17])
            _send_bits(bw, out, expect, check, count - 3, 3)
        else:
            _send_bits(bw, out, expect, check, blcode[18], blln[18])
            _send_bits(bw, out, expect, check, count - 11, 7)
        count = 0
        prevlen = curlen
        if nextlen == 0:
            max_count, min_count = 138, 3
        elif curlen == nextlen:
            max_count, min_count = 6, 3
        else:
            max_count, min_count = 7, 4


@njit(cache=True, nogil=True)
def _d_code(dist):
    return DIST_CODE[dist] if dist < 256 else DIST_CODE[256 + (dist >> 7)]


@njit(cache=True, nogil=True)
def _compress_block(sym_d, sym_lc, nsym, lcode, lln, dcode, dln, bw, out, expect, check):
    for i in range(nsym):
        dist = sym_d[i]
        lc = sym_lc[i]
        if dist == 0:
            _send_bits(bw, out, expect, check, lcode[lc], lln[lc])
        else:
            code = LENGTH_CODE[lc]
            _send_bits(bw, out, expect, check, lcode[code + 257], lln[code + 257])
            extra = EXTRA_LBITS[code]
            if extra != 0:
                _send_bits(bw, out, expect, check, lc - BASE_LENGTH[code], extra)
            dist -= 1
            code = _d_code(dist)
            _send_bits(bw, out, expect, check, dcode[code], dln[code])
            extra = EXTRA_DBITS[code]
            if extra != 0:
                _send_bits(bw, out, expect, check, dist - BASE_DIST[code], extra)
    _send_bits(bw, out, expect, check, lcode[END_BLOCK], lln[END_BLOCK])


@njit(cache=True, nogil=True)
def _flush_block(t, window, block_start, stored_len, last, sym_d, sym_lc, nsym, bw, out, expect, check):
    """zlib's _tr_flush_block (then init_block). `t`: the trees' arrays (see _deflate)."""
    (lfreq, lln, ldad, lcode, dfreq, dln, ddad, dcode, blfreq, blln, bldad, blcode, heap, depth, bl_count, acc) = t
    lmax = _build_tree(lfreq, lln, ldad, lcode, L_CODES, SL_LEN, True, EXTRA_LBITS, 257, MAX_BITS, heap, depth,
                       bl_count, acc)
    dmax = _build_tree(dfreq, dln, ddad, dcode, D_CODES, SD_LEN, True, EXTRA_DBITS, 0, MAX_BITS, heap, depth,
                       bl_count, acc)
    _scan_tree(lln, lmax, blfreq)
    _scan_tree(dln, dmax, blfreq)
    _build_tree(blfreq, blln, bldad, blcode, BL_CODES, SL_LEN, False, EXTRA_BLBITS, 0, MAX_BL_BITS, heap, depth,
                bl_count, acc)
    max_blindex = BL_CODES - 1
    while max_blindex >= 3:
        if blln[BL_ORDER[max_blindex]] != 0:
            break
        max_blindex -= 1
    acc[0] += 3 * (max_blindex + 1) + 5 + 5 + 4
    opt_lenb = (acc[0] + 3 + 7) >> 3
    static_lenb = (acc[1] + 3 + 7) >> 3
    if static_lenb <= opt_lenb:
        opt_lenb = static_lenb
    if stored_len + 4 <= opt_lenb and block_start >= 0:
        _send_bits(bw, out, expect, check, last, 3)
        _windup(bw, out, expect, check)
        _send_bits(bw, out, expect, check, stored_len & 0xFFFF, 16)
        _send_bits(bw, out, expect, check, ~stored_len & 0xFFFF, 16)
        for i in range(stored_len):
            _put_byte(bw, out, expect, check, window[block_start + i])
    elif static_lenb == opt_lenb:
        _send_bits(bw, out, expect, check, 2 + last, 3)
        _compress_block(sym_d, sym_lc, nsym, SL_CODE, SL_LEN, SD_CODE, SD_LEN, bw, out, expect, check)
    else:
        _send_bits(bw, out, expect, check, 4 + last, 3)
        _send_bits(bw, out, expect, check, lmax + 1 - 257, 5)
        _send_bits(bw, out, expect, check, dmax + 1 - 1, 5)
        _send_bits(bw, out, expect, check, max_blindex + 1 - 4, 4)
        for rank in range(max_blindex + 1):
            _send_bits(bw, out, expect, check, blln[BL_ORDER[rank]], 3)
        _send_tree(lln, lmax, blln, blcode, bw, out, expect, check)
        _send_tree(dln, dmax, blln, blcode, bw, out, expect, check)
        _compress_block(sym_d, sym_lc, nsym, lcode, lln, dcode, dln, bw, out, expect, check)
    # init_block
    lfreq[:L_CODES] = 0
    dfreq[:D_CODES] = 0
    blfreq[:BL_CODES] = 0
    lfreq[END_BLOCK] = 1
    acc[0] = 0
    acc[1] = 0
    if last:
        _windup(bw, out, expect, check)


@njit(cache=True, nogil=True)
def _new_trees():
    """The three trees' freq, len, dad and code arrays, the heap, depth, bl_count and [opt_len, static_len]."""
    t = (np.zeros(HEAP_SIZE, np.int64), np.zeros(HEAP_SIZE, np.int64), np.zeros(HEAP_SIZE, np.int64),
         np.zeros(HEAP_SIZE, np.int64), np.zeros(2 * D_CODES + 1, np.int64), np.zeros(2 * D_CODES + 1, np.int64),
         np.zeros(2 * D_CODES + 1, np.int64), np.zeros(2 * D_CODES + 1, np.int64),
         np.zeros(2 * BL_CODES + 1, np.int64), np.zeros(2 * BL_CODES + 1, np.int64),
         np.zeros(2 * BL_CODES + 1, np.int64), np.zeros(2 * BL_CODES + 1, np.int64),
         np.zeros(HEAP_SIZE + 1, np.int64), np.zeros(HEAP_SIZE + 1, np.int64), np.zeros(MAX_BITS + 1, np.int64),
         np.zeros(2, np.int64))
    t[0][END_BLOCK] = 1
    return t


# -- deflate.c ----------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _longest_match(window, prev, strstart, cur_match, prev_length, good, nice, chain, lookahead, max_dist, w_mask,
                   match_start):
    chain_length = chain
    best_len = prev_length
    limit = strstart - max_dist if strstart > max_dist else 0
    if prev_length >= good:
        chain_length >>= 2
    if nice > lookahead:
        nice = lookahead
    scan_end1 = window[strstart + best_len - 1]
    scan_end = window[strstart + best_len]
    while True:
        m = cur_match
        if (window[m + best_len] == scan_end and window[m + best_len - 1] == scan_end1
                and window[m] == window[strstart] and window[m + 1] == window[strstart + 1]):
            k = 3  # zlib skips byte 2: the hash chain makes it equal
            while k < MAX_MATCH and window[strstart + k] == window[m + k]:
                k += 1
            if k > best_len:
                match_start = cur_match
                best_len = k
                if k >= nice:
                    break
                scan_end1 = window[strstart + best_len - 1]
                scan_end = window[strstart + best_len]
        cur_match = prev[cur_match & w_mask]
        if cur_match <= limit:
            break
        chain_length -= 1
        if chain_length == 0:
            break
    return (best_len if best_len <= lookahead else lookahead), match_start


@njit(cache=True, nogil=True)
def _deflate(data, level, mem_level, wbits, filtered, out, expect, check):
    """Raw deflate of `data` into `out`; returns the output length, -1 when `check` and the output
    departs from `expect`, -2 when `out` is too small. `filtered`: strategy Z_FILTERED (libpng's
    default for filtered rows: lazy matches of at most 5 bytes are dropped)."""
    good, lazy, nice, chain = CONFIG[level, 0], CONFIG[level, 1], CONFIG[level, 2], CONFIG[level, 3]
    slow = level >= 4
    w_size = 1 << wbits
    w_mask = w_size - 1
    window_size = 2 * w_size
    max_dist = w_size - MIN_LOOKAHEAD
    hash_bits = mem_level + 7
    hash_mask = (1 << hash_bits) - 1
    hash_shift = (hash_bits + MIN_MATCH - 1) // MIN_MATCH
    sym_end = (1 << (mem_level + 6)) - 1
    window = np.zeros(window_size, np.uint8)
    head = np.zeros(1 << hash_bits, np.int64)
    prev = np.zeros(w_size, np.int64)
    sym_d = np.zeros(sym_end + 1, np.int64)
    sym_lc = np.zeros(sym_end + 1, np.int64)
    t = _new_trees()
    lfreq, dfreq = t[0], t[4]
    bw = np.zeros(4, np.int64)
    n = data.shape[0]
    inpos = 0
    strstart = 0
    block_start = 0
    lookahead = 0
    ins_h = 0
    match_length = MIN_MATCH - 1
    prev_length = MIN_MATCH - 1
    match_available = False
    match_start = 0
    prev_match = 0
    nsym = 0
    while True:
        if lookahead < MIN_LOOKAHEAD:  # fill_window
            while True:
                more = window_size - lookahead - strstart
                if strstart >= w_size + max_dist:
                    window[:w_size - more] = window[w_size:window_size - more]
                    match_start -= w_size
                    strstart -= w_size
                    block_start -= w_size
                    for i in range(head.shape[0]):
                        head[i] = head[i] - w_size if head[i] >= w_size else 0
                    for i in range(w_size):
                        prev[i] = prev[i] - w_size if prev[i] >= w_size else 0
                    more += w_size
                if inpos >= n:
                    break
                k = min(more, n - inpos)
                window[strstart + lookahead: strstart + lookahead + k] = data[inpos: inpos + k]
                inpos += k
                lookahead += k
                if lookahead >= MIN_MATCH:
                    ins_h = ((np.int64(window[strstart]) << hash_shift) ^ window[strstart + 1]) & hash_mask
                if not (lookahead < MIN_LOOKAHEAD and inpos < n):
                    break
            if lookahead == 0:
                break
        hash_head = 0
        if lookahead >= MIN_MATCH:
            ins_h = ((ins_h << hash_shift) ^ window[strstart + 2]) & hash_mask
            hash_head = head[ins_h]
            prev[strstart & w_mask] = hash_head
            head[ins_h] = strstart
        bflush = False
        if slow:
            prev_length = match_length
            prev_match = match_start
            match_length = MIN_MATCH - 1
            if hash_head != 0 and prev_length < lazy and strstart - hash_head <= max_dist:
                match_length, match_start = _longest_match(window, prev, strstart, hash_head, prev_length, good, nice,
                                                           chain, lookahead, max_dist, w_mask, match_start)
                if match_length <= 5 and (filtered or (match_length == MIN_MATCH
                                                       and strstart - match_start > TOO_FAR)):
                    match_length = MIN_MATCH - 1
            if prev_length >= MIN_MATCH and match_length <= prev_length:
                max_insert = strstart + lookahead - MIN_MATCH
                dist = strstart - 1 - prev_match
                sym_d[nsym] = dist
                sym_lc[nsym] = prev_length - MIN_MATCH
                nsym += 1
                lfreq[LENGTH_CODE[prev_length - MIN_MATCH] + 257] += 1
                dfreq[_d_code(dist - 1)] += 1
                bflush = nsym == sym_end
                lookahead -= prev_length - 1
                prev_length -= 2
                while True:
                    strstart += 1
                    if strstart <= max_insert:
                        ins_h = ((ins_h << hash_shift) ^ window[strstart + 2]) & hash_mask
                        prev[strstart & w_mask] = head[ins_h]
                        head[ins_h] = strstart
                    prev_length -= 1
                    if prev_length == 0:
                        break
                match_available = False
                match_length = MIN_MATCH - 1
                strstart += 1
                if bflush:
                    _flush_block(t, window, block_start, strstart - block_start, 0, sym_d, sym_lc, nsym, bw, out,
                                 expect, check)
                    nsym = 0
                    block_start = strstart
            elif match_available:
                c = window[strstart - 1]
                sym_d[nsym] = 0
                sym_lc[nsym] = c
                nsym += 1
                lfreq[c] += 1
                if nsym == sym_end:
                    _flush_block(t, window, block_start, strstart - block_start, 0, sym_d, sym_lc, nsym, bw, out,
                                 expect, check)
                    nsym = 0
                    block_start = strstart
                strstart += 1
                lookahead -= 1
            else:
                match_available = True
                strstart += 1
                lookahead -= 1
        else:
            if hash_head != 0 and strstart - hash_head <= max_dist:
                match_length, match_start = _longest_match(window, prev, strstart, hash_head, MIN_MATCH - 1, good,
                                                           nice, chain, lookahead, max_dist, w_mask, match_start)
            if match_length >= MIN_MATCH:
                dist = strstart - match_start
                sym_d[nsym] = dist
                sym_lc[nsym] = match_length - MIN_MATCH
                nsym += 1
                lfreq[LENGTH_CODE[match_length - MIN_MATCH] + 257] += 1
                dfreq[_d_code(dist - 1)] += 1
                bflush = nsym == sym_end
                lookahead -= match_length
                if match_length <= lazy and lookahead >= MIN_MATCH:
                    match_length -= 1
                    while True:
                        strstart += 1
                        ins_h = ((ins_h << hash_shift) ^ window[strstart + 2]) & hash_mask
                        prev[strstart & w_mask] = head[ins_h]
                        head[ins_h] = strstart
                        match_length -= 1
                        if match_length == 0:
                            break
                    strstart += 1
                else:
                    strstart += match_length
                    match_length = 0
                    ins_h = ((np.int64(window[strstart]) << hash_shift) ^ window[strstart + 1]) & hash_mask
            else:
                c = window[strstart]
                sym_d[nsym] = 0
                sym_lc[nsym] = c
                nsym += 1
                lfreq[c] += 1
                bflush = nsym == sym_end
                lookahead -= 1
                strstart += 1
            if bflush:
                _flush_block(t, window, block_start, strstart - block_start, 0, sym_d, sym_lc, nsym, bw, out, expect,
                             check)
                nsym = 0
                block_start = strstart
        if bw[3] != 0:
            return -bw[3]
    if slow and match_available:
        c = window[strstart - 1]
        sym_d[nsym] = 0
        sym_lc[nsym] = c
        nsym += 1
        lfreq[c] += 1
    _flush_block(t, window, block_start, strstart - block_start, 1, sym_d, sym_lc, nsym, bw, out, expect, check)
    if bw[3] != 0:
        return -bw[3]
    if check and bw[2] != expect.shape[0]:
        return -1
    return bw[2]


# -- GNU gzip's deflate.c (gzip 1.x: the program behind `gzip` and `tar czf`) --------------------
GNU_LIT_BUFSIZE = 0x8000
GNU_DIST_BUFSIZE = 0x8000
_NO_CLAMP = 1 << 40  # gzip's longest_match neither caps nice_match nor its result by the lookahead


@njit(cache=True, nogil=True)
def _deflate_gnu(data, level, out, expect, check):
    """GNU gzip's deflate of `data` (32 KiB window, 15 hash bits, blocks of at most 32767 symbols or
    32768 matches, or cut early every 4096 symbols when level > 2 and the block compresses well);
    returns as _deflate."""
    good, lazy, nice, chain = CONFIG[level, 0], CONFIG[level, 1], CONFIG[level, 2], CONFIG[level, 3]
    w_size = 1 << 15
    w_mask = w_size - 1
    window_size = 2 * w_size
    max_dist = w_size - MIN_LOOKAHEAD
    hash_mask = w_size - 1
    window = np.zeros(window_size + 2 * MAX_MATCH, np.uint8)  # gzip may read a little past its window
    head = np.zeros(w_size, np.int64)
    prev = np.zeros(w_size, np.int64)
    sym_d = np.zeros(GNU_LIT_BUFSIZE, np.int64)
    sym_lc = np.zeros(GNU_LIT_BUFSIZE, np.int64)
    t = _new_trees()
    lfreq, dfreq = t[0], t[4]
    bw = np.zeros(4, np.int64)
    n = data.shape[0]
    inpos = 0
    eofile = False
    strstart = 0
    block_start = 0
    lookahead = 0
    ins_h = 0
    match_length = MIN_MATCH - 1 if level > 3 else 0
    match_available = False
    match_start = 0
    nsym = 0
    ndist = 0
    first = True
    while True:
        while lookahead < MIN_LOOKAHEAD and not eofile:  # fill_window
            more = window_size - lookahead - strstart
            if strstart >= w_size + max_dist:
                window[:w_size] = window[w_size:window_size]
                match_start -= w_size
                strstart -= w_size
                block_start -= w_size
                for i in range(w_size):
                    head[i] = head[i] - w_size if head[i] >= w_size else 0
                    prev[i] = prev[i] - w_size if prev[i] >= w_size else 0
                more += w_size
            k = min(more, n - inpos)
            if k == 0:
                eofile = True
                window[strstart + lookahead: strstart + lookahead + MIN_MATCH - 1] = 0
            else:
                window[strstart + lookahead: strstart + lookahead + k] = data[inpos: inpos + k]
                inpos += k
                lookahead += k
        if first:  # lm_init, after its first reads
            ins_h = ((np.int64(window[0]) << 5) ^ window[1]) & hash_mask
            first = False
        if lookahead == 0:
            break
        ins_h = ((ins_h << 5) ^ window[strstart + 2]) & hash_mask
        hash_head = head[ins_h]
        prev[strstart & w_mask] = hash_head
        head[ins_h] = strstart
        if level > 3:
            prev_length = match_length
            prev_match = match_start
            match_length = MIN_MATCH - 1
            if (hash_head != 0 and prev_length < lazy and strstart - hash_head <= max_dist
                    and strstart <= window_size - MIN_LOOKAHEAD):
                match_length, match_start = _longest_match(window, prev, strstart, hash_head, prev_length, good, nice,
                                                           chain, _NO_CLAMP, max_dist, w_mask, match_start)
                if match_length > lookahead:
                    match_length = lookahead
                if match_length == MIN_MATCH and strstart - match_start > TOO_FAR:
                    match_length -= 1
            if prev_length >= MIN_MATCH and match_length <= prev_length:
                dist, lc = strstart - 1 - prev_match, prev_length - MIN_MATCH
            elif match_available:
                dist, lc = 0, np.int64(window[strstart - 1])
            else:
                match_available = True
                strstart += 1
                lookahead -= 1
                continue
        else:
            if hash_head != 0 and strstart - hash_head <= max_dist and strstart <= window_size - MIN_LOOKAHEAD:
                match_length, match_start = _longest_match(window, prev, strstart, hash_head, MIN_MATCH - 1, good,
                                                           nice, chain, _NO_CLAMP, max_dist, w_mask, match_start)
                if match_length > lookahead:
                    match_length = lookahead
            if match_length >= MIN_MATCH:
                dist, lc = strstart - match_start, match_length - MIN_MATCH
            else:
                dist, lc = 0, np.int64(window[strstart])
        # ct_tally
        sym_d[nsym] = dist
        sym_lc[nsym] = lc
        nsym += 1
        if dist == 0:
            lfreq[lc] += 1
        else:
            ndist += 1
            lfreq[LENGTH_CODE[lc] + 257] += 1
            dfreq[_d_code(dist - 1)] += 1
        flush = False
        if level > 2 and (nsym & 0xFFF) == 0:
            out_length = nsym * 8
            for dcode in range(D_CODES):
                out_length += dfreq[dcode] * (5 + EXTRA_DBITS[dcode])
            out_length >>= 3
            if ndist < nsym // 2 and out_length < (strstart - block_start) // 2:
                flush = True
        if nsym == GNU_LIT_BUFSIZE - 1 or ndist == GNU_DIST_BUFSIZE:
            flush = True
        if level > 3:
            if dist != 0:
                lookahead -= prev_length - 1
                prev_length -= 2
                while True:
                    strstart += 1
                    ins_h = ((ins_h << 5) ^ window[strstart + 2]) & hash_mask
                    prev[strstart & w_mask] = head[ins_h]
                    head[ins_h] = strstart
                    prev_length -= 1
                    if prev_length == 0:
                        break
                match_available = False
                match_length = MIN_MATCH - 1
                strstart += 1
                if flush:
                    _flush_block(t, window, block_start, strstart - block_start, 0, sym_d, sym_lc, nsym, bw, out,
                                 expect, check)
                    nsym = ndist = 0
                    block_start = strstart
            else:
                if flush:
                    _flush_block(t, window, block_start, strstart - block_start, 0, sym_d, sym_lc, nsym, bw, out,
                                 expect, check)
                    nsym = ndist = 0
                    block_start = strstart
                strstart += 1
                lookahead -= 1
        else:
            if dist != 0:
                lookahead -= match_length
                if match_length <= lazy:
                    match_length -= 1
                    while True:
                        strstart += 1
                        ins_h = ((ins_h << 5) ^ window[strstart + 2]) & hash_mask
                        prev[strstart & w_mask] = head[ins_h]
                        head[ins_h] = strstart
                        match_length -= 1
                        if match_length == 0:
                            break
                    strstart += 1
                else:
                    strstart += match_length
                    match_length = 0
                    ins_h = ((np.int64(window[strstart]) << 5) ^ window[strstart + 1]) & hash_mask
            else:
                lookahead -= 1
                strstart += 1
            if flush:
                _flush_block(t, window, block_start, strstart - block_start, 0, sym_d, sym_lc, nsym, bw, out, expect,
                             check)
                nsym = ndist = 0
                block_start = strstart
        if bw[3] != 0:
            return -bw[3]
    if level > 3 and match_available:
        c = window[strstart - 1]
        sym_d[nsym] = 0
        sym_lc[nsym] = c
        nsym += 1
        lfreq[c] += 1
    _flush_block(t, window, block_start, strstart - block_start, 1, sym_d, sym_lc, nsym, bw, out, expect, check)
    if bw[3] != 0:
        return -bw[3]
    if check and bw[2] != expect.shape[0]:
        return -1
    return bw[2]


ZLIB, GNU = 1, 2  # the implementations (and their segment kinds, runtime/segments.py)
DEFAULT, FILTERED = 0, 1  # zlib's strategies Z_DEFAULT_STRATEGY and Z_FILTERED
STRATEGIES = (DEFAULT, FILTERED)


def check(impl: int, level: int, mem_level: int, wbits: int, strategy: int = DEFAULT) -> None:
    """ValueError unless these are parameters this module implements."""
    if impl not in (ZLIB, GNU) or level not in LEVELS or mem_level not in MEM_LEVELS or wbits not in WBITS or (
            strategy not in STRATEGIES) or (impl == GNU and (mem_level, wbits, strategy) != (8, 15, DEFAULT)):
        raise ValueError(f"deflate parameters out of range: implementation {impl}, level {level}, memLevel "
                         f"{mem_level}, wbits {wbits}, strategy {strategy}")


_NOTHING = np.frombuffer(b"", dtype=np.uint8)  # read-only, as `expect` always is (one compiled signature)


def bound(n: int) -> int:
    """The most bytes deflate writes for n input bytes (with room to spare)."""
    return n + (n >> 3) + 1024


def _run(impl, a, level, mem_level, wbits, strategy, out, expect, check) -> int:
    if impl == GNU:
        return _deflate_gnu(a, level, out, expect, check)
    return _deflate(a, level, mem_level, wbits, strategy == FILTERED, out, expect, check)


def deflate(data, level: int = 6, mem_level: int = 8, wbits: int = 15, impl: int = ZLIB,
            strategy: int = DEFAULT) -> bytes:
    """Raw deflate (no zlib or gzip wrapper) of `data`: as zlib's ``compressobj(level, DEFLATED,
    -wbits, mem_level, strategy)`` writes it (strategy DEFAULT or FILTERED), or with ``impl=GNU`` as
    GNU gzip's ``gzip -LEVEL`` (memLevel 8, 15 window bits and DEFAULT only)."""
    check(impl, level, mem_level, wbits, strategy)
    a = np.frombuffer(data if isinstance(data, bytes) else bytes(data), dtype=np.uint8)  # read-only: one signature
    out = np.zeros(bound(len(a)), np.uint8)
    n = _run(impl, a, level, mem_level, wbits, strategy, out, _NOTHING, False)
    if n < 0:  # cannot happen: the bound covers stored blocks and their headers
        raise ValueError("deflate output exceeded its bound")
    return out[:n].tobytes()


def reproduces(data, deflated, level: int, mem_level: int = 8, wbits: int = 15, impl: int = ZLIB,
               strategy: int = DEFAULT) -> bool:
    """Whether deflating `data` with these parameters gives exactly `deflated` (stops at the
    first differing byte, so a wrong guess costs about one block)."""
    check(impl, level, mem_level, wbits, strategy)
    a = np.frombuffer(bytes(data), dtype=np.uint8)
    e = np.frombuffer(bytes(deflated), dtype=np.uint8)
    out = np.zeros(len(e) + 1, np.uint8)
    return _run(impl, a, level, mem_level, wbits, strategy, out, e, True) == len(e)


# the order parameters are tried in: zlib's default level, then its others at the default memLevel,
# then memLevel 9; then GNU gzip's default level, its -9, and the others
SEARCH = ([(ZLIB, lv, 8) for lv in (6, 9, 1, 5, 4, 7, 8, 3, 2)] + [(ZLIB, lv, 9) for lv in (9, 6)]
          + [(GNU, lv, 8) for lv in (6, 9, 1, 5, 4, 7, 8, 3, 2)])


def find_params(data, deflated, prefer: tuple = (), wbits: int = 15,
                strategies: tuple = (DEFAULT,)) -> tuple[int, int, int, int, int] | None:
    """(implementation, level, memLevel, window bits, strategy) under which this module turns
    `data` into exactly `deflated`, or None. `prefer`: (implementation, level, memLevel) to try
    first (a guess from the container's header: a wrong try can run long when two levels agree for
    a while); `strategies`: zlib's to try, in order (GNU gzip has only DEFAULT)."""
    for impl, level, mem in [*prefer, *(p for p in SEARCH if p not in prefer)]:
        for strategy in strategies if impl == ZLIB else (DEFAULT,):
            if (impl == ZLIB or wbits == 15) and reproduces(data, deflated, level, mem, wbits, impl, strategy):
                return impl, level, mem, wbits, strategy
    return None
