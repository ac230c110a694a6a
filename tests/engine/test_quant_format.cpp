// Weight formats: the format table, hand-worked blocks (values derived in the comments from the
// quantizers' definitions), edge cases, round-trip error bounds that follow from each format, idempotence.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "engine/quant/format.h"

using namespace g4;
using namespace g4::quant;

namespace {

std::vector<uint8_t> quantize(Format f, const std::vector<float>& x) {
  std::vector<uint8_t> out(row_bytes(f, static_cast<int64_t>(x.size())));
  quantize_row(f, x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

std::vector<float> dequantize(Format f, const std::vector<uint8_t>& q, size_t n) {
  std::vector<float> y(n);
  dequantize_row(f, q.data(), y.data(), static_cast<int64_t>(n));
  return y;
}

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = g(rng);
  return x;
}

// 32 nibble values -> the 16 bytes of a q4_0 block: element j low, element j + 16 high.
std::vector<uint8_t> pack_q4(const int (&q)[32]) {
  std::vector<uint8_t> b(16);
  for (int j = 0; j < 16; ++j) b[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
  return b;
}

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

}  // namespace

TEST_CASE("format table and row sizes", "[quant]") {
  CHECK(info(Format::Q8_0).name == "q8_0");
  CHECK(info(Format::Q4_K).block_elems == 256);
  CHECK(info(Format::Q6_K).block_bytes == 210);
  CHECK(parse_format("Q4_K") == Format::Q4_K);
  CHECK(parse_format("int8") == Format::I8);
  CHECK(parse_format("INT8") == Format::I8);
  CHECK(parse_format("bf16") == Format::BF16);
  CHECK_FALSE(parse_format("q5_k").has_value());
  CHECK(is_block_format(Format::Q4_0));
  CHECK_FALSE(is_block_format(Format::I8));
  // GGUF sizes: 3840 values = 120 q8_0 blocks of 34 bytes, 15 q4_k super-blocks of 144 bytes.
  CHECK(row_bytes(Format::Q8_0, 3840) == 120 * 34);
  CHECK(row_bytes(Format::Q4_0, 3840) == 120 * 18);
  CHECK(row_bytes(Format::Q4_K, 3840) == 15 * 144);
  CHECK(row_bytes(Format::Q6_K, 3840) == 15 * 210);
  CHECK(row_bytes(Format::I8, 3840) == 4 + 3840);
  CHECK(row_bytes(Format::BF16, 3) == 6);
  CHECK(activation_row_bytes(Format::Q4_0, 3840) == 120 * 34);
  CHECK(activation_row_bytes(Format::I8, 3840) == 120 * 34);
  CHECK(activation_row_bytes(Format::Q6_K, 3840) == 15 * (4 + 256 + 32));
  CHECK(activation_row_bytes(Format::BF16, 10) == 20);
  CHECK_THROWS_AS(row_bytes(Format::Q4_K, 100), InternalError);
  CHECK_THROWS_AS(activation_row_bytes(Format::I8, 100), InternalError);  // q8_0 activations: blocks of 32
}

TEST_CASE("q8_0 hand-worked blocks round half away from zero", "[quant]") {
  // amax 127 -> d = 127/127 = 1 (f16 0x3c00), 1/d = 1, q = roundf(x): halves go away from zero.
  std::vector<float> x(32, 0.0f);
  const float in[] = {127, -127, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 3.49f, 100.7f, -0.49f};
  const int8_t want[] = {127, -127, 1, -1, 2, 3, -3, 3, 101, 0};
  std::copy(std::begin(in), std::end(in), x.begin());
  auto q = quantize(Format::Q8_0, x);
  REQUIRE(q.size() == 34);
  CHECK(q[0] == 0x00);
  CHECK(q[1] == 0x3c);
  for (size_t j = 0; j < 32; ++j) CHECK(static_cast<int8_t>(q[2 + j]) == (j < 10 ? want[j] : 0));

  // amax 254 -> d = 2 (f16 0x4000), 1/d = 0.5 exactly: -3 -> -1.5 -> -2, 5 -> 2.5 -> 3, 1 -> 0.5 -> 1.
  std::vector<float> x2(32, 0.0f);
  const float in2[] = {254, -3, 5, 1, -1, 0.9f};
  const int8_t want2[] = {127, -2, 3, 1, -1, 0};
  std::copy(std::begin(in2), std::end(in2), x2.begin());
  q = quantize(Format::Q8_0, x2);
  CHECK(q[0] == 0x00);
  CHECK(q[1] == 0x40);
  for (size_t j = 0; j < 6; ++j) CHECK(static_cast<int8_t>(q[2 + j]) == want2[j]);
  const auto y = dequantize(Format::Q8_0, q, 32);
  CHECK(y[0] == 254.0f);
  CHECK(y[1] == -4.0f);
  CHECK(y[2] == 6.0f);
}

TEST_CASE("q4_0 hand-worked blocks: max by magnitude and the clamp", "[quant]") {
  // Block A: the largest magnitude is -8 -> d = -8/-8 = 1 (f16 0x3c00); q = min(15, trunc(x + 8.5)).
  std::vector<float> a(32, 0.0f);
  const float in_a[] = {-8, 7, 7.4f, 0.5f, -0.5f, 1.49f, 3, -7.6f, -7.4f};
  std::copy(std::begin(in_a), std::end(in_a), a.begin());
  a[16] = -3.2f;  // high nibble of byte 0: trunc(5.3) = 5
  int qa[32];
  for (int& v : qa) v = 8;  // zeros: trunc(8.5) = 8
  const int want_a[] = {0, 15, 15, 9, 8, 9, 11, 0, 1};
  std::copy(std::begin(want_a), std::end(want_a), qa);
  qa[16] = 5;
  auto q = quantize(Format::Q4_0, a);
  REQUIRE(q.size() == 18);
  CHECK(q[0] == 0x00);
  CHECK(q[1] == 0x3c);
  CHECK(std::vector<uint8_t>(q.begin() + 2, q.end()) == pack_q4(qa));

  // Block B: 8 at index 3 and -8 at index 5 tie in magnitude; the first wins, so max = 8 and d = -1
  // (f16 0xbc00), q = trunc(-x + 8.5). x = -8 gives 16, clamped to 15: it comes back as -7 (error |d|).
  std::vector<float> b(32, 0.0f);
  b[3] = 8;
  b[5] = -8;
  b[6] = 2;      // trunc(6.5) = 6
  b[7] = -2.5f;  // trunc(11) = 11
  int qb[32];
  for (int& v : qb) v = 8;
  qb[3] = 0;
  qb[5] = 15;
  qb[6] = 6;
  qb[7] = 11;
  q = quantize(Format::Q4_0, b);
  CHECK(q[0] == 0x00);
  CHECK(q[1] == 0xbc);
  CHECK(std::vector<uint8_t>(q.begin() + 2, q.end()) == pack_q4(qb));
  const auto y = dequantize(Format::Q4_0, q, 32);
  CHECK(y[3] == 8.0f);
  CHECK(y[5] == -7.0f);
  CHECK(y[7] == -3.0f);
}

TEST_CASE("i8 hand-worked row rounds half to even", "[quant]") {
  // amax 254 -> scale 2; q = round-half-even(x / 2): -127/2 = -63.5 -> -64, 3/2 -> 2, 5/2 -> 2, 7/2 -> 4.
  const std::vector<float> x = {254, -127, 1, 3, 5, -5, 7, 0};
  const int8_t want[] = {127, -64, 0, 2, 2, -2, 4, 0};
  const auto q = quantize(Format::I8, x);
  REQUIRE(q.size() == 4 + 8);
  float scale;
  std::memcpy(&scale, q.data(), 4);
  CHECK(scale == 2.0f);
  for (size_t j = 0; j < 8; ++j) CHECK(static_cast<int8_t>(q[4 + j]) == want[j]);
  CHECK(dequantize(Format::I8, q, 8)[1] == -128.0f);
}

TEST_CASE("q8_k activation block: scale from the signed max and sums of 16", "[quant]") {
  // max by magnitude is -127 -> iscale = -127/-127 = 1, d = 1; q = min(127, round-half-even(x)).
  std::vector<float> x(256, 0.0f);
  const float in[] = {-127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 126.6f};
  const int8_t want[] = {-127, 0, 2, 2, 0, -2, 127};
  std::copy(std::begin(in), std::end(in), x.begin());
  x[20] = 3;
  std::vector<uint8_t> q(activation_row_bytes(Format::Q4_K, 256));
  REQUIRE(q.size() == 292);
  quantize_activation_row(Format::Q4_K, x.data(), q.data(), 256);
  float d;
  std::memcpy(&d, q.data(), 4);
  CHECK(d == 1.0f);
  for (size_t j = 0; j < 7; ++j) CHECK(static_cast<int8_t>(q[4 + j]) == want[j]);
  int16_t bsums[16];
  std::memcpy(bsums, q.data() + 4 + 256, sizeof(bsums));
  CHECK(bsums[0] == -127 + 0 + 2 + 2 + 0 - 2 + 127);
  CHECK(bsums[1] == 3);
  CHECK(bsums[2] == 0);
}

TEST_CASE("all-zero blocks", "[quant]") {
  const std::vector<float> zeros(256, 0.0f);
  // q4_0: max stays +0, d = 0/-8 = -0 (f16 0x8000), 1/d taken as 0, q = trunc(8.5) = 8 in both nibbles.
  const auto q4 = quantize(Format::Q4_0, zeros);
  CHECK(q4[0] == 0x00);
  CHECK(q4[1] == 0x80);
  CHECK(q4[2] == 0x88);
  for (Format f : {Format::Q8_0, Format::Q4_K, Format::Q6_K}) {
    const auto q = quantize(f, zeros);
    CHECK(std::all_of(q.begin(), q.end(), [](uint8_t b) { return b == 0; }));
  }
  for (Format f : {Format::I8, Format::Q8_0, Format::Q4_0, Format::Q4_K, Format::Q6_K}) {
    const auto y = dequantize(f, quantize(f, zeros), 256);
    CHECK(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.0f; }));
  }
}

