"""The end of `lmz-train --time-budget`: export the model (checked bit for bit against the numpy
reference, as lmz-export does), then measure it as the runtime will use it: held-out data cut into
records, each compressed on its own with ``lmz.compress_records`` (and decoded back), against
zstd -19 with a dictionary trained on the training blocks (lmz/models/recordeval.py)."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from . import recordeval as rv

TRAIN_SAMPLE = 4 << 20  # bytes of training records the zstd dictionary is trained on


def eval_bytes_for(budget_s: float) -> int:
    """Held-out bytes the report codes: about 100 bytes per second of budget, 16-256 KiB."""
    return int(min(256 << 10, max(16 << 10, 100 * budget_s)))


def export_and_report(model, info: dict, corpus, a, spec, budget_s: float, t_cmd: float, log) -> dict:
    from lmz.export.exporter import ExportError, export_model
    from lmz.runtime.api import load_model

    out = Path(a.export) if a.export else Path(a.out).with_suffix(".onnx")
    model.eval()
    train = {k: v for k, v in info.items() if k not in ("history", "records_report")}
    held = corpus.block_bytes(held_out=True)
    log(f"exporting {out} (the ONNX graph is checked bit for bit against the numpy reference)")
    try:
        md = export_model(model.int_weights(), dataclasses.asdict(model.cfg), out, chunk=1, real=held[0][:1 << 16],
                          meta={"lmz.train": train, "lmz.data_fingerprint": train.get("data_sha256", "")})
    except ExportError as e:
        raise SystemExit(f"lmz-train: the export failed, nothing written: {e}") from None
    log(f"wrote {out} ({int(md['lmz.bytes']):,} bytes, {int(md['lmz.params']):,} parameters): bit-exact")
    eval_recs = rv.sample([r for b in held for r in rv.cut(b, spec)], eval_bytes_for(budget_s))
    train_recs = rv.sample([r for b in corpus.block_bytes(held_out=False) for r in rv.cut(b, spec)], TRAIN_SAMPLE)
    if not eval_recs or not train_recs:
        log(f"no held-out records of {spec} bytes to report on (the data is too small for that record size)")
        return {}
    what = "lines" if spec == "lines" else f"{spec}-byte records"
    log(f"coding {len(eval_recs)} held-out {what} ({sum(map(len, eval_recs)):,} bytes) one by one with the "
        f"exported model, and with zstd -19 + a dictionary trained on {len(train_recs)} training records")
    res = rv.compare(load_model(str(out), "cpu"), eval_recs, train_recs)
    res.update(val_bpb_int=info.get("val_bpb_int"), record_spec=str(spec), onnx=str(out))
    zd = res["zstd19_dict"]
    lines = [f"held-out {what}: {res['records']} records, {res['raw_bytes']:,} bytes",
             f"  lmz (this model, 3-byte record header included) {100 * res['lmz']:6.2f}%"
             + (f"   = {res['lmz_vs_zstd_dict']:.2f} x zstd+dictionary" if zd else ""),
             f"  zstd -19 + {res['dict_bytes']:,}-byte dictionary {'':>5}{100 * zd:6.2f}%" if zd
             else "  zstd -19 + dictionary: the trainer refused (too little training data)",
             f"  zstd -19 (no dictionary) {'':>20}{100 * res['zstd19']:6.2f}%",
             f"  held-out bits/byte of the model (integer, as coded): {info.get('val_bpb_int', float('nan')):.3f}",
             f"  lmz records: {res['lmz_compress_kBps']:.1f} kB/s compress, {res['lmz_decompress_kBps']:.1f} kB/s "
             "decompress (this machine, now)"]
    for line in lines:
        log(line)
    log(f"done in {(time.time() - t_cmd) / 60:.1f} min. Use it: lmz-run records compress -m {out} FILE.jsonl, "
        f"lmz-run compress --mix off -m {out} FILE, or lmz.compress_records(recs, model={str(out)!r})")
    return res
