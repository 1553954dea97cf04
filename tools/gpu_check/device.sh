#!/usr/bin/env bash
# Runs ON the lent GPU machine, from the repo root (see tools/gpu_check/README.md for the calls).
#
#   bash tools/gpu_check/device.sh stash .gpu/callK   # keep this call's pieces in /tmp/lmz-gpu (outside
#                                                     # the synced tree); when the training text is
#                                                     # complete, start training in the background;
#                                                     # when the wheel is complete, install it
#   bash tools/gpu_check/device.sh check              # the check (+ export and check of the trained model)
#   bash tools/gpu_check/device.sh status             # what is there
#
# /tmp/lmz-gpu survives between calls only while the machine stays warm (30 s after a call).
# Env: TRAIN_MINUTES (default 6), TRAIN_ARGS (extra lmz-train options, last wins), TRAIN_DEVICE (cuda),
# CHECK_ARGS (extra check.py options), CHECK_BUDGET_S (560: `check` stops waiting for training
# RESERVE_S (210) before that, so the call ends inside its 600 s), GPU_REPORT (docs/bench/gpu.md),
# LMZ_GPU_DIR (/tmp/lmz-gpu). The CPU test (tests/test_gpu_check.py) sets them.
set -uo pipefail
W=${LMZ_GPU_DIR:-/tmp/lmz-gpu}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUTD=${OUT:-$W/out}
REPORT=${GPU_REPORT:-$ROOT/docs/bench/gpu.md}
mkdir -p "$W/pieces" "$W/train" "$OUTD"
export PYTHONUNBUFFERED=1
log() { echo "[device $(date +%T)] $*"; }

have_all() {  # have_all KIND: every piece of KIND (wheel|data) listed in the manifest is here and verified
  local kind=$1 ok=1
  [ -f "$W/pieces/MANIFEST" ] || return 1
  while read -r sha name k; do
    [ "$k" = "$kind" ] || continue
    [ -f "$W/pieces/$name.ok" ] || ok=0
  done < "$W/pieces/MANIFEST"
  [ $ok = 1 ]
}

join() {  # join KIND -> stdout (pieces in manifest order)
  while read -r sha name k; do
    if [ "$k" = "$1" ]; then cat "$W/pieces/$name" || return 1; fi
  done < "$W/pieces/MANIFEST"
}

install_wheel() {
  [ -f "$W/site/.installed" ] && return 0
  have_all wheel || return 0
  log "joining and unpacking onnxruntime-gpu"
  local want got
  want=$(awk '$3=="wheel-total"{print $1}' "$W/pieces/MANIFEST")
  got=$(join wheel | sha256sum | cut -d' ' -f1)
  [ "$want" = "$got" ] || { log "ERROR: joined wheel archive sha256 $got != $want"; return 1; }
  rm -rf "$W/site" && mkdir -p "$W/site"
  # the archive is the wheel's own files (what pip --target would write), as tar.xz
  join wheel | python3 -c "import sys,tarfile; tarfile.open(fileobj=sys.stdin.buffer, mode='r|xz').extractall('$W/site', filter='data')" \
    || { log "ERROR: unpacking failed"; return 1; }
  # onnxruntime.preload_dlls() looks for nvidia/<cu13|cudnn>/lib beside the onnxruntime package:
  # point it at the machine's nvidia-* packages (CUDA 13, cuDNN 9), and LD_LIBRARY_PATH too
  local nv
  nv=$(python3 -c "import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]) + '/nvidia')" 2>/dev/null)
  [ -n "$nv" ] && ln -sfn "$nv" "$W/site/nvidia"
  touch "$W/site/.installed"
  log "installed onnxruntime-gpu into $W/site (nvidia libraries: ${nv:-not found})"
}

