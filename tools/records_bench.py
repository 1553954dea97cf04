"""Records benchmark: independent records cut from each dataset's evaluation split, each compressed
on its own, the paper's regime (docs/bench/records.md).

    python tools/records_bench.py --data /tmp/recdata/records [--models /tmp/recmodels] --json docs/bench/records.json

Per dataset (tools/fetch_records.sh) and record size (2048 and 256 bytes): lmz with the model
trained on the dataset's train split (MODELS/NAME.onnx, with --models) and lmz with a dictionary
primed on the train split (lmz.train_dictionary, --dict-size; the 3-byte record header included;
every blob decoded back and compared), zstd -19 with a dictionary trained on the same train split
(the same record size; zstd's frame without dictionary id and checksum), zstd -19 alone, brotli -11,
PPMd order 6 (a varint length prepended, as in lmz-run bench); optionally a shipped model
(--also). Then, per dataset, the trained model's throughput: records compressed / decompressed in
batches vs the same model on the same bytes as one file (``lmz.compress(mix="off")``), and the
latency of one record alone. Evaluation splits are only measured, never trained or tuned on.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import lmz
from lmz.models import recordeval as rv
from lmz.runtime.dictionary import DEFAULT_SIZE
from lmz.studies.bench import _brotli, _ppmd

DATASETS = {"json": "jsonl", "changelog": "txt", "csv": "csv"}
SIZES = (2048, 256)


def _timed(fn, *a, **k):
    t0 = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t0


def classical(recs: list[bytes], train_recs: list[bytes], all_train: list[bytes], big: int) -> dict:
    """zstd -19 with its default dictionary size (110 KB, from `train_recs`) and, when `big`, with a
    dictionary of up to `big` bytes from all of the train split (the trainer takes at most a tenth of
    its samples), zstd alone, brotli, PPMd."""
    raw = sum(map(len, recs))
    d = rv.zstd_dict(train_recs)
    out = {"zstd19_dict": sum(rv.zstd_sizes(recs, d)) / raw if d is not None else None,
           "dict_bytes": len(d.as_bytes()) if d is not None else 0,
           "zstd19": sum(rv.zstd_sizes(recs, None)) / raw}
    if big:
        d = rv.zstd_dict(all_train, big)
        out["zstd19_bigdict"] = sum(rv.zstd_sizes(recs, d)) / raw if d is not None else None
        out["bigdict_bytes"] = len(d.as_bytes()) if d is not None else 0
    for name, (comp, decomp) in (("brotli11", _brotli()), ("ppmd6", _ppmd())):
        total = 0
        for r in recs:
            c = comp(r)
            assert decomp(c, len(r)) == r
            total += len(c)
        out[name] = total / raw
    return out


def lmz_rate(coder: dict, recs: list[bytes]) -> dict:
    """coder: {"model": m} or {"dictionary": d} (keyword arguments of the records functions)."""
    raw = sum(map(len, recs))
    blobs, te = _timed(lmz.compress_records, recs, **coder)
    back, td = _timed(lmz.decompress_records, blobs, **coder)
    if back != recs:
        raise SystemExit("records did not round-trip")
    return {"rate": sum(map(len, blobs)) / raw, "compress_kBps": raw / te / 1e3, "decompress_kBps": raw / td / 1e3}


def _whole(coder: dict, data: bytes) -> tuple[float, float]:
    """Seconds to compress and decompress `data` as one file with the same model: the model alone
    (mix off) for a model, one record (the primed stack coding the whole of it) for a dictionary."""
    if "dictionary" in coder:
        d = coder["dictionary"]
        blob, te = _timed(d.encode, data)
        back, td = _timed(d.decode, blob, len(data))
    else:
        blob, te = _timed(lmz.compress, data, model=coder["model"], mix="off")
        back, td = _timed(lmz.decompress, blob, model=coder["model"])
    assert back == data
    return te, td


def throughput(coder: dict, data: bytes, rec_size: int) -> dict:
    """Batched records vs the same model on the same bytes as one file, and the latency of one record
    alone (median of 3)."""
    recs = rv.cut(data, rec_size)
    r = lmz_rate(coder, recs)
    r2 = lmz_rate(dict(coder, threads=2), recs) if "dictionary" in coder else None
    te, td = _whole(coder, data)
    lat_c, lat_d = [], []
    for rec in recs[:3]:
        (b,), t = _timed(lmz.compress_records, [rec], **coder)
        lat_c.append(t)
        lat_d.append(_timed(lmz.decompress_record, b, **coder)[1])
    n = len(data)
    return {"bytes": n, "records_compress_kBps": r["compress_kBps"], "records_decompress_kBps": r["decompress_kBps"],
            "file_compress_kBps": n / te / 1e3, "file_decompress_kBps": n / td / 1e3,
            "compress_ratio": r["compress_kBps"] / (n / te / 1e3), "decompress_ratio": r["decompress_kBps"] / (n / td / 1e3),
            "latency_compress_ms": 1e3 * statistics.median(lat_c), "latency_decompress_ms": 1e3 * statistics.median(lat_d),
            "record_size": rec_size,
            **({"records_2threads_compress_kBps": r2["compress_kBps"], "records_2threads_decompress_kBps": r2["decompress_kBps"]}
               if r2 else {})}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="OUTDIR/records of tools/fetch_records.sh")
    p.add_argument("--models", type=Path, help="a folder with NAME.onnx per dataset (trained by lmz-train)")
    p.add_argument("--dict-size", type=int, default=DEFAULT_SIZE,
                   help="also rate an lmz dictionary of this many bytes (default: lmz's, 2 MiB) primed on the "
                   "train split (0: no)")
    p.add_argument("--eval-bytes", type=int, default=64 << 10, help="evaluation bytes per dataset and size")
    p.add_argument("--train-bytes", type=int, default=4 << 20, help="training bytes the dictionary sees")
    p.add_argument("--throughput-bytes", type=int, default=64 << 10)
    p.add_argument("--also", action="append", default=[], help="another model to rate (e.g. text-s)")
    p.add_argument("--only", action="append", help="datasets to run (default: all)")
    p.add_argument("--json", type=Path, help="write the results here")
    a = p.parse_args(argv)
    from lmz.runtime.api import load_model

    res = {"load_before": os.getloadavg(), "datasets": {}}
    for name in a.only or DATASETS:
        ext = DATASETS[name]
        ev = (a.data / name / f"eval.{ext}").read_bytes()
        tr = (a.data / name / f"train.{ext}").read_bytes()
        coders = {}
        if a.models:
            coders["lmz"] = {"model": load_model(str(a.models / f"{name}.onnx"), "cpu")}
        if a.dict_size:
            d, secs = _timed(lambda: lmz.train_dictionary([tr], size=a.dict_size))
            _, prime_s = _timed(d.primed)
            coders["lmz_dict"] = {"dictionary": d}
            print(f"{name}: dictionary of {len(d.prime):,} prime bytes, {len(d.to_bytes()):,}-byte file, "
                  f"primed in {prime_s:.1f} s", flush=True)
        others = {m: load_model(m, "cpu") for m in a.also}
        ds = res["datasets"][name] = {"eval_bytes_total": len(ev), "train_bytes_total": len(tr), "sizes": {}}
        if a.dict_size:
            ds["dict"] = {"prime_bytes": len(d.prime), "file_bytes": len(d.to_bytes()), "prime_seconds": prime_s}
        for size in SIZES:
            recs = rv.sample(rv.cut(ev, size), a.eval_bytes)
            train_recs = rv.sample(rv.cut(tr, size), a.train_bytes)
            row = {"records": len(recs), "raw": sum(map(len, recs)),
                   **classical(recs, train_recs, rv.cut(tr, size), a.dict_size)}
            for key, coder in coders.items():
                row[key] = lmz_rate(coder, recs)
                row[f"{key}_vs_zstd_dict"] = row[key]["rate"] / row["zstd19_dict"] if row["zstd19_dict"] else None
            for m, mo in others.items():
                row[f"lmz_{m}"] = lmz_rate({"model": mo}, recs)["rate"]
            ds["sizes"][size] = row
            print(f"{name} {size}: " + "".join(f"{k} {100 * row[k]['rate']:.2f}% ({row[f'{k}_vs_zstd_dict']:.3f} x "
                                               "zstd+dict)  " for k in coders)
                  + f"zstd+dict {100 * (row['zstd19_dict'] or 0):.2f}%  "
                  + (f"zstd+dict of {row['bigdict_bytes']:,} B {100 * (row['zstd19_bigdict'] or 0):.2f}%  "
                     if a.dict_size else "") + f"zstd {100 * row['zstd19']:.2f}%  "
                  f"brotli {100 * row['brotli11']:.2f}%  ppmd {100 * row['ppmd6']:.2f}%"
                  + "".join(f"  {m} {100 * row[f'lmz_{m}']:.2f}%" for m in others), flush=True)
        sample = b"".join(rv.sample(rv.cut(ev, 2048), a.throughput_bytes))
        for key, coder in coders.items():
            t = ds.setdefault("throughput", {})[key] = throughput(coder, sample, 2048)
            print(f"{name} {key} throughput on {t['bytes']:,} bytes: records {t['records_compress_kBps']:.1f} / "
                  f"{t['records_decompress_kBps']:.1f} kB/s, whole file {t['file_compress_kBps']:.1f} / "
                  f"{t['file_decompress_kBps']:.1f} kB/s -> {t['compress_ratio']:.2f} / {t['decompress_ratio']:.2f} x; "
                  f"one 2048-byte record: {t['latency_compress_ms']:.0f} / {t['latency_decompress_ms']:.0f} ms"
                  + (f"; 2 threads: records {t['records_2threads_compress_kBps']:.1f} / "
                     f"{t['records_2threads_decompress_kBps']:.1f} kB/s" if "records_2threads_compress_kBps" in t else ""),
                  flush=True)
    res["load_after"] = os.getloadavg()
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
