"""Development-file comparison for docs/bench/blocks.md: lmz --mix on, lmz --mix auto, xz -9e and
zpaq -m5 on the same files in the same run (every auto stream is decompressed and compared).

    python tools/blocks_bench.py FILE...      # a markdown table on stdout
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import lmz
from lmz.runtime import api


def frame_kinds(blob: bytes) -> list[str]:
    """`02`, `03/p<preset>` or `01` per frame."""
    return [f"{kind:02d}" + (f"/p{preset}" if preset else "") for kind, preset in api.scan(blob)["frame_kinds"]]


def zpaq_size(path: str) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as d:
        arc = os.path.join(d, "a.zpaq")
        t = time.time()
        subprocess.run(["zpaq", "a", arc, path, "-m5"], capture_output=True, check=True)
        return os.path.getsize(arc), time.time() - t


def timed(fn):
    t = time.time()
    out = fn()
    return out, time.time() - t


def main(paths: list[str]) -> None:
    print("| file | bytes | xz -9e | zpaq -m5 | lmz --mix on | s | lmz auto | s | auto frames |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for path in paths:
        d = open(path, "rb").read()
        xz = len(subprocess.run(["xz", "-9e", "-c", path], capture_output=True, check=True).stdout)
        zp, tz = zpaq_size(path)
        on, ton = timed(lambda: lmz.compress(d, mix="on"))
        au, tau = timed(lambda: lmz.compress(d))
        assert lmz.decompress(au) == d

        def pc(n: int) -> str:
            return f"{100 * n / len(d):.2f}%"
        print(f"| {os.path.basename(path)} | {len(d)} | {pc(xz)} | {pc(zp)} ({tz:.1f} s) | {pc(len(on))} | "
              f"{ton:.1f} | {pc(len(au))} | {tau:.1f} | {' '.join(frame_kinds(au))} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
