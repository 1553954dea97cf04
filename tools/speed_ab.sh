#!/usr/bin/env bash
# Wall time of the default, this tree against another, on the same files in the same run:
#   ROUNDS=N tools/speed_ab.sh OLD_TREE FILE...
# Per file and round: zpaq -m5, then lmz default at OLD_TREE (a checkout, e.g. `git archive`),
# then at this tree; prints compress / decompress wall s and sizes, and checks every round trip.
# Run it twice (or ROUNDS=2) so that both trees' numba caches are warm.
set -euo pipefail
old=$(realpath "$1"); shift
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
cd "$tmp"  # `python -m` puts the working directory first on sys.path
t() { /usr/bin/time -o "$tmp/t" -f "%e" "$@" > /dev/null 2>&1; cat "$tmp/t"; }
for round in $(seq "${ROUNDS:-1}"); do
  for f in "$@"; do
    f=$(realpath "$f")
    rm -rf "$tmp/z" && mkdir "$tmp/z" && cp "$f" "$tmp/z/in"
    line="$(basename "$f") $(stat -c %s "$f") B | zpaq -m5 $(t zpaq a "$tmp/z/a.zpaq" "$tmp/z/in" -m5)"
    line="$line / $(t zpaq x "$tmp/z/a.zpaq" -to "$tmp/z/out")"
    for tree in "$old" "$here"; do
      c=$(t env PYTHONPATH="$tree" python -m lmz.runtime.cli compress -q -f --no-progress -o "$tmp/x.lmz" "$f")
      d=$(t env PYTHONPATH="$tree" python -m lmz.runtime.cli decompress -q -f --no-progress -o "$tmp/x.out" "$tmp/x.lmz")
      cmp -s "$f" "$tmp/x.out" || { echo "$(basename "$f"): ROUND TRIP FAILED ($tree)"; exit 1; }
      line="$line | $([ "$tree" = "$old" ] && echo old || echo new) $c / $d $(stat -c %s "$tmp/x.lmz") B"
    done
    echo "round $round: $line"
  done
done
rm -rf "$tmp"
