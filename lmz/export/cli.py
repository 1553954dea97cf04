"""`lmz-export model.pt [-o model.onnx] [--lanes N] [--chunk C]`: checkpoint -> checked ONNX file.

Exit codes: 0 written; 2 the checkpoint is missing, corrupt or of an unknown family;
3 the ONNX graph is not bit-exact against the numpy reference (nothing is written).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


def _err(msg: str, code: int):
    typer.echo(f"lmz-export: {msg}", err=True)
    raise typer.Exit(code)


@app.command()
def export(
    checkpoint: Path = typer.Argument(..., help="trained checkpoint (.pt) written by lmz-train"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="ONNX path (default: CHECKPOINT with .onnx)"),
    chunk: int = typer.Option(1, "--chunk", min=1, max=256, help="bytes per call (1 = the decoder's one-step graph)"),
    lanes: int = typer.Option(0, "--lanes", min=0, help="fix the lane count (0 = free lane axis)"),
    real: Optional[Path] = typer.Option(None, "--check-data", help="real bytes for the exactness check (default: built-in text)"),
    mix_params: Optional[str] = typer.Option(None, "--mix-params", help="JSON object: the mixing stack's parameters "
                                             "for this model's data (e.g. image geometry), used when compressing with it"),
):
    """Export CHECKPOINT to ONNX after proving the graph bit-exact against the numpy reference."""
    from lmz.models.registry import CheckpointError, load_checkpoint

    from .exporter import ExportError, export_model

    try:
        model, ck = load_checkpoint(checkpoint)
    except CheckpointError as e:
        _err(str(e).splitlines()[0], 2)
    weights = model.int_weights()
    cfg = json.loads(json.dumps(ck["config"]))
    train = {k: v for k, v in ck.get("train", {}).items() if k != "history"}
    real_bytes = real.read_bytes()[:1 << 16] if real else (__doc__ or "").encode() * 4
    out = output or checkpoint.with_suffix(".onnx")
    meta = {"lmz.train": train, "lmz.data_fingerprint": train.get("data_sha256", "")}
    if mix_params:
        try:
            mp = json.loads(mix_params)
            if not isinstance(mp, dict):
                raise ValueError("not a JSON object")
            from lmz.runtime.stack import MixStack

            MixStack(1, **mp)  # refuse parameters the runtime would refuse
        except (ValueError, TypeError) as e:
            _err(f"--mix-params: {e}", 2)
        meta["lmz.mix"] = mp
    try:
        md = export_model(weights, cfg, out, chunk=chunk, lanes=lanes or None, real=real_bytes,
                          meta=meta)
    except ExportError as e:
        _err(str(e), 3)
    typer.echo(f"wrote {out} ({int(md['lmz.bytes']):,} bytes, {int(md['lmz.params']):,} parameters, "
               f"family {cfg['family']}, chunk {chunk}); bit-exact against the numpy reference", err=True)


def main():
    from lmz.models import require_torch

    require_torch("lmz-export")
    app()