TEST_CASE("q8_0 and q4_0 round trip within half a step", "[quant]") {
  for (int trial = 0; trial < 4; ++trial) {
    auto x = gaussian(3840, 100 + trial, trial == 3 ? 1e-3f : 1.0f);
    if (trial == 2) x[77] = 1e4f;  // one huge outlier: the rest of its block rounds to 0, still within d/2
    const auto q8 = quantize(Format::Q8_0, x);
    const auto y8 = dequantize(Format::Q8_0, q8, x.size());
    const auto q4 = quantize(Format::Q4_0, x);
    const auto y4 = dequantize(Format::Q4_0, q4, x.size());
    for (size_t b = 0; b < x.size() / 32; ++b) {
      // d is computed in f32 and stored as f16; q was chosen against the f32 d, so the bound is half a step
      // plus |q|·|d - d_f16| for the scale's rounding.
      float amax = 0.0f, max = 0.0f;
      for (size_t j = 0; j < 32; ++j) {
        if (std::fabs(x[32 * b + j]) > amax) {
          amax = std::fabs(x[32 * b + j]);
          max = x[32 * b + j];
        }
      }
      const double d8 = amax / 127.0f, d8_16 = f16_at(&q8[34 * b]);
      const double d4 = max / -8.0f, d4_16 = f16_at(&q4[18 * b]);
      for (size_t j = 0; j < 32; ++j) {
        const size_t k = 32 * b + j;
        // The slack of 1e-5 steps covers the f32 rounding of x·(1/d) (|x/d| <= 127, so < 127·2^-24 steps).
        REQUIRE(std::fabs(x[k] - y8[k]) <= (0.5 + 1e-5) * d8 + 127 * std::fabs(d8 - d8_16));
        // q4_0: values at or beyond 7.5 steps on the side opposite to max are clamped to 7 steps: error <=
        // |d|.
        const bool clamped = x[k] / d4 >= 7.5;
        const double step_error = (clamped ? 1.0 : 0.5) * std::fabs(d4);
        REQUIRE(std::fabs(x[k] - y4[k]) <= step_error + 1e-5 * std::fabs(d4) + 8 * std::fabs(d4 - d4_16));
      }
    }
  }
}

