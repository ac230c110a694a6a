#!/usr/bin/env bash
# The README's main command: install, build, generate the default checkpoint, run the default job.
# Default job (for now): inspect the checkpoint and run the bit-exact reference forward pass on a prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
model=${G4_MODEL:-models/tiny}
[ -f "$model/model.safetensors" ] || build/g4eval make-tiny --out "$model" --seed 0
build/g4eval inspect --model "$model"
mkdir -p out
build/g4eval forward --model "$model" --backend reference --precision bf16 \
  --prompt "The capital of France is" --dump out/forward-bf16.safetensors --trace
