"""Scaling study (paper §3.2, Fig. 2) from a bench run of the text size ladder.

    lmz-run bench --kind text --models text-s,text-m,text-l --mix off,on ... --protocols whole \
        --baselines gzip --json docs/bench/scaling.json > /dev/null
    python tools/scaling.py docs/bench/scaling.json      # -> docs/bench/scaling.md, scaling.png

Rate against model size, raw and adjusted for the model's on-disk size, for datasets of 1 MB,
10 MB, 100 MB and 1 GB. Only the evaluation set's own size was measured; the other dataset
sizes reuse its measured rate (the compression rate of a model does not depend on how much
data follows) and add the model's bytes over that size: they are marked "extrapolated".
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

SIZES = [("1 MB", 1e6), ("10 MB", 1e7), ("100 MB", 1e8), ("1 GB", 1e9)]


def rows(doc):
    out = []
    for r in doc["results"]:
        if r["file"] != "text (all)" or r["protocol"] != "whole" or not r["model_params"]:
            continue
        out.append(r)
    return sorted(out, key=lambda r: (r["compressor"].split(" ")[-1], r["model_params"]))


def main(argv):
    src = Path(argv[1] if len(argv) > 1 else "docs/bench/scaling.json")
    doc = json.loads(src.read_text())
    rs = rows(doc)
    if not rs:
        print("no lmz rows over the whole text set in", src, file=sys.stderr)
        return 1
    measured = rs[0]["raw"]
    head = "| model | parameters | ONNX bytes | rate (raw) | " + " | ".join(
        f"adjusted, {n}{'' if abs(s - measured) / measured < 0.5 else ' (extrapolated)'}" for n, s in SIZES) + \
        f" | adjusted, {measured / 1e6:.1f} MB (measured) |"
    lines = [head, "|" + "---|" * (5 + len(SIZES))]
    for r in rs:
        adj = [r["rate"] + 100.0 * r["model_bytes"] / s for _, s in SIZES]
        lines.append(f"| {r['compressor']} | {r['model_params']:,} | {r['model_bytes']:,} | {r['rate']:.2f}% | "
                     + " | ".join(f"{a:.2f}%" for a in adj) + f" | {r['rate_adj_onnx']:.2f}% |")
    md = src.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: table only", file=sys.stderr)
        return 0
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for stack in sorted({r["compressor"].split(" ")[-1] for r in rs}):
        sub = [r for r in rs if r["compressor"].split(" ")[-1] == stack]
        x = [r["model_params"] for r in sub]
        ax.plot(x, [r["rate"] for r in sub], "o-", label=f"{stack}: raw rate")
        for name, s in SIZES:
            ax.plot(x, [r["rate"] + 100.0 * r["model_bytes"] / s for r in sub], ".--", alpha=0.7,
                    label=f"{stack}: adjusted, {name}" + ("" if abs(s - measured) / measured < 0.5 else " (extrap.)"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("model parameters")
    ax.set_ylabel("compression rate, % (log)")
    ax.set_title("lmz text ladder: rate vs model size (eval texts)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(src.with_suffix(".png"), dpi=120)
    print(f"wrote {md} and {src.with_suffix('.png')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
