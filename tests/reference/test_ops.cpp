// Reference ops against values derived by hand (or from the formula in double precision).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "reference/decoder.h"
#include "reference/multimodal.h"
#include "reference/ops.h"

using namespace g4;
using namespace g4::reference;

TEST_CASE("rmsnorm multiplies by the plain weight (not 1 + w) / pow(ms + eps / -0.5)", "[reference]") {
  // x = [1, 2, 3, 4]: mean of squares = 30 / 4 = 7.5.
  std::vector<float> x = {1, 2, 3, 4};
  rmsnorm_rows(x, 4, std::vector<float>{2, 2, 0, 0.5f}, 1e-6f, Precision::FP32);
  const double s = 1.0 / std::sqrt(7.5 + 1e-6);
  CHECK(x[0] == Approx(2 * s).epsilon(1e-6));
  CHECK(x[1] == Approx(4 * s).epsilon(1e-6));
  CHECK(x[2] == 0.0f);  // weight 0 zeroes the lane; a (1 + w) norm would give 3·s
  CHECK(x[3] == Approx(2 * s).epsilon(1e-6));
  // No-scale variant: unit RMS.
  std::vector<float> y = {3, -4};  // ms = 12.5
  rmsnorm_rows(y, 2, {}, 1e-6f, Precision::FP32);
  CHECK(y[0] == Approx(3 / std::sqrt(12.5)).epsilon(1e-6));
  CHECK(y[1] == Approx(-4 / std::sqrt(12.5)).epsilon(1e-6));
  // Two rows are normalized independently.
  std::vector<float> z = {1, 1, 10, 10};
  rmsnorm_rows(z, 2, {}, 0.0f, Precision::FP32);
  CHECK(z == std::vector<float>{1, 1, 1, 1});
}

TEST_CASE("layernorm uses the biased variance and eps", "[reference]") {
  std::vector<float> x = {1, 2, 3, 4};  // mean 2.5, biased var 1.25
  layernorm_rows(x, 4, std::vector<float>{1, 1, 2, 1}, std::vector<float>{0, 0, 0, 10}, 1e-5f,
                 Precision::FP32);
  const double r = 1.0 / std::sqrt(1.25 + 1e-5);
  CHECK(x[0] == Approx(-1.5 * r).epsilon(1e-6));
  CHECK(x[1] == Approx(-0.5 * r).epsilon(1e-6));
  CHECK(x[2] == Approx(2 * 0.5 * r).epsilon(1e-6));
  CHECK(x[3] == Approx(10 + 1.5 * r).epsilon(1e-6));
}

TEST_CASE("gelu_tanh matches PyTorch's tanh approximation", "[reference]") {
  for (double v : {-3.0, -1.0, -0.1, 0.0, 0.5, 1.0, 2.5}) {
    const double want = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    CHECK(gelu_tanh(static_cast<float>(v)) == Approx(want).epsilon(1e-6).margin(1e-7));
  }
  CHECK(gelu_tanh(1.0f) ==
        Approx(0.8411920).epsilon(1e-6));  // torch.nn.functional.gelu(1, approximate="tanh")
}

TEST_CASE("softcap: fp32 formula and the three bf16-rounded ops", "[reference]") {
  const float x = static_cast<float>(30 * std::atanh(0.5));  // 30·tanh(x/30) = 15
  CHECK(softcap(x, 30.f, Precision::FP32) == Approx(15.0).epsilon(1e-6));
  // bf16: 16.5/30 = 0.55 -> bf16 0.55078125; tanh = 0.50110 -> bf16 0.5 (spacing 2^-8); ×30 = 15 exactly.
  CHECK(softcap(16.5f, 30.f, Precision::BF16) == 15.0f);
  CHECK(softcap(1e6f, 30.f, Precision::FP32) == 30.0f);
}

TEST_CASE("linear: y = x·Wᵀ + b with one bf16 rounding at the output", "[reference]") {
  // x = [1, 1], W row = [1, 2^-9]: 1 + 2^-9 is under half a bf16 step at 1 (2^-8), so it rounds to 1.0.
  const std::vector<float> x = {1, 1};
  const std::vector<float> W = {1, 0.001953125f, 2, 3};
  const std::vector<float> b = {0, 0.5f};
  const auto f = linear(x, 1, 2, W, 2, Precision::FP32, b);
  CHECK(f == std::vector<float>{1.001953125f, 5.5f});
  const auto r = linear(x, 1, 2, W, 2, Precision::BF16, b);
  CHECK(r == std::vector<float>{1.0f, 5.5f});
}

TEST_CASE("linear is bit-identical for every thread count and token-block remainder", "[reference]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> d;
  for (int64_t T : {1, 3, 4, 5, 9}) {
    std::vector<float> x(static_cast<size_t>(T * 129)), W(53 * 129);
    for (auto& v : x) v = d(rng);
    for (auto& v : W) v = d(rng);
    set_num_threads(1);
    const auto y1 = linear(x, T, 129, W, 53, Precision::FP32);
    set_num_threads(3);
    const auto y3 = linear(x, T, 129, W, 53, Precision::FP32);
    set_num_threads(8);
    const auto y8 = linear(x, T, 129, W, 53, Precision::FP32);
    REQUIRE(std::memcmp(y1.data(), y3.data(), y1.size() * 4) == 0);
    REQUIRE(std::memcmp(y1.data(), y8.data(), y1.size() * 4) == 0);
    // Each output is the k-ascending fp32 sum (checked against a plain loop for one row).
    for (int64_t t = 0; t < T; ++t) {
      float acc = 0;
      for (int64_t k = 0; k < 129; ++k) acc += x[t * 129 + k] * W[5 * 129 + k];
      CHECK(y1[t * 53 + 5] == acc);
    }
  }
  set_num_threads(1);
}

