#!/usr/bin/env bash
# Compressed archives: xz -9e, zpaq -m5 and lmz (default, and --no-recompress) on each FILE, one
# markdown table row per file, every lmz result decompressed and compared. Wall times are lmz's
# compress / decompress; zpaq's is its compress.
#   tools/archive_bench.sh FILE...     (needs xz, zpaq and lmz-run on PATH)
# The README's rows: `pip download --no-deps setuptools==84.2.1 wheel==0.48.0 flit_core==4.2.0`,
# `tar cf - -C /usr/lib/python3.11 email json | gzip -9 > stdlib-email-json.tar.gz` (GNU gzip 1.12),
# and click-8.1.7.tar.gz from tools/fetch_general.sh.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
echo "| file | bytes | xz -9e | zpaq -m5 | lmz, archive as is | lmz (default) | lmz / zpaq | zpaq s | lmz s | check |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for f in "$@"; do
  s=$(stat -c %s "$f")
  x=$(xz -9e -c "$f" | wc -c)
  t0=$(now); zpaq a "$work/z.zpaq" "$f" -m5 >/dev/null 2>&1; t1=$(now)
  zp=$(stat -c %s "$work/z.zpaq"); rm -f "$work/z.zpaq"
  t2=$(now); lmz-run compress -q -f --no-progress -o "$work/a.lmz" "$f"; t3=$(now)
  l=$(stat -c %s "$work/a.lmz")
  if lmz-run -d -c "$work/a.lmz" | cmp -s - "$f"; then ok=identical; else ok=DIFFERENT; fi; t4=$(now)
  lmz-run compress -q -f --no-progress --no-recompress -o "$work/b.lmz" "$f"
  lr=$(stat -c %s "$work/b.lmz")
  python3 -c "
import sys
s, x, zp, l, lr, t = $s, $x, $zp, $l, $lr, [$t0, $t1, $t2, $t3, $t4]
print(f'| {sys.argv[1]} | {s:,} | {100*x/s:.2f}% | {100*zp/s:.2f}% | {100*lr/s:.2f}% | {100*l/s:.2f}% | {l/zp:.3f} '
      f'| {t[1]-t[0]:.1f} | {t[3]-t[2]:.1f} / {t[4]-t[3]:.1f} | $ok |')" "$(basename "$f")"
done