TEST_CASE("i8 round trip within half a step", "[quant]") {
  const auto x = gaussian(3840, 9);
  const auto q = quantize(Format::I8, x);
  const auto y = dequantize(Format::I8, q, x.size());
  float scale;
  std::memcpy(&scale, q.data(), 4);
  for (size_t k = 0; k < x.size(); ++k) REQUIRE(std::fabs(x[k] - y[k]) <= (0.5 + 1e-5) * scale);
}

TEST_CASE("q4_k and q6_k round trip error within a step", "[quant]") {
  // One step of a super-block: q4_k spans [min(0, min x), max x] with 15 steps at its widest sub-block;
  // q6_k spans ±amax with 32 steps each side. Rounding to a grid of that spacing errs by at most half a
  // step (so RMSE <= step/2); the fitted scales and the clamp at the grid's ends may add up to half a step
  // more on single elements.
  for (Format f : {Format::Q4_K, Format::Q6_K}) {
    for (int trial = 0; trial < 3; ++trial) {
      auto x = gaussian(15360, 200 + trial);
      if (trial == 1)
        for (float& v : x) v = v * v * v;  // heavy tails
      if (trial == 2) x[1000] = 300.0f;    // an outlier
      const auto y = dequantize(f, quantize(f, x), x.size());
      for (size_t b = 0; b < x.size() / 256; ++b) {
        double lo = 0, hi = -1e30, amax = 0, se = 0, worst = 0;
        for (size_t j = 0; j < 256; ++j) {
          const double v = x[256 * b + j], e = v - y[256 * b + j];
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          amax = std::max(amax, std::fabs(v));
          se += e * e;
          worst = std::max(worst, std::fabs(e));
        }
        const double step = f == Format::Q4_K ? (hi - lo) / 15 : amax / 32;
        INFO(info(f).name << " super-block " << b);
        REQUIRE(std::sqrt(se / 256) <= step / 2);
        REQUIRE(worst <= step);
      }
    }
  }
}

TEST_CASE("q8_0 and q4_0 requantize their own output to the same bytes", "[quant]") {
  // d_f16·q re-quantizes to d_f16 (127·d_f16/127 and -8·d_f16/-8 are exact: d_f16 has 11 significant
  // bits) and to the same q. (i8 is left out: its f32 scale times 127 is not exact.)
  for (Format f : {Format::Q8_0, Format::Q4_0}) {
    const auto x = gaussian(3840, 300);
    const auto q = quantize(f, x);
    CHECK(quantize(f, dequantize(f, q, x.size())) == q);
  }
}

TEST_CASE("bf16 and f32 rows", "[quant]") {
  const std::vector<float> x = {1.0f, 1.00390625f, 1.01171875f, -2.0f};
  const auto q = quantize(Format::BF16, x);
  uint16_t b[4];
  std::memcpy(b, q.data(), 8);
  CHECK(b[0] == 0x3f80);
  CHECK(b[1] == 0x3f80);  // tie -> even
  CHECK(b[2] == 0x3f82);  // tie -> even
  CHECK(b[3] == 0xc000);
  CHECK(dequantize(Format::F32, quantize(Format::F32, x), 4) == x);
}
