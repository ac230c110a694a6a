#!/usr/bin/env bash
# The CPU engine against the reference, in one run: `g4eval bench` on the tiny and the mid-size checkpoint
# for both backends back to back, then the ratios (docs/benchmarks.md). Optional: the 12B shape-only model at
# q4_0 and q8_0 (G4_BENCH_12B=1; needs ~8 and ~14 GB of memory and about 12 minutes on 2 cores).
#   scripts/bench-engine.sh [BUILD_DIR]        results in out/bench-engine/
set -euo pipefail
cd "$(dirname "$0")/.."
G4=${1:-build}/g4eval
OUT=out/bench-engine
mkdir -p "$OUT"
[ -d models/tiny ] || "$G4" make-tiny --out models/tiny >/dev/null
[ -d models/mid ] || "$G4" make-tiny --size mid --out models/mid >/dev/null
for m in tiny mid; do
  for b in reference cpu; do
    "$G4" bench --model "models/$m" --backend "$b" --n-prompt 64 --n-gen 16 --reps 2 --json "$OUT/$m-$b.json" |
      grep -E '^\| (reference|cpu)'
  done
done
if [ "${G4_BENCH_12B:-0}" = 1 ]; then
  for q in q4_0 q8_0; do
    "$G4" bench --shape 12b --backend cpu --quant "$q" --n-prompt 512 --n-gen 128 --reps 2 --json "$OUT/12b-$q.json" |
      grep -E '^\| cpu'
  done
fi
python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
def ts(name, test):
    j = json.load(open(os.path.join(out, name)))
    return next(r["avg_ts"] for r in j["records"] if r["test"].startswith(test))
for m in ("tiny", "mid"):
    for test in ("pp64", "tg16"):
        ref, eng = ts(f"{m}-reference.json", test), ts(f"{m}-cpu.json", test)
        print(f"{m:5s} {test}: reference {ref:9.2f} t/s, cpu bf16 {eng:9.2f} t/s, ratio {eng / ref:6.1f}x")
PY