ort_env() {
  local nv=$W/site/nvidia libs=""
  [ -d "$nv/" ] && libs=$(find -L "$nv/" -maxdepth 3 -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
  export LD_LIBRARY_PATH=${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PYTHONPATH=$W/site:$ROOT
}

start_training() {
  [ -f "$W/train/started" ] && return 0
  have_all data || return 0
  local want got
  want=$(awk '$3=="data-total"{print $1}' "$W/pieces/MANIFEST")
  got=$(join data | sha256sum | cut -d' ' -f1)
  [ "$want" = "$got" ] || { log "ERROR: joined training text sha256 $got != $want"; return 1; }
  join data | xz -dc > "$W/train/train.txt" 2>/dev/null \
    || join data | python3 -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)" > "$W/train/train.txt"
  log "training text: $(stat -c %s "$W/train/train.txt") bytes, sha256 $(sha256sum "$W/train/train.txt" | cut -c1-16)"
  touch "$W/train/started"
  # a new session (setsid) outlives this call; the plain torch environment (CPU onnxruntime 1.30
  # for the export's check is fine: exactness is checked against the numpy reference)
  (cd "$ROOT" && PYTHONPATH=$ROOT setsid nohup bash -c "
     python3 -m lmz.models.train --device ${TRAIN_DEVICE:-cuda} --data $W/train/train.txt -o $W/train/text-xl.pt \
       --hidden 768 --batch 512 --seq 128 --reset-every 32 --lr 3e-3 --minutes ${TRAIN_MINUTES:-6} \
       --qat-fraction 0.25 --save-minutes 2 --eval-every 2000 --val-windows 32 --val-len 4096 ${TRAIN_ARGS:-};
     echo \$? > $W/train/rc" > "$W/train/train.log" 2>&1 < /dev/null &)
  log "training started in the background (${TRAIN_MINUTES:-6} min): $W/train/train.log"
}

stash() {
  local d=$1 f n
  [ -d "$d" ] || { log "ERROR: $d was not carried"; return 1; }
  for f in "$d"/*; do
    n=$(basename "$f")
    cp "$f" "$W/pieces/$n"
  done
  while read -r sha name k; do
    [ -f "$W/pieces/$name" ] && [ ! -f "$W/pieces/$name.ok" ] || continue
    if [ "$(sha256sum "$W/pieces/$name" | cut -d' ' -f1)" = "$sha" ]; then touch "$W/pieces/$name.ok"
    else log "ERROR: piece $name is corrupt"; rm -f "$W/pieces/$name"; fi
  done < "$W/pieces/MANIFEST"
  status
  start_training
  install_wheel
}

status() {
  local have=0 all=0
  if [ -f "$W/pieces/MANIFEST" ]; then
    while read -r sha name k; do
      case $k in wheel|data) all=$((all + 1)); [ -f "$W/pieces/$name.ok" ] && have=$((have + 1));; esac
    done < "$W/pieces/MANIFEST"
  fi
  log "pieces: $have of $all; wheel $(have_all wheel && echo complete || echo incomplete)," \
      "training text $(have_all data && echo complete || echo incomplete);" \
      "training $([ -f $W/train/rc ] && echo "done rc=$(cat $W/train/rc)" || ([ -f $W/train/started ] && echo running || echo 'not started'))"
  [ -f "$W/train/train.log" ] && tail -n 2 "$W/train/train.log"
  nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv,noheader 2>/dev/null
}

check() {
  local t_end=$(( $(date +%s) + ${CHECK_BUDGET_S:-560} ))  # the call's timeout_s is 600
  [ -f "$W/site/.installed" ] || { log "ERROR: onnxruntime-gpu is not installed (pieces missing?)"; status; return 1; }
  ort_env
  python3 -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.__file__, o.get_available_providers())"
  cd "$ROOT" || return 1
  # 1. every shipped and tiny model, no timings (CPU-heavy: overlaps the training on the GPU)
  python3 tools/gpu_check/check.py --bench-models none --report "$W/models.md" ${CHECK_ARGS:-} 2>&1 | tee "$W/check1.log" | grep -v '^|'
  cp "$W/models.md" "$W/models.json" "$OUTD/" 2>/dev/null  # back even if the rest runs out of time
  # 2. wait for the training, export the model (bit-exact against the numpy reference or nothing)
  local extra=()
  if [ -f "$W/train/started" ]; then
    # leave ~3 minutes of the call for the export and the timings
    while [ ! -f "$W/train/rc" ] && [ "$(date +%s)" -lt $((t_end - ${RESERVE_S:-210})) ]; do sleep 5; done
    [ -f "$W/train/rc" ] || log "training still running: using its last checkpoint (saved every 2 min)"
    tail -n 4 "$W/train/train.log"
    if [ -f "$W/train/text-xl.pt" ]; then
      PYTHONPATH=$ROOT python3 -c "import sys; from lmz.export.cli import main; sys.argv[0]='lmz-export'; main()" \
        "$W/train/text-xl.pt" -o "$W/train/text-xl.onnx" --check-data "$ROOT/README.md" && extra=(--model "$W/train/text-xl.onnx")
      python3 -c "import torch; c=torch.load('$W/train/text-xl.pt', weights_only=True); c['optimizer']=None; torch.save(c, '$OUTD/text-xl.pt')"
      cp "$W/train/text-xl.onnx" "$W/train/text-xl.json" "$OUTD/" 2>/dev/null
    fi
    cp "$W/train/train.log" "$OUTD/train.log"
  fi
  # 3. the trained model checked, and the timings (GPU now idle); the report merges step 1's rows
  python3 tools/gpu_check/check.py --no-tiny --shipped text,text-l "${extra[@]}" --checks text-xl \
    --bench-models text,text-l --merge "$W/models.json" \
    --report "$REPORT" ${CHECK_ARGS:-} 2>&1 | tee "$W/check2.log" | grep -v '^|'
  local rc=${PIPESTATUS[0]}
  cp "$REPORT" "${REPORT%.md}.json" "$OUTD/" 2>/dev/null && rm -f "$OUTD/models.md" "$OUTD/models.json"  # merged: 8 files at most
  cat "$W/check1.log" "$W/check2.log" > "$OUTD/check.log"
  log "check exit code $rc; files in $OUTD: $(ls "$OUTD" | paste -sd' ')"
  return "$rc"
}

case ${1:-status} in
  stash) stash "$2" ;;
  check) check ;;
  status) status ;;
  *) echo "usage: $0 stash DIR | check | status" >&2; exit 2 ;;
esac
