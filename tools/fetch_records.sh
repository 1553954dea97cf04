#!/usr/bin/env bash
# fetch_records.sh OUTDIR
#
# Builds the record datasets of docs/bench/records.md under OUTDIR/records, from the Debian
# archive only (apt-get download + dpkg-deb, nothing installed), pinned by version and sha256:
#
#   json/       perf's PMU event tables (linux-source-6.1: tools/perf/pmu-events/arch/**/*.json),
#               one compact JSON object per line; every 5th file (sorted paths) is evaluation
#   changelog/  the Debian changelog of linux-source-6.1 (release stanzas of commit subjects,
#               maintainer lines, dates: log-like lines); every 5th stanza is evaluation
#   csv/        UnicodeData.txt (unicode-data: semicolon-separated rows, 15 fields); every 5th run
#               of 64 rows is evaluation
#
# Each has train.* and eval.*: models and zstd dictionaries are trained on train only.
# Downloads are cached in $LMZ_DOWNLOADS (default OUTDIR/_downloads: the same cache as
# fetch_corpora.sh, so its linux-source download is reused). Needs: bash, apt-get (current lists),
# dpkg-deb, tar, xz, sha256sum, python3.
set -euo pipefail
export LC_ALL=C
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUT=$(realpath -m "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DL="${LMZ_DOWNLOADS:-$OUT/_downloads}"
WK="$OUT/_records_work"
PY=${PYTHON:-python3}
DEBS=(
  "linux-source-6.1|6.1.192-2|ae95fe63d4c553f8d0e6c86cb1ab566f3894a43743eb19ab585cd97d82f26514"
  "unicode-data|15.0.0-1|5efef23bbb1c6a133ecbdd63a2cfa07159ccacf5466a49e2426101c5ecd691fc"
)
log() { printf '[fetch_records] %s\n' "$*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
mkdir -p "$DL" "$WK" "$OUT/records"
for e in "${DEBS[@]}"; do IFS='|' read -r n v sha <<<"$e"
  f="${n}_${v//:/%3a}_all.deb"
  if ! sha_ok "$DL/$f" "$sha"; then
    log "apt-get download $n=$v"; rm -f "$DL/$f"
    (cd "$DL" && apt-get download -q=2 "$n=$v") || die "apt-get download $n=$v failed (run 'apt-get update')"
    sha_ok "$DL/$f" "$sha" || die "sha256 mismatch: $f"
  fi
done
rm -rf "$WK"; mkdir -p "$WK/ls" "$WK/ud"
log "extracting (linux-source: the perf event tables and the changelog only)"
dpkg-deb --fsys-tarfile "$DL/linux-source-6.1_6.1.192-2_all.deb" \
  | tar -x -C "$WK/ls" ./usr/src/linux-source-6.1.tar.xz ./usr/share/doc/linux-source-6.1/changelog.Debian.gz
tar -xJf "$WK/ls/usr/src/linux-source-6.1.tar.xz" -C "$WK/ls" --wildcards 'linux-source-6.1/tools/perf/pmu-events/arch/*'
dpkg-deb -x "$DL/unicode-data_15.0.0-1_all.deb" "$WK/ud"
"$PY" "$HERE/build_records.py" --pmu "$WK/ls/linux-source-6.1/tools/perf/pmu-events/arch" \
  --changelog "$WK/ls/usr/share/doc/linux-source-6.1/changelog.Debian.gz" \
  --unicode "$WK/ud/usr/share/unicode/UnicodeData.txt" --out "$OUT/records"
[ -n "${KEEP_WORK:-}" ] || rm -rf "$WK"
(cd "$OUT/records" && sha256sum */train.* */eval.* > MANIFEST.sha256)
log "done: $OUT/records"; cat "$OUT/records/MANIFEST.sha256" >&2
