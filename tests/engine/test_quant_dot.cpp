// Dot products: the fast kernels against the scalar ones and both against a float64 dot of the dequantized
// values (bounds derived from float summation error), exact agreement on data whose sums are exact in
// float (so the integer parts must match), and dequantize_row_to_bf16 against its scalar twin.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "engine/quant/dequant.h"
#include "engine/quant/format.h"

using namespace g4;
using namespace g4::quant;

namespace {

constexpr double kU = 1.0 / (1 << 24);  // unit roundoff of f32
constexpr Format kAll[] = {Format::F32,  Format::BF16, Format::I8,  Format::Q8_0,
                           Format::Q4_0, Format::Q4_K, Format::Q6_K};

bool q8_k_activations(Format f) { return f == Format::Q4_K || f == Format::Q6_K; }

// The activation row as floats: q8_0 rows are a weight format of their own; q8_k blocks are
// [f32 d][256 × int8][16 × int16], value = d·q.
std::vector<float> dequantize_activation(Format f, const std::vector<uint8_t>& act, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  if (q8_k_activations(f)) {
    for (int64_t b = 0; b < n / 256; ++b) {
      const uint8_t* block = act.data() + 292 * b;
      float d;
      std::memcpy(&d, block, 4);
      for (int j = 0; j < 256; ++j) y[256 * b + j] = d * static_cast<int8_t>(block[4 + j]);
    }
  } else {
    const Format as = f == Format::F32 || f == Format::BF16 ? f : Format::Q8_0;
    dequantize_row(as, act.data(), y.data(), n);
  }
  return y;
}

struct Case {
  std::vector<uint8_t> w, a;
  std::vector<float> wf, af;  // dequantized
  double magnitude = 0;       // Σ |terms| the kernels add up (see make_case)
  double exact = 0;           // Σ wf·af in float64
};

Case make_case(Format f, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  for (auto& v : x) v = g(rng);
  for (auto& v : y) v = g(rng);
  Case c;
  c.w.resize(row_bytes(f, n));
  c.a.resize(activation_row_bytes(f, n));
  quantize_row(f, x.data(), c.w.data(), n);
  quantize_activation_row(f, y.data(), c.a.data(), n);
  c.wf.resize(x.size());
  dequantize_row(f, c.w.data(), c.wf.data(), n);
  c.af = dequantize_activation(f, c.a, n);
  // q4_k computes d·Σ sc·q·a and dmin·Σ m·a separately; their magnitudes can exceed |w·a|. Zeroing dmin
  // (bytes 2-3 of each super-block) gives the first part alone, and w minus it the second.
  std::vector<float> scaled_part = c.wf;
  if (f == Format::Q4_K) {
    auto w0 = c.w;
    for (size_t b = 0; b < w0.size() / 144; ++b) w0[144 * b + 2] = w0[144 * b + 3] = 0;
    dequantize_row(f, w0.data(), scaled_part.data(), n);
  }
  for (size_t k = 0; k < x.size(); ++k) {
    const double wa = static_cast<double>(c.wf[k]) * c.af[k];
    c.exact += wa;
    c.magnitude += (std::fabs(scaled_part[k]) + std::fabs(c.wf[k] - scaled_part[k])) * std::fabs(c.af[k]);
  }
  return c;
}

// Terms each kernel adds in sequence: one per block (per element for the plain formats).
double terms(Format f, int64_t n) {
  return static_cast<double>(n) / static_cast<double>(info(f).block_elems);
}

}  // namespace

TEST_CASE("vec_dot agrees with vec_dot_scalar and a float64 dot", "[quant]") {
  for (Format f : kAll) {
    for (int64_t n : {256, 3840, 15360}) {
      const Case c = make_case(f, n, static_cast<uint32_t>(n) + static_cast<uint32_t>(f));
      const float fast = vec_dot(f, n, c.w.data(), c.a.data());
      const float scalar = vec_dot_scalar(f, n, c.w.data(), c.a.data());
      // Adding m terms whose partial sums stay below S in f32 errs by at most m·u·S; each kernel has its
      // own order, and each term (and the dequantized values of the float64 side) one more rounding.
      const double m = f == Format::I8 ? static_cast<double>(n) / 32 : terms(f, n);
      const double bound = 2 * (m + 2) * kU * c.magnitude;
      INFO(info(f).name << " n=" << n << " fast=" << fast << " scalar=" << scalar << " f64=" << c.exact
                        << " bound=" << bound);
      CHECK(std::fabs(static_cast<double>(fast) - scalar) <= bound);
      CHECK(std::fabs(scalar - c.exact) <= bound);
      CHECK(std::fabs(fast - c.exact) <= bound);
    }
  }
}

