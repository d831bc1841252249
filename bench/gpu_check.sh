#!/usr/bin/env bash
# GPU check for the fused kernels, for a session lent the H200 (see /work/.library/device/README.md):
# builds tailor's kernels against the torch installed on the device, runs the gpu-labelled tests, then
# benchmarks every kernel (fused vs reference: time and peak CUDA memory) and writes everything under $OUT.
# Budget: under 8 minutes. Run it from the repository root through the device tool, e.g.
#   run(command="bash bench/gpu_check.sh", carry=[".gpu"], timeout_s=540)
# where .gpu (ignored via .git/info/exclude) holds a copy of googletest for machines without it:
#   echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu && cp -r /usr/src/googletest .gpu/
# Results: $OUT/summary.txt (the tables, printed last too), $OUT/build.log, $OUT/tests.log, $OUT/bench.log.
# Every step's timeout is capped by what is left of BUDGET_S (default 470 s), so the script as a whole
# ends within 8 minutes whatever happens.
set -uo pipefail

OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT"
START=$(date +%s)
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(( $(date +%s) - START ))s; }
BUDGET_S=${BUDGET_S:-470}
# cap SECONDS: the smaller of SECONDS and the budget left (at least 1).
cap() { local left=$(( BUDGET_S - ($(date +%s) - START) )); (( left < 1 )) && left=1; echo $(( $1 < left ? $1 : left )); }

PY=${PYTHON:-python3}
TORCH_DIR=$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))') || { say "no torch in $PY"; exit 1; }
say "== tailor kernels GPU check ($(date -u +%FT%TZ))"
say "torch: $("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda)') at $TORCH_DIR"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv,noheader 2>&1 | tee -a "$SUMMARY"
say "nvcc: $(nvcc --version | tail -1)"

JOBS=$(nproc)
BUILD=/tmp/tailor-gpu-build
# sm_90 only: this is an H200; the CPU build already proves the sm_80 pass compiles.
COMMON=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90-real -DTAILOR_TORCH_DIR="$TORCH_DIR")

# 1. Build. By default only the kernels, their tests and the benchmark driver (bench/gpu_kernels: same
# sources, no Debian dependencies beyond googletest); TAILOR_GPU_FULL_BUILD=1 tries the whole tree first.
build_kernels_only() {
  local gtest_args=()
  [ -d .gpu/googletest ] && gtest_args=(-DGTEST_SOURCE="$PWD/.gpu/googletest")
  rm -rf "$BUILD"
  timeout "$(cap 60)" cmake -S bench/gpu_kernels -B "$BUILD" "${COMMON[@]}" "${gtest_args[@]}" >>"$OUT/build.log" 2>&1 \
    && timeout "$(cap 300)" ninja -C "$BUILD" -j "$JOBS" tailor_kernels_tests tailor_kernels_bench >>"$OUT/build.log" 2>&1
}
: >"$OUT/build.log"
MODE=kernels-only
if [ "${TAILOR_GPU_FULL_BUILD:-0}" = 1 ] \
   && timeout "$(cap 90)" cmake -S . -B "$BUILD" "${COMMON[@]}" -DTAILOR_PYTHON="$(command -v "$PY")" >>"$OUT/build.log" 2>&1 \
   && timeout "$(cap 240)" ninja -C "$BUILD" -j "$JOBS" tailor_kernels_tests tailor >>"$OUT/build.log" 2>&1; then
  MODE=full
  TESTS="$BUILD/tests/kernels/tailor_kernels_tests"
  BENCH=("$BUILD/cli/tailor" bench kernels)
elif build_kernels_only; then
  TESTS="$BUILD/tailor_kernels_tests"
  BENCH=("$BUILD/tailor_kernels_bench")
else
  say "BUILD FAILED ($(elapsed)); without a system googletest, carry .gpu/googletest (see the header). build.log ends:"
  tail -40 "$OUT/build.log" | tee -a "$SUMMARY"
  exit 1
fi
say "build: $MODE, done at $(elapsed)"

# 2. The gpu-labelled tests: every test whose name holds "Cuda" (what ctest -L gpu selects): RMSNorm,
# RoPE (tables + positions, and the decoder's cos/sin form), SwiGLU/GeGLU, LoRA/QLoRA linear, NF4, GGUF
# block dequantization (bit-identical to formats' dequantizer), linear + cross-entropy.
say "== gpu tests"
timeout "$(cap 150)" "$TESTS" --gtest_filter='*Cuda*' >"$OUT/tests.log" 2>&1
TEST_RC=$?
grep -E '^\[ +(OK|FAILED|SKIPPED) +\]' "$OUT/tests.log" | tee -a "$SUMMARY"
say "gpu tests exit code $TEST_RC at $(elapsed)"

# 3. Kernel benchmarks on the GPU (every op, GGUF dequantization included), bfloat16 then float32.
say "== kernel benchmarks"
for dtype in bfloat16 float32; do
  timeout "$(cap 110)" "${BENCH[@]}" --device cuda --dtype "$dtype" --repeats 20 --ce-hidden 2048 2>>"$OUT/bench.log" \
    | tee -a "$OUT/bench.log" >>"$SUMMARY"
  say "($dtype done at $(elapsed))"
done

say "== done in $(elapsed)"
cat "$SUMMARY"
[ "$TEST_RC" -eq 0 ]