TEST_CASE("rope frequencies: default and proportional (denominator = full head_dim / zero-padded)",
          "[reference]") {
  RopeParams def{"default", 10000.0, 1.0, 1.0};
  const auto a = rope_inv_freq(def, 16);
  REQUIRE(a.size() == 8);
  for (int i = 0; i < 8; ++i) CHECK(a[i] == Approx(std::pow(10000.0, -2.0 * i / 16)).epsilon(1e-6));
  RopeParams prop{"proportional", 1e6, 0.25, 1.0};
  const auto b = rope_inv_freq(prop, 16);  // int(0.25·16 // 2) = 2 real frequencies
  REQUIRE(b.size() == 8);
  CHECK(b[0] == 1.0f);
  CHECK(b[1] == Approx(std::pow(1e6, -2.0 / 16)).epsilon(1e-6));  // 1e6^(-2/16), not 1e6^(-2/4)
  for (int i = 2; i < 8; ++i) CHECK(b[i] == 0.0f);
}

TEST_CASE("rope pairs lane j with j + D/2 / proportional leaves the other lanes unrotated", "[reference]") {
  RopeParams prop{"proportional", 1e6, 0.25, 1.0};
  const auto inv = rope_inv_freq(prop, 16);
  const double th1 = std::pow(1e6, -2.0 / 16) * 3;  // position 3, frequency 1
  auto basis = [](int j) {
    std::vector<float> v(16, 0.f);
    v[j] = 1.f;
    return v;
  };
  auto e0 = basis(0);
  rope_row(e0, inv, 3, Precision::FP32);  // lane 0 (θ = 3) rotates into lane 8
  CHECK(e0[0] == Approx(std::cos(3.0)).epsilon(1e-6));
  CHECK(e0[8] == Approx(std::sin(3.0)).epsilon(1e-6));
  auto e9 = basis(9);
  rope_row(e9, inv, 3, Precision::FP32);  // lane 9 pairs with lane 1: rotate_half gives -x[9] at lane 1
  CHECK(e9[1] == Approx(-std::sin(th1)).epsilon(1e-6));
  CHECK(e9[9] == Approx(std::cos(th1)).epsilon(1e-6));
  for (int j : {2, 7, 10, 15}) {  // zero-frequency lanes pass through unchanged
    auto e = basis(j);
    rope_row(e, inv, 3, Precision::FP32);
    CHECK(e == basis(j));
  }
  // Default RoPE on D=16: lane 3 pairs with lane 11 at θ = pos·10000^(-6/16).
  RopeParams def{"default", 10000.0, 1.0, 1.0};
  auto e3 = basis(3);
  rope_row(e3, rope_inv_freq(def, 16), 5, Precision::FP32);
  const double th = 5 * std::pow(10000.0, -6.0 / 16);
  CHECK(e3[3] == Approx(std::cos(th)).epsilon(1e-5));
  CHECK(e3[11] == Approx(std::sin(th)).epsilon(1e-5));
  // bf16: cos(1) = 0.540302 -> 0.5390625, sin(1) = 0.841471 -> 0.83984375 (bf16 spacing 2^-8 in [0.5, 1)).
  auto b0 = basis(0);
  rope_row(b0, inv, 1, Precision::BF16);
  CHECK(b0[0] == 0.5390625f);
  CHECK(b0[8] == 0.83984375f);
}

TEST_CASE("mask: sliding boundary / causality and bidirectional vision blocks", "[reference]") {
  const std::vector<int64_t> none(12, -1);
  // window 4: a query sees itself and 3 earlier keys.
  CHECK(key_visible(10, 7, true, 4, none));        // distance 3 = window - 1: visible
  CHECK_FALSE(key_visible(10, 6, true, 4, none));  // distance 4 = window: masked
  CHECK(key_visible(10, 0, false, 4, none));       // full layers: no window
  CHECK_FALSE(key_visible(5, 6, false, 4, none));  // future key
  const std::vector<int64_t> blocks = {-1, 0, 0, 0, 0, 0, 0, -1, 1, 1};
  CHECK(key_visible(1, 6, true, 4, blocks));         // same block: future key visible, beyond the window too
  CHECK(key_visible(6, 1, true, 4, blocks));         // distance 5 > window but same block
  CHECK_FALSE(key_visible(7, 8, false, 4, blocks));  // text query, image key in the future
  CHECK_FALSE(key_visible(6, 8, false, 4, blocks));  // different blocks
  CHECK(key_visible(8, 9, false, 4, blocks));
}

TEST_CASE("vision blocks are maximal runs of image/video placeholder ids", "[reference]") {
  ModelConfig c;
  c.image_token_id = 500;
  c.video_token_id = 502;
  const std::vector<int32_t> ids = {2, 500, 500, 499, 500, 502, 7, 501, 500};
  const auto b = vision_block_ids(c, ids, 3);
  CHECK(b == std::vector<int64_t>{-1, 3, 3, -1, 4, 4, -1, -1, 5});
}
