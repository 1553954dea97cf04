#!/usr/bin/env bash
# Cross-CPU bit-exactness: prepare reference outputs and compressed files on the host, then verify
# them under every emulated CPU of ../shared/tools/xisa (x86 AVX2, x86 SSE4.2, ARM NEON, ARM SVE).
#   tools/xisa_run.sh [WORKDIR] [--model models/text.onnx ...]    (CPUS="haswell nehalem" to limit)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
X=$root/../shared/tools/xisa
work=${1:-/tmp/lmz-xisa}; shift || true
# the compiled predictor stack needs numba on every CPU: its aarch64 wheels are fetched by setup
export XISA_PIP_EXTRA="${XISA_PIP_EXTRA:-numba==0.68.1 llvmlite==0.50.0}"
"$X/setup.sh" >/dev/null
rm -rf "$work" && mkdir -p "$work/py"
ln -s "$root/lmz" "$work/py/lmz"   # the package importable under emulation (no install there)
python "$root/tools/xisa_check.py" prepare "$work/data" "$@"
# The CPUs run side by side (one emulator process each, JOBS at a time, default: the host's cores),
# each with its own numba cache; their logs are printed in order.
cpus=(${CPUS:-haswell nehalem neoverse-n1 arm-max})
jobs=${JOBS:-$(nproc)}
fail=0
run_one() {
  NUMBA_CACHE_DIR=$work/numba-$1 XISA_PYTHONPATH=$work/py "$X/run.sh" "$1" -- \
    "$root/tools/xisa_check.py" verify "$work/data" >"$work/$1.log" 2>&1
  echo $? >"$work/$1.rc"
}
for ((i = 0; i < ${#cpus[@]}; i += jobs)); do
  for cpu in "${cpus[@]:i:jobs}"; do run_one "$cpu" & done
  wait
done
for cpu in "${cpus[@]}"; do
  echo "== $cpu"
  cat "$work/$cpu.log"
  [ "$(cat "$work/$cpu.rc")" = 0 ] || { echo "== $cpu FAILED"; fail=1; }
done
exit $fail
