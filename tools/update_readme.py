"""Splice benchmark output into README.md: the text between `<!-- bench:NAME -->` and
`<!-- /bench:NAME -->` is replaced by docs/bench/NAME.md (what `lmz-run bench ... > docs/bench/NAME.md`
printed), so the README's tables are never typed by hand.

    python tools/update_readme.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]


def models_table() -> str:
    """docs/bench/models.md: one row per shipped model, from its metadata JSON."""
    import json

    rows = ["| model | family, config | parameters | ONNX bytes | trained on (sha256) | steps | bytes seen | wall | val bits/byte int (float) |",
            "|---|---|---:|---:|---|---:|---:|---:|---|"]
    for j in sorted((root / "lmz" / "models").glob("*.json")):
        m = json.loads(j.read_text())
        c, t = m["lmz.config"], m.get("lmz.train", {})
        cfg = ", ".join(f"{k}={v}" for k, v in c.items() if k in ("hidden", "n_layer", "window", "d_model"))
        vi, vf = t.get("val_bpb_int"), t.get("val_bpb_float")
        val = f"{vi:.3f} ({vf:.3f})" if vi is not None else "-"
        rows.append(f"| `{j.stem}` | {m['lmz.family']} {cfg} | {int(m['lmz.params']):,} | {int(m['lmz.bytes']):,} | "
                    f"{t.get('data', '-')} ({t.get('data_sha256', '')[:12]}) | {t.get('steps', '-')} | "
                    f"{t.get('bytes_seen', 0) / 1e6:.1f} MB | {t.get('wall_seconds', 0) / 60:.0f} min | {val} |")
    return "\n".join(rows) + "\n"


def main() -> int:
    (root / "docs" / "bench").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "bench" / "models.md").write_text(models_table())
    readme = root / "README.md"
    text = readme.read_text()

    def fill(m):
        name = m.group(1)
        src = root / "docs" / "bench" / f"{name}.md"
        if not src.exists():
            print(f"missing {src}", file=sys.stderr)
            return m.group(0)
        return f"<!-- bench:{name} -->\n{src.read_text().strip()}\n<!-- /bench:{name} -->"

    new = re.sub(r"<!-- bench:([\w-]+) -->.*?<!-- /bench:\1 -->", fill, text, flags=re.S)
    readme.write_text(new)
    print("README.md updated" if new != text else "README.md unchanged", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
