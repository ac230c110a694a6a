#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this):
#   1. install dependencies (idempotent)
#   2. Release build (CUDA too when nvcc is found) + every test through ctest
#   3. ASan + UBSan build + every test again
#   4. libFuzzer (clang) on the safetensors and config parsers for a bounded time
# Set G4_SKIP_ASAN=1 or G4_FUZZ_SECONDS=0 to shorten a local run.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stage() { printf '\n== %s (%ds)\n' "$*" $(( $(date +%s) - start )); }

stage "install dependencies"
scripts/install-deps.sh

stage "release build"
scripts/build.sh build
stage "release tests"
(cd build && ctest --output-on-failure -j2 --timeout 900)

if [ "${G4_SKIP_ASAN:-0}" != 1 ]; then
  stage "asan+ubsan build"
  # Debug + -march=native on purpose: the pinned reference logits must come out bit-identical to the
  # Release build without host flags (docs/ARCHITECTURE.md, "Precision contract").
  scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DG4_NATIVE=ON -DG4_SANITIZE=ON -DG4_CUDA=OFF -DG4_BUILD_BENCH=OFF
  stage "asan+ubsan tests"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j2 --timeout 1800)
fi

if [ "${G4_FUZZ_SECONDS:-45}" != 0 ]; then
  stage "fuzz"
  scripts/fuzz.sh "${G4_FUZZ_SECONDS:-45}"
fi
stage "all tests passed"