TEST_CASE("partial groups of blocks at the end of a row", "[quant]") {
  // The 32-element kernels work on 16 blocks at a time; rows of 1, 3, 17 and 31 blocks end mid-group.
  for (Format f : {Format::I8, Format::Q8_0, Format::Q4_0}) {
    for (int64_t n : {32, 96, 544, 992}) {
      const Case c = make_case(f, n, 7);
      const float fast = vec_dot(f, n, c.w.data(), c.a.data());
      const float scalar = vec_dot_scalar(f, n, c.w.data(), c.a.data());
      INFO(info(f).name << " n=" << n);
      CHECK(std::fabs(static_cast<double>(fast) - scalar) <= 2 * (n / 32.0 + 2) * kU * c.magnitude);
    }
  }
}

namespace {

// Rows whose every partial sum is an integer (or half-integer) below 2^23: both kernels must then give the
// exact sum, which checks their integer parts bit for bit. Built from raw bytes, scales set to 1 (or 0.5).
struct ExactCase {
  std::vector<uint8_t> w, a;
};

void put_f16(uint8_t* p, float v) {
  const f16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

ExactCase exact_case(Format f, int64_t n, std::mt19937& rng) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ExactCase c;
  c.w.resize(row_bytes(f, n));
  c.a.resize(activation_row_bytes(f, n));
  for (auto& b : c.w) b = static_cast<uint8_t>(uniform(0, 255));
  switch (f) {
    case Format::F32:
    case Format::BF16: {
      std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
      for (auto& v : x) v = static_cast<float>(uniform(-8, 8));
      for (auto& v : y) v = static_cast<float>(uniform(-8, 8));
      quantize_row(f, x.data(), c.w.data(), n);
      quantize_activation_row(f, y.data(), c.a.data(), n);
      return c;
    }
    case Format::I8: {
      const float one = 1.0f;
      std::memcpy(c.w.data(), &one, 4);
      for (size_t k = 4; k < c.w.size(); ++k) c.w[k] = static_cast<uint8_t>(uniform(-127, 127));
      break;
    }
    case Format::Q8_0:
      for (size_t b = 0; b < c.w.size() / 34; ++b) {
        put_f16(&c.w[34 * b], 1.0f);
        for (int j = 0; j < 32; ++j) c.w[34 * b + 2 + j] = static_cast<uint8_t>(uniform(-127, 127));
      }
      break;
    case Format::Q4_0:
      for (size_t b = 0; b < c.w.size() / 18; ++b) put_f16(&c.w[18 * b], b % 2 ? -1.0f : 1.0f);
      break;
    case Format::Q4_K:
      for (size_t b = 0; b < c.w.size() / 144; ++b) {
        put_f16(&c.w[144 * b], 1.0f);      // d
        put_f16(&c.w[144 * b + 2], 0.5f);  // dmin
      }
      break;
    case Format::Q6_K:
      for (size_t b = 0; b < c.w.size() / 210; ++b) {
        for (int j = 0; j < 16; ++j) c.w[210 * b + 192 + j] = static_cast<uint8_t>(uniform(-31, 31));
        put_f16(&c.w[210 * b + 208], 1.0f);
      }
      break;
    case Format::kSentinel:
      break;
  }
  if (q8_k_activations(f)) {
    for (size_t b = 0; b < c.a.size() / 292; ++b) {
      uint8_t* block = &c.a[292 * b];
      const float d = 1.0f;
      std::memcpy(block, &d, 4);
      for (int g = 0; g < 16; ++g) {
        int16_t sum = 0;
        for (int j = 0; j < 16; ++j) {
          const int q = uniform(-4, 4);
          block[4 + 16 * g + j] = static_cast<uint8_t>(q);
          sum = static_cast<int16_t>(sum + q);
        }
        std::memcpy(block + 260 + 2 * g, &sum, 2);
      }
    }
  } else {
    for (size_t b = 0; b < c.a.size() / 34; ++b) {
      put_f16(&c.a[34 * b], 1.0f);
      for (int j = 0; j < 32; ++j) c.a[34 * b + 2 + j] = static_cast<uint8_t>(uniform(-127, 127));
    }
  }
  return c;
}

}  // namespace

