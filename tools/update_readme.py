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


def main() -> int:
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
