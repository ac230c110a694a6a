// CPU engine kernels against double-precision formulas and the reference's ops.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "engine/cpu/kernels.h"
#include "reference/ops.h"

using namespace g4;

TEST_CASE("softcap and gated gelu follow tanh within 1e-6 absolute", "[engine][cpu]") {
  std::vector<float> x, up;
  for (double v = -120.0; v <= 120.0; v += 0.0137) x.push_back(static_cast<float>(v));
  for (const float v : {0.0f, 1e-8f, -1e-8f, 1e-4f, 87.0f, -87.0f, 1e6f, -1e6f}) x.push_back(v);
  up.assign(x.size(), 1.0f);

  std::vector<float> capped = x;
  engine::cpu::softcap(capped.data(), static_cast<int64_t>(capped.size()), 30.0f);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::abs(capped[i] - std::tanh(static_cast<double>(x[i]) / 30.0) * 30.0));
  CHECK(worst < 3e-5);  // 30 × the tanh error bound of 1e-6

  std::vector<float> g;
  for (double v = -8.0; v <= 8.0; v += 0.001) g.push_back(static_cast<float>(v));
  std::vector<float> gated = g, ones(g.size(), 1.0f);
  engine::cpu::gelu_tanh_mul(gated.data(), ones.data(), static_cast<int64_t>(g.size()));
  worst = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double v = g[i];
    const double want = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    worst = std::max(worst, std::abs(gated[i] - want) / std::max(1.0, std::abs(want)));
  }
  CHECK(worst < 2e-6);
}

TEST_CASE("engine rmsnorm and rope agree with the reference in fp32", "[engine][cpu]") {
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.f, 1.f);
  const int64_t D = 128;
  std::vector<float> x(static_cast<size_t>(D)), w(static_cast<size_t>(D));
  for (auto& v : x) v = n(rng);
  for (auto& v : w) v = 1.0f + 0.1f * n(rng);
  std::vector<float> a = x, b = x;
  engine::cpu::rmsnorm(a.data(), 1, D, w.data(), 1e-6f);
  reference::rmsnorm_rows(b, D, w, 1e-6f, reference::Precision::FP32);
  for (int64_t i = 0; i < D; ++i)
    CHECK(a[static_cast<size_t>(i)] == Approx(b[static_cast<size_t>(i)]).epsilon(1e-6));

  for (const char* type : {"default", "proportional"}) {
    RopeParams rp;
    rp.rope_type = type;
    rp.rope_theta = std::string(type) == "default" ? 10000.0 : 1000000.0;
    rp.partial_rotary_factor = 0.25;
    const auto fe = engine::cpu::rope_inv_freq(rp, D);
    const auto fr = reference::rope_inv_freq(rp, D);
    REQUIRE(fe == fr);  // same fp32 formula, same bits
    for (const int64_t pos : {0, 1, 37, 4095, 131071}) {
      std::vector<float> ea = x, ra = x;
      engine::cpu::rope(ea.data(), 1, D, fe.data(), pos);
      reference::rope_row(ra, fr, pos, reference::Precision::FP32);
      for (int64_t i = 0; i < D; ++i)
        CHECK(ea[static_cast<size_t>(i)] == Approx(ra[static_cast<size_t>(i)]).margin(1e-5));
    }
  }
}
