"""Ray Data benchmark for docs/SCALE.md: compress then decompress a directory of files with lmz.ray on
a local Ray cluster, with 1 and 2 workers; checks the round trip bit for bit and that the .lmz
files do not depend on the number of workers.

    PYTHONPATH=. python tools/bench_ray.py --files 64 --file-size 16KiB --workers 1,2 --out /tmp/bench-ray

Reports per job: wall time (the whole Ray job: actors started, models opened, every item coded),
the workers' busy time (sum of the items' times in the workers) and from these the throughput per
worker while busy, the quantity a cluster plan scales.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def job(fn, label: str, **kw) -> dict:
    t0 = time.perf_counter()
    rows = fn(**kw).take_all()
    wall = time.perf_counter() - t0
    errors = [r for r in rows if r["error"]]
    if errors:
        raise SystemExit(f"{label}: {len(errors)} items failed, e.g. {errors[0]}")
    busy = sum(r["seconds"] for r in rows)
    raw = sum(r["size"] for r in rows)
    res = {"items": len(rows), "raw_bytes": raw, "lmz_bytes": sum(r["compressed"] for r in rows),
           "wall_s": round(wall, 2), "busy_s": round(busy, 2), "kB_s_job": round(raw / wall / 1000, 2),
           "kB_s_per_busy_worker": round(raw / busy / 1000, 2), "load": load()}
    print(label, res, flush=True)
    return res


def main() -> None:
    from bench_parallel import make_input

    import lmz.ray as lray
    from lmz.runtime.cli import parse_size

    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=64)
    ap.add_argument("--file-size", default="16KiB")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--model", default="text")
    ap.add_argument("--mix", default="on")
    ap.add_argument("--out", default="/tmp/lmz-bench-ray")
    a = ap.parse_args()
    import ray

    out = Path(a.out)
    src = out / "in"
    src.mkdir(parents=True, exist_ok=True)
    size = parse_size(a.file_size)
    make_input(out / "all.txt", size * a.files)
    data = (out / "all.txt").read_bytes()
    for i in range(a.files):
        (src / f"f{i:03d}.txt").write_bytes(data[i * size: (i + 1) * size])
    workers = [int(w) for w in a.workers.split(",")]
    ray.init(num_cpus=max(workers), include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    ray.data.DataContext.get_current().enable_progress_bars = False
    res: dict = {"files": a.files, "file_size": a.file_size, "model": a.model, "mix": a.mix, "cores": os.cpu_count()}
    try:
        for w in workers:
            z, back = out / f"z{w}", out / f"back{w}"
            res[f"compress_w{w}"] = job(lray.compress_files, f"compress w={w}", paths=src, output_dir=z, workers=w,
                                        model=a.model, mix=a.mix, overwrite=True, batch_size=1)
            res[f"decompress_w{w}"] = job(lray.decompress_files, f"decompress w={w}", paths=z, output_dir=back,
                                          workers=w, overwrite=True, batch_size=1)
            cmp = filecmp.dircmp(src, back)
            res[f"roundtrip_w{w}"] = not (cmp.diff_files or cmp.left_only or cmp.right_only) and all(
                (src / f).read_bytes() == (back / f).read_bytes() for f in os.listdir(src))
        w0 = workers[0]
        res["lmz_files_identical_across_workers"] = all(
            (out / f"z{w0}" / f).read_bytes() == (out / f"z{w}" / f).read_bytes()
            for w in workers[1:] for f in os.listdir(out / f"z{w0}"))
        for k in ("compress", "decompress"):
            if len(workers) > 1:
                res[f"{k}_speedup_w{workers[-1]}_vs_w{w0}"] = round(
                    res[f"{k}_w{w0}"]["wall_s"] / res[f"{k}_w{workers[-1]}"]["wall_s"], 3)
    finally:
        ray.shutdown()
    (out / "results.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
