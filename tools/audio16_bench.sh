#!/usr/bin/env bash
# 16-bit PCM WAV: lmz before (a checkout of main) / lmz now (this checkout) / FLAC -8 / zpaq -m5 / xz -9e,
# sizes and compress / decompress wall times, every round trip checked (docs/bench/audio16.md).
#   MAIN=/path/to/main/checkout bash tools/audio16_bench.sh FILE.wav ...
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
MAIN=${MAIN:?set MAIN to a checkout of the code before}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"  # python -m imports from the working directory first: run from neither checkout
secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
# warm-up: one small round trip per checkout (numba compiles or loads its cache before timing)
head -c 65580 "$1" > "$T/warm.wav"
for root in "$MAIN" "$HERE"; do
  PYTHONPATH="$root" python -m lmz.runtime.cli compress "$T/warm.wav" -o "$T/warm.lmz" -f >/dev/null 2>&1
  PYTHONPATH="$root" python -m lmz.runtime.cli decompress "$T/warm.lmz" -o "$T/warm.out" -f >/dev/null 2>&1
done
printf '| file | bytes | codec | size | %% of raw | compress s | decompress s |\n|---|---:|---|---:|---:|---:|---:|\n'
for f in "$@"; do
  n=$(stat -c %s "$f"); b=$(basename "$f")
  row() { printf '| %s | %d | %s | %d | %.2f%% | %.2f | %.2f |\n' "$b" "$n" "$1" "$2" "$(echo "100*$2/$n" | bc -l)" "$3" "$4"; }
  for v in main now; do
    root=$MAIN; [ $v = now ] && root=$HERE
    c=$(secs env PYTHONPATH="$root" python -m lmz.runtime.cli compress "$f" -o "$T/x.lmz" -f)
    d=$(secs env PYTHONPATH="$root" python -m lmz.runtime.cli decompress "$T/x.lmz" -o "$T/x.out" -f)
    cmp "$f" "$T/x.out"; row "lmz ($v)" "$(stat -c %s "$T/x.lmz")" "$c" "$d"
  done
  c=$(secs flac -8 -f -s -o "$T/x.flac" "$f"); d=$(secs flac -d -f -s -o "$T/x.out" "$T/x.flac")
  cmp "$f" "$T/x.out"; row "flac -8 -f" "$(stat -c %s "$T/x.flac")" "$c" "$d"
  c=$(secs flac -8 -f -s --no-padding --no-seektable -o "$T/x.flac" "$f")
  d=$(secs flac -d -f -s -o "$T/x.out" "$T/x.flac")
  cmp "$f" "$T/x.out"; row "flac -8 --no-padding --no-seektable" "$(stat -c %s "$T/x.flac")" "$c" "$d"
  rm -f "$T/x.zpaq"; c=$(secs zpaq a "$T/x.zpaq" "$f" -m5); rm -rf "$T/zx"; mkdir "$T/zx"
  d=$(secs zpaq x "$T/x.zpaq" -to "$T/zx"); cmp "$f" "$(find "$T/zx" -type f | head -1)"
  row "zpaq -m5" "$(stat -c %s "$T/x.zpaq")" "$c" "$d"
  c=$(secs sh -c "xz -9e -T1 -c '$f' > '$T/x.xz'")
  d=$(secs sh -c "xz -d -c '$T/x.xz' > '$T/x.out'"); cmp "$f" "$T/x.out"
  row "xz -9e" "$(stat -c %s "$T/x.xz")" "$c" "$d"
done
