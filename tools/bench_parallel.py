"""Benchmarks for docs/bench/parallel.md: -T N wall time and peak memory, onnxruntime intra-op threads
vs worker processes, and lmz.open's cost for a small read at the end of a large file.

    PYTHONPATH=. python tools/bench_parallel.py --size 16MiB --only t --out /tmp/bench       # -T 2 vs -T 1
    PYTHONPATH=. python tools/bench_parallel.py --only ort,open --ort-size 64KiB \
        --open-frame-size 256KiB --big 32MiB --out /tmp/bench                            # threads, lmz.open

Each part writes its own results-PART.json under --out (so the parts can run at different times).

Peak memory is the largest sum of the resident sets of the command and all its children (workers),
sampled every 50 ms from /proc.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def tree_rss(pid: int) -> int:
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


def timed(cmd: list[str], **kw) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, **kw)
    peak = 0
    while p.poll() is None:
        peak = max(peak, tree_rss(p.pid))
        time.sleep(0.05)
    dt = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}")
    return {"cmd": " ".join(cmd), "wall_s": round(dt, 2), "peak_rss_mib": round(peak / 2**20, 1)}


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def make_input(path: Path, size: int) -> None:
    data = bytearray()
    for root, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "golden")
        for f in sorted(files):
            if f.endswith((".py", ".md")):
                data += Path(root, f).read_bytes()
    while len(data) < size:
        data += bytes(data)
    path.write_bytes(bytes(data[:size]))


def main() -> None:
    from lmz.runtime.cli import parse_size

    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1MiB")
    ap.add_argument("--frame-size", default="4MiB", help="frames of the -T runs (4 MiB: lmz's default)")
    ap.add_argument("--mix", default="on")
    ap.add_argument("--model", default="text")
    ap.add_argument("--out", default="/tmp/lmz-bench-parallel")
    ap.add_argument("--big", default="32MiB", help="size of the large file for the lmz.open test")
    ap.add_argument("--open-frame-size", default=None, help="frames of the lmz.open test (default: --frame-size)")
    ap.add_argument("--ort-size", default="64KiB", help="frame size of the intra-op thread matrix (4 frames)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the lmz.open timings (best kept)")
    ap.add_argument("--only", default="t,ort,open", help="parts to run: t (-T 2 vs -T 1), ort, open")
    a = ap.parse_args()
    parts = set(a.only.split(","))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    src = out / "input.txt"
    make_input(src, parse_size(a.size))
    cli = [sys.executable, "-m", "lmz.runtime.cli"]
    base = {"size": a.size, "mix": a.mix, "model": a.model, "cores": os.cpu_count()}
    if "ort" in parts:
        res = base | {"ort_matrix": ort_matrix(src, parse_size(a.ort_size), a), "ort_frame_size": a.ort_size}
        (out / "results-ort.json").write_text(json.dumps(res, indent=1))
    if "open" in parts:
        fs = parse_size(a.open_frame_size or a.frame_size)
        res = base | {"open": open_bench(src, fs, parse_size(a.big), a, out, env, cli)}
        (out / "results-open.json").write_text(json.dumps(res, indent=1))
    if "t" in parts:
        res = base | {"frame_size": a.frame_size} | t_runs(src, a, out, env, cli)
        (out / "results-t.json").write_text(json.dumps(res, indent=1))
        print(json.dumps(res, indent=1))


def t_runs(src: Path, a, out: Path, env: dict, cli: list) -> dict:
    """-T 1 then -T 2 through the command line (process start and model load included)."""
    res: dict = {}
    common = ["-q", "-f", "-m", a.model, "--mix", a.mix, "--frame-size", a.frame_size]
    for t in (1, 2):
        res[f"compress_T{t}"] = timed(cli + common + ["-T", str(t), "--seekable", "-o", str(out / f"T{t}.lmz"), str(src)],
                                      env=env) | {"load": load()}
        print(res[f"compress_T{t}"], flush=True)
    res["identical"] = (out / "T1.lmz").read_bytes() == (out / "T2.lmz").read_bytes()
    for t in (1, 2):
        res[f"decompress_T{t}"] = timed(cli + ["-d", "-q", "-f", "-T", str(t), "-o", str(out / f"back{t}"),
                                               str(out / "T1.lmz")], env=env) | {"load": load()}
        res[f"roundtrip_T{t}"] = (out / f"back{t}").read_bytes() == src.read_bytes()
        print(res[f"decompress_T{t}"], flush=True)
    res["compressed_bytes"] = (out / "T1.lmz").stat().st_size
    for k in ("compress", "decompress"):
        res[f"{k}_ratio_T2_T1"] = round(res[f"{k}_T2"]["wall_s"] / res[f"{k}_T1"]["wall_s"], 3)
    return res


def ort_matrix(src: Path, fs: int, a) -> list:
    """Compress 4 frames of `fs` bytes in-process for (workers, intra-op threads) pairs (models loaded
    and workers started outside the timing)."""
    from lmz.runtime import api

    raw = src.read_bytes()[: 4 * fs]
    rows = []
    for threads, ort in ((1, 0), (1, 1), (1, 2), (2, 1), (2, 2)):
        if threads == 1:
            model = api.load_model(a.model, "cpu", threads=ort)
            c = api.Compressor(model, mix=a.mix, frame_size=fs)
        else:
            c = api.Compressor(a.model, "cpu", mix=a.mix, frame_size=fs, threads=threads, ort_threads=ort)
            c.compress(raw[:100])  # start the workers (and load their models) outside the timing
        t0 = time.perf_counter()
        c.compress(raw)
        dt = time.perf_counter() - t0
        c.close()
        rows.append({"workers": threads, "ort_intra_threads": ort or "default", "wall_s": round(dt, 2),
                     "load": load()})
        print(rows[-1], flush=True)
    return rows


def open_bench(src: Path, fs: int, big: int, a, out: Path, env: dict, cli: list) -> dict:
    """A large stream (stored frames of random bytes, then one modeled frame of text) with and
    without a seek index: time reading its last 4 KB through lmz.open, against decoding one frame."""
    import lmz
    from lmz.runtime import api
    from lmz.runtime import container as ct

    raw = src.read_bytes()[:fs]
    c = api.Compressor(a.model, "cpu", mix=a.mix, frame_size=fs)
    n_stored = max(0, big // fs - 1)
    offset = n_stored * fs
    last = c.frame_list(raw, offset)
    one_frame = c.compress(raw)  # a stream of that one frame (at offset 0: same work)
    (out / "one.lmz").write_bytes(one_frame)
    rnd = os.urandom(fs)
    for index in (True, False):
        c.index = index
        path = out / f"big-{'index' if index else 'noindex'}.lmz"
        with open(path, "wb") as f:
            f.write(c.header().pack())
            entries, crc = [], 0
            for _ in range(n_stored):
                fr = ct.pack_frame(rnd, None, None)
                f.write(fr)
                entries.append((len(fr), fs))
                crc = zlib_crc(rnd, crc)
            for fr, n in last:
                f.write(fr)
                entries.append((len(fr), n))
            crc = zlib_crc(raw, crc)
            f.write(ct.pack_end(offset + len(raw), crc))
            if index:
                f.write(ct.pack_index(entries))
    res = {"big_file_mib": round((out / "big-index.lmz").stat().st_size / 2**20, 1), "frames": n_stored + 1}
    model = api.load_model(a.model, "cpu")
    d = api.Decompressor(model)
    reps = a.reps
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        assert d.decompress(one_frame) == raw
        t.append(time.perf_counter() - t0)
    res["decode_one_frame_s"] = round(min(t), 3)
    for kind in ("index", "noindex"):
        t, t_open = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            with lmz.open(out / f"big-{kind}.lmz", model=model) as f:
                t1 = time.perf_counter()
                f.seek(-4096, io.SEEK_END)
                assert f.read() == raw[-4096:]
            t.append(time.perf_counter() - t0)
            t_open.append(t1 - t0)
        res[f"open_read_last_4k_{kind}_s"] = round(min(t), 3)
        res[f"open_locate_{kind}_s"] = round(min(t_open), 4)
    res["ratio_index"] = round(res["open_read_last_4k_index_s"] / res["decode_one_frame_s"], 3)
    # the same through the command line (each including process start and model load)
    res["cli_decode_one_frame"] = timed(cli + ["-d", "-q", "-c", str(out / "one.lmz")], env=env,
                                        stdout=subprocess.DEVNULL)
    res["cli_range_last_4k"] = timed(cli + ["-d", "-q", "-c", "--range", f"{offset + len(raw) - 4096}:",
                                            str(out / "big-index.lmz")], env=env, stdout=subprocess.DEVNULL)
    print(res, flush=True)
    return res


def zlib_crc(b: bytes, crc: int) -> int:
    import zlib

    return zlib.crc32(b, crc)


if __name__ == "__main__":
    main()
