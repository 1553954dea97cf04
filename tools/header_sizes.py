"""Sizes of small inputs: lmz's default stream (and its header and end marker) beside xz -9e and
zstd -19 in the same run (docs/bench/small.md).

    python tools/header_sizes.py FILE     # FILE: text to cut the 1.5 KB and 35 KB inputs from
"""
from __future__ import annotations

import lzma
import sys

import zstandard

import lmz
from lmz.runtime import container as ct


def main(argv: list[str]) -> int:
    text = open(argv[1], "rb").read()
    rows = ["| input | lmz default | of which header + end marker | xz -9e | zstd -19 |", "|---|---:|---:|---:|---:|"]
    for label, data in (("0 B", b""), ("1.5 KB", text[:1536]), ("35 KB", text[:35 * 1024])):
        blob = lmz.compress(data)
        assert lmz.decompress(blob) == data
        h = lmz.read_header(blob)
        over = h.size + len(ct.pack_end(len(data), 0))
        xz = len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
        zs = len(zstandard.ZstdCompressor(level=19).compress(data))
        rows.append(f"| {label} | {len(blob):,} | {h.size} + {over - h.size} | {xz:,} | {zs:,} |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
