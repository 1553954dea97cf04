#!/usr/bin/env bash
# tools/gpu_check/prepare.sh [TRAIN_TEXT]      (on the host, before any device call; no GPU needed)
#
# 1. downloads onnxruntime-gpu 1.31.1 for the device's Python (3.12, manylinux x86-64; CUDA 13,
#    which the machine's nvidia-* packages provide) into .gpu/dl (ignored: never committed) and
#    checks its pinned sha256;
# 2. repacks the wheel's files as one deterministic tar.xz (xz packs the CUDA kernels far better
#    than the wheel's zip, so fewer calls carry it), and xz-compresses the training text
#    (default corpora/text/train.txt, built by `bash tools/fetch_corpora.sh corpora`);
# 3. cuts both into pieces that fill device calls of < 64 MiB with the working tree
#    (tools/gpu_check/plan.py): .gpu/call1, .gpu/call2, ... and .gpu/PLAN.md, the exact calls.
# Env: XZ_LEVEL (default 9), MAX_MIB (64: most carried per call), TRAIN_MINUTES (6), NO_DATA=1 (no training).
set -euo pipefail
cd "$(dirname "$0")/../.."
G=.gpu
VER=1.31.1
WHL=onnxruntime_gpu-$VER-cp312-cp312-manylinux_2_28_x86_64.whl
WHL_SHA=05d548956197b9d01f59b625de740e0d6be3593f874e241a12dc0362650ecdf7
TEXT=${1:-corpora/text/train.txt}
mkdir -p $G/dl
grep -qx '/.gpu/' .gitignore || { echo "prepare: .gitignore must ignore /.gpu/ (the wheel is never committed)" >&2; exit 1; }

if [ ! -f $G/dl/$WHL ]; then
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 -d $G/dl "onnxruntime-gpu==$VER"
fi
echo "$WHL_SHA  $G/dl/$WHL" | sha256sum --quiet -c

if [ ! -f $G/dl/ort.tar.xz ]; then
  echo "prepare: repacking the wheel as tar.xz (xz -${XZ_LEVEL:-9}; minutes on 2 cores)" >&2
  rm -rf $G/dl/site && mkdir -p $G/dl/site
  python3 -m zipfile -e $G/dl/$WHL $G/dl/site
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C $G/dl/site -cf - . \
    | xz -T0 "-${XZ_LEVEL:-9}" > $G/dl/ort.tar.xz.tmp
  mv $G/dl/ort.tar.xz.tmp $G/dl/ort.tar.xz
  rm -rf $G/dl/site
fi

data=()
if [ "${NO_DATA:-0}" != 1 ]; then
  if [ ! -f $G/dl/train.txt.xz ]; then
    [ -f "$TEXT" ] || { echo "prepare: no $TEXT; build it with: bash tools/fetch_corpora.sh corpora (or NO_DATA=1)" >&2; exit 1; }
    echo "prepare: compressing $TEXT" >&2
    xz -T0 -9 -c "$TEXT" > $G/dl/train.txt.xz.tmp && mv $G/dl/train.txt.xz.tmp $G/dl/train.txt.xz
  fi
  data=(--data $G/dl/train.txt.xz)
fi
python3 tools/gpu_check/plan.py --wheel $G/dl/ort.tar.xz "${data[@]}" --out $G \
  --max-mib "${MAX_MIB:-64}" --train-minutes "${TRAIN_MINUTES:-6}"
ls -la $G/dl >&2
