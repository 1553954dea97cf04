#!/usr/bin/env bash
# The predictor-stack benchmark of docs/bench/stack.md, all in one run:
#   tools/stack_bench.sh FILE [NUMPY_TREE]
# compiled stack (this tree) with --mix on / off, the numpy stack of NUMPY_TREE (a checkout of the
# commit before the compiled stack) with --mix on, then xz -9e, PPMd order 6 (pyppmd) and zpaq -m5.
# Prints size, wall s and peak RSS (MiB, /usr/bin/time) per compress and decompress.
# ROUNDS=N adds N alternating rounds of zpaq -m5 and lmz default (compare the fastest of each).
set -euo pipefail
f=$(realpath "$1"); old=${2:+$(realpath "$2")}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
# `python -m` puts the working directory first on sys.path: run from the scratch directory, so
# that each row imports the lmz of its PYTHONPATH tree and not a checkout it was started from
cd "$tmp"
run() {  # label tree args...
  local label=$1 tree=$2; shift 2
  /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" env PYTHONPATH="$tree" python -m lmz.runtime.cli compress -q -f --no-progress "$@" -o "$tmp/x.lmz" "$f"
  read -r cw cm cu cs < "$tmp/t"
  /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" env PYTHONPATH="$tree" python -m lmz.runtime.cli decompress -q -f --no-progress -o "$tmp/x.out" "$tmp/x.lmz"
  read -r dw dm du ds < "$tmp/t"
  cmp -s "$f" "$tmp/x.out" || { echo "$label: ROUND TRIP FAILED"; exit 1; }
  printf '%-28s %9d B  compress %7.2f s wall %7.2f s cpu %5d MiB  decompress %7.2f s wall %7.2f s cpu %5d MiB\n' "$label" "$(stat -c %s "$tmp/x.lmz")" "$cw" "$(echo "$cu + $cs" | bc)" $((cm / 1024)) "$dw" "$(echo "$du + $ds" | bc)" $((dm / 1024))
}
other() {  # label compress-cmd decompress-cmd (use $IN $OUT $BACK)
  local label=$1
  IN=$f OUT=$tmp/o BACK=$tmp/b
  rm -f "$tmp/o" "$tmp/b"
  /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" bash -c "$2" _ "$IN" "$OUT"; read -r cw cm cu cs < "$tmp/t"
  /usr/bin/time -f "%e %M %U %S" -o "$tmp/t" bash -c "$3" _ "$OUT" "$BACK"; read -r dw dm du ds < "$tmp/t"
  cmp -s "$f" "$BACK" || { echo "$label: ROUND TRIP FAILED"; exit 1; }
  printf '%-28s %9d B  compress %7.2f s wall %7.2f s cpu %5d MiB  decompress %7.2f s wall %7.2f s cpu %5d MiB\n' "$label" "$(stat -c %s "$OUT")" "$cw" "$(echo "$cu + $cs" | bc)" $((cm / 1024)) "$dw" "$(echo "$du + $ds" | bc)" $((dm / 1024))
}
run "lmz default (mix auto)" "$here"
run "lmz text, compiled stack" "$here" --mix on
run "lmz text, model alone" "$here" --mix off
[ -n "$old" ] && run "lmz text, numpy stack" "$old" --mix on
other "xz -9e" 'xz -9e -c "$1" > "$2"' 'xz -dc "$1" > "$2"'
other "PPMd o6 (pyppmd, 256 MiB)" \
  'python -c "import pyppmd,sys; open(sys.argv[2],\"wb\").write(pyppmd.compress(open(sys.argv[1],\"rb\").read(), max_order=6, mem_size=256<<20))" "$1" "$2"' \
  'python -c "import pyppmd,sys; open(sys.argv[2],\"wb\").write(pyppmd.decompress(open(sys.argv[1],\"rb\").read(), max_order=6, mem_size=256<<20))" "$1" "$2"'
if command -v zpaq >/dev/null; then
  # zpaq names archives *.zpaq; the archive holds the file's path too (a few bytes)
  other "zpaq a -m5" 'rm -f "$2.zpaq"; zpaq a "$2.zpaq" "$1" -m5 >/dev/null 2>&1; cp "$2.zpaq" "$2"' \
    'd=$(mktemp -d); cp "$1" "$d/a.zpaq"; zpaq x "$d/a.zpaq" -to "$d/x" >/dev/null 2>&1; find "$d/x" -type f -exec cat {} + > "$2"; rm -rf "$d"'
  # ROUNDS=N: N more rounds of zpaq then lmz default back to back; on a shared or throttled host the
  # fastest round of each is the fairest wall-time ratio (a slow spell hits one round, not all)
  for r in $(seq "${ROUNDS:-0}"); do
    other "round $r: zpaq a -m5" 'rm -f "$2.zpaq"; zpaq a "$2.zpaq" "$1" -m5 >/dev/null 2>&1; cp "$2.zpaq" "$2"' \
      'd=$(mktemp -d); cp "$1" "$d/a.zpaq"; zpaq x "$d/a.zpaq" -to "$d/x" >/dev/null 2>&1; find "$d/x" -type f -exec cat {} + > "$2"; rm -rf "$d"'
    run "round $r: lmz default" "$here"
  done
fi
rm -rf "$tmp"