TEST_CASE("exactly representable sums: fast and scalar kernels give the exact value", "[quant]") {
  std::mt19937 rng(42);
  for (Format f : kAll) {
    // Sizes keep every partial sum exact in f32: below 2^24 for integers (544·127·127 for the 8-bit
    // formats), below 2^23 for q4_k's half-integers (2048·63·15·4) and q6_k (2048·31·32·4).
    const int64_t n = f == Format::Q4_K || f == Format::Q6_K ? 2048 : 544;
    for (int trial = 0; trial < 3; ++trial) {
      const ExactCase c = exact_case(f, n, rng);
      std::vector<float> wf(static_cast<size_t>(n));
      dequantize_row(f, c.w.data(), wf.data(), n);
      const auto af = dequantize_activation(f, c.a, n);
      double exact = 0;
      for (size_t k = 0; k < wf.size(); ++k) exact += static_cast<double>(wf[k]) * af[k];
      INFO(info(f).name << " trial " << trial);
      REQUIRE(std::fabs(exact) < (1 << 23));  // the bound above, checked on the actual data
      CHECK(vec_dot_scalar(f, n, c.w.data(), c.a.data()) == exact);
      CHECK(vec_dot(f, n, c.w.data(), c.a.data()) == exact);
    }
  }
}

TEST_CASE("dequantize_row_to_bf16 is the bf16 of dequantize_row", "[quant]") {
  for (Format f : kAll) {
    for (int64_t n : {256, 3840}) {
      const int64_t len = is_block_format(f) ? n : n + 37;  // odd lengths for the per-element formats
      std::mt19937 rng(static_cast<uint32_t>(len));
      std::normal_distribution<float> g(0.0f, 3.0f);
      std::vector<float> x(static_cast<size_t>(len));
      for (auto& v : x) v = g(rng);
      std::vector<uint8_t> w(row_bytes(f, len));
      quantize_row(f, x.data(), w.data(), len);
      std::vector<float> y(x.size());
      dequantize_row(f, w.data(), y.data(), len);
      std::vector<uint16_t> want(x.size()), fast(x.size()), scalar(x.size());
      for (size_t k = 0; k < y.size(); ++k) want[k] = f32_to_bf16(y[k]);
      dequantize_row_to_bf16(f, w.data(), fast.data(), len);
      dequantize_row_to_bf16_scalar(f, w.data(), scalar.data(), len);
      INFO(info(f).name << " n=" << len);
      CHECK(scalar == want);
      CHECK(fast == want);
    }
  }
}

TEST_CASE("kernel names", "[quant]") {
  for (Format f : kAll) {
    const std::string k = kernel_name(f);
    INFO(info(f).name << ": " << k);
    CHECK((k == "scalar" || k == "avx512f" || k == "avx512_bf16" || k == "avx512_vnni"));
  }
}

TEST_CASE("dequantize_row_to_bf16 on a million random quants", "[quant]") {
  // Random block bytes with finite scales: enough values that a single differently rounded f32
  // intermediate (one fused multiply-add, say) would flip some bf16 rounding.
  constexpr int64_t n = 1 << 20;
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 0.01f);
  for (Format f : {Format::Q8_0, Format::Q4_0, Format::Q4_K, Format::Q6_K}) {
    std::vector<uint8_t> w(row_bytes(f, n));
    for (auto& b : w) b = static_cast<uint8_t>(rng());
    const size_t block = static_cast<size_t>(info(f).block_bytes);
    for (size_t b = 0; b < w.size() / block; ++b) {
      uint8_t* p = &w[b * block];
      if (f == Format::Q6_K) {
        put_f16(p + 208, g(rng));
      } else {
        put_f16(p, g(rng));
        if (f == Format::Q4_K) put_f16(p + 2, std::fabs(g(rng)));
      }
    }
    std::vector<uint16_t> fast(static_cast<size_t>(n)), scalar(static_cast<size_t>(n));
    dequantize_row_to_bf16(f, w.data(), fast.data(), n);
    dequantize_row_to_bf16_scalar(f, w.data(), scalar.data(), n);
    INFO(info(f).name);
    CHECK(fast == scalar);
  }
}
