// CUDA build smoke test: the GPU's bf16 rounding equals core/dtype.h bit for bit. Skips, saying why,
// where no GPU is present (CI and developer machines have none).
#include <catch2/catch.hpp>

#include <bit>
#include <cstdio>
#include <random>

#include "core/dtype.h"
#include "engine/gpu.h"

TEST_CASE("gpu bf16 rounding matches the CPU", "[cuda]") {
  const g4::GpuStatus s = g4::probe_gpu();
  if (!s.available) {
    std::printf("SKIP gpu bf16 rounding: %s\n", s.reason.c_str());
    SUCCEED("skipped: " + s.reason);
    return;
  }
  std::mt19937 rng(7);
  std::vector<float> x;
  for (int i = 0; i < 1 << 20; ++i) x.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  for (float v : {0.0f, -0.0f, 1.00390625f, 1.01171875f}) x.push_back(v);
  const auto y = g4::gpu_round_to_bf16(x);
  size_t bad = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i] == x[i] && y[i] != g4::f32_to_bf16(x[i])) ++bad;  // NaN payloads may differ
  CHECK(bad == 0);
}
