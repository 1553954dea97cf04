"""Per-record rates on held-out data: an exported lmz model vs zstd -19 with a dictionary trained
on the same training data (zstd's answer to small records, `zstd --train`).

Records are cut from the data the same way on both sides: `lines` (each with its newline) or
fixed-size chunks of N bytes. lmz's size of a record is its blob from ``lmz.compress_records``
(3 bytes of overhead included); zstd's is one zstd frame per record (level 19, the dictionary's id
and the checksum left out since the reader knows the dictionary, the content size kept).
"""
from __future__ import annotations

import time

import numpy as np

DICT_SIZE = 112_640  # zstd --train's default --maxdict


def cut(data: bytes, spec) -> list[bytes]:
    """`data` as records: spec 'lines' (kept ends) or an int N (chunks of N; a shorter tail dropped)."""
    if spec == "lines":
        out = data.split(b"\n")
        recs = [x + b"\n" for x in out[:-1]]
        return recs + ([out[-1]] if out[-1] else [])
    n = int(spec)
    return [data[i: i + n] for i in range(0, len(data) - n + 1, n)]


def parse_spec(text: str):
    if text == "lines":
        return "lines"
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"--records {text!r}: 'lines' or a record size in bytes") from None
    if not 1 <= n <= 1 << 20:
        raise ValueError("--records: a size of 1..1048576 bytes")
    return n


def sample(recs: list[bytes], max_bytes: int, seed: int = 0) -> list[bytes]:
    """An evenly spread subset of `recs` holding at most about `max_bytes` (all of them if they fit)."""
    total = sum(len(r) for r in recs)
    if total <= max_bytes or not recs:
        return recs
    k = max(1, int(len(recs) * max_bytes / total))
    idx = np.linspace(0, len(recs) - 1, k).astype(int)
    return [recs[i] for i in idx]


def zstd_dict(train_recs: list[bytes], dict_size: int = DICT_SIZE):
    """A zstd dictionary trained on `train_recs` (zstandard.train_dictionary), or None if the
    trainer refuses (too little data); the size shrinks with small training sets."""
    import zstandard

    total = sum(len(r) for r in train_recs)
    size = max(256, min(dict_size, total // 10))
    try:
        return zstandard.train_dictionary(size, train_recs)
    except zstandard.ZstdError:
        return None


def zstd_sizes(recs: list[bytes], d) -> list[int]:
    import zstandard

    c = zstandard.ZstdCompressor(level=19, dict_data=d, write_checksum=False, write_dict_id=False,
                                 write_content_size=True)
    return [len(c.compress(r)) for r in recs]


def compare(model, eval_recs: list[bytes], train_recs: list[bytes], log=None) -> dict:
    """Rates (compressed / raw) of `eval_recs`: lmz (`model`, blobs checked by decoding), zstd -19
    with a dictionary trained on `train_recs`, zstd -19 without one; and lmz's throughput."""
    import lmz

    raw = sum(len(r) for r in eval_recs)
    t0 = time.perf_counter()
    blobs = lmz.compress_records(eval_recs, model=model)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    if lmz.decompress_records(blobs, model=model) != eval_recs:
        raise AssertionError("records did not round-trip")  # cannot happen with a checked model
    t_dec = time.perf_counter() - t0
    d = zstd_dict(train_recs)
    out = {"records": len(eval_recs), "raw_bytes": raw, "lmz": sum(len(b) for b in blobs) / raw,
           "zstd19": sum(zstd_sizes(eval_recs, None)) / raw,
           "zstd19_dict": sum(zstd_sizes(eval_recs, d)) / raw if d is not None else None,
           "dict_bytes": len(d.as_bytes()) if d is not None else 0,
           "lmz_compress_kBps": raw / t_enc / 1e3, "lmz_decompress_kBps": raw / t_dec / 1e3}
    if out["zstd19_dict"]:
        out["lmz_vs_zstd_dict"] = out["lmz"] / out["zstd19_dict"]
    return out
