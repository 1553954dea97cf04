"""Scaling study (paper §3.2, Fig. 2) from a bench run of the text size ladder.

    nice -n 10 lmz-run bench --kind text --models text-s,text-m,text-l --mix off --protocols whole \
        --baselines gzip --json docs/bench/scaling.json > /dev/null
    python -m lmz.studies.scaling docs/bench/scaling.json      # -> docs/bench/scaling.md, scaling.png

Rate against model size, raw and adjusted for the model's on-disk size (its ONNX file), for
datasets of 1 MB, 10 MB, 100 MB and 1 GB. Only the evaluation set's own size (the nine text files
together) was measured; the other dataset sizes reuse its measured rate (as if the rest of the
data were like it) and add the model's bytes over that size: they are marked "extrapolated".
Baselines in the same bench (no model to ship) are rows with the same rate in every column.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

SIZES = [("1 MB", 1e6), ("10 MB", 1e7), ("100 MB", 1e8), ("1 GB", 1e9)]
ALL = "text (all)"


def stack(r) -> str:
    return "+mix" if r["compressor"].endswith("+mix") else "model alone"


def rows(doc):
    """lmz rows over the whole text set, whole-input protocol, ordered by stack then size."""
    out = [r for r in doc["results"]
           if r["file"] == ALL and r["protocol"] == "whole" and r.get("model_params") and not r.get("error")]
    return sorted(out, key=lambda r: (stack(r) != "model alone", r["model_params"]))


def baselines(doc):
    return [r for r in doc["results"]
            if r["file"] == ALL and r["protocol"] == "whole" and not r.get("model_params") and not r.get("error")]


def adjusted(r, size: float) -> float:
    return r["rate"] + 100.0 * r["model_bytes"] / size


def main(argv):
    src = Path(argv[1] if len(argv) > 1 else "docs/bench/scaling.json")
    doc = json.loads(src.read_text())
    rs, bs = rows(doc), baselines(doc)
    if not rs:
        print("no lmz rows over the whole text set in", src, file=sys.stderr)
        return 1
    measured = rs[0]["raw"]
    head = ("| compressor | parameters | ONNX bytes | rate (raw) | "
            + " | ".join(f"adjusted, {n} (extrapolated)" for n, _ in SIZES)
            + f" | adjusted, {measured / 1e6:.1f} MB (measured) |")
    lines = [f"**Rate vs model size** (the 9 text evaluation files, {measured:,} bytes, whole-input protocol; "
             "adjusted = + ONNX file)", "", head, "|---|" + "---:|" * (4 + len(SIZES))]
    for r in bs:
        lines.append(f"| {r['compressor']} | - | - | {r['rate']:.2f}% | "
                     + " | ".join(f"{r['rate']:.2f}%" for _ in SIZES) + f" | {r['rate']:.2f}% |")
    for r in rs:
        lines.append(f"| {r['compressor']} | {r['model_params']:,} | {r['model_bytes']:,} | {r['rate']:.2f}% | "
                     + " | ".join(f"{adjusted(r, s):.2f}%" for _, s in SIZES)
                     + f" | {adjusted(r, measured):.2f}% |")
    md = src.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: table only", file=sys.stderr)
        return 0
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    stacks = sorted({stack(r) for r in rs}, key=lambda s: s != "model alone")
    for si, st in enumerate(stacks):
        sub = [r for r in rs if stack(r) == st]
        x = [r["model_params"] for r in sub]
        mark = "o" if si == 0 else "s"
        ls = "-" if si == 0 else ":"
        ax.plot(x, [r["rate"] for r in sub], mark + ls, color="black", label=f"raw rate ({st})")
        for k, (name, s) in enumerate(SIZES):
            ax.plot(x, [adjusted(r, s) for r in sub], mark + ls, color=colors[k], alpha=0.85,
                    label=f"adjusted, {name} (extrap.)" + ("" if len(stacks) == 1 else f" ({st})"))
        for r in sub:
            ax.annotate(r["compressor"].replace("lmz ", ""), (r["model_params"], r["rate"]),
                        textcoords="offset points", xytext=(4, -11), fontsize=7)
    for b in bs:
        ax.axhline(b["rate"], color="gray", ls="--", lw=1)
        ax.annotate(b["compressor"], (rs[0]["model_params"], b["rate"]), textcoords="offset points",
                    xytext=(0, 3), fontsize=7, color="gray")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(int(v))[0] in "23456" else ""))
    ax.margins(x=0.12)
    ax.set_xlabel("model parameters")
    ax.set_ylabel("compression rate, % (log)")
    ax.set_title(f"lmz text ladder: rate vs model size (eval texts, {measured / 1e6:.1f} MB)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(src.with_suffix(".png"), dpi=120)
    print(f"wrote {md} and {src.with_suffix('.png')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
