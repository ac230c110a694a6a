#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs each for SECONDS (default 60).
# Usage: scripts/fuzz.sh [SECONDS]. Exits non-zero if a target crashes or reports a sanitizer error;
# crashing inputs are left in build-fuzz/findings/<target>/.
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${G4_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${G4_FUZZ_JOBS:-2}"

# G4_WERROR=OFF: clang warns on things g++ does not; a new warning elsewhere must not stop fuzzing.
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DG4_FUZZ=ON \
  -DG4_SANITIZE=ON -DG4_WERROR=OFF -DG4_CUDA=OFF -DG4_BUILD_BENCH=OFF -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target fuzz_safetensors fuzz_config

status=0
for target in fuzz_safetensors fuzz_config; do
  seeds="$root/tests/fuzz/corpus/${target#fuzz_}"
  work="$build/corpus/$target"  # grows as the fuzzer finds new coverage; seeds stay untouched
  findings="$build/findings/$target"
  mkdir -p "$work" "$findings"
  dict=()
  [[ -f "$root/tests/fuzz/${target#fuzz_}.dict" ]] && dict=(-dict="$root/tests/fuzz/${target#fuzz_}.dict")
  echo "== $target for ${seconds}s"
  if ! "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$findings/" -print_final_stats=1 "${dict[@]}" "$work" "$seeds" 2>"$build/$target.log"; then
    echo "!! $target found a crash; see $build/$target.log and $findings/" >&2
    grep -E "ERROR|SUMMARY|runtime error|terminate|what\(\)" "$build/$target.log" | head -20 >&2 || true
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/$target.log" || true
done
exit "$status"
