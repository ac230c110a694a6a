// gemm_rows (engine/quant/gemm.h): many weight rows times many activation rows in one call.
//   - i8, q8_0, q4_0: every output equals vec_dot_scalar bit for bit (the same integer block sums and the
//     same float operations in the same order).
//   - q4_k, q6_k: every output equals the plain-loop twin gemm_rows_scalar bit for bit, and is within a
//     float-summation bound of vec_dot_scalar and of a float64 dot of the dequantized values.
//   - data whose sums are exact in f32 give the exact value (the integer parts, offsets and min terms).
//   - splitting rows or tokens, strides, and T = 1 against batched calls give identical bits.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "engine/quant/format.h"
#include "engine/quant/gemm.h"

using namespace g4;
using namespace g4::quant;

namespace {

constexpr double kU = 1.0 / (1 << 24);  // unit roundoff of f32
constexpr Format kQuantized[] = {Format::I8, Format::Q8_0, Format::Q4_0, Format::Q4_K, Format::Q6_K};

bool k_quant(Format f) { return f == Format::Q4_K || f == Format::Q6_K; }

void put_f16(uint8_t* p, float v) {
  const f16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// A weight matrix and activation rows, rows stored with optional padding between them (strides).
struct Problem {
  Format f;
  int64_t n, rows, T;
  size_t wrb, arb;  // row strides
  std::vector<uint8_t> W, A;
};

// Half the weight rows are quantized Gaussian rows, half random bytes with finite scales (every quant value,
// including q8_0's -128, and every 6-bit scale and min). Activations: quantized Gaussian rows, some scaled
// up so that the activation quantizer uses the full int8 range.
Problem make_problem(Format f, int64_t n, int64_t rows, int64_t T, uint32_t seed, size_t w_pad = 0,
                     size_t a_pad = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  Problem p{f, n, rows, T, row_bytes(f, n) + w_pad, activation_row_bytes(f, n) + a_pad, {}, {}};
  p.W.assign(p.wrb * static_cast<size_t>(rows), 0xAB);
  p.A.assign(p.arb * static_cast<size_t>(T), 0xCD);
  std::vector<float> x(static_cast<size_t>(n));
  const size_t block = static_cast<size_t>(info(f).block_bytes);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* w = p.W.data() + r * p.wrb;
    if (r % 2 == 0) {
      for (auto& v : x) v = g(rng);
      quantize_row(f, x.data(), w, n);
      continue;
    }
    for (size_t k = 0; k < row_bytes(f, n); ++k) w[k] = static_cast<uint8_t>(rng());
    if (f == Format::I8) {
      const float scale = 0.01f * (1 + static_cast<float>(r % 5));
      std::memcpy(w, &scale, 4);
      continue;
    }
    for (size_t b = 0; b < row_bytes(f, n) / block; ++b) {
      uint8_t* blk = w + b * block;
      if (f == Format::Q6_K) {
        put_f16(blk + 208, 0.01f * g(rng));
      } else {
        put_f16(blk, 0.01f * g(rng));
        if (f == Format::Q4_K) put_f16(blk + 2, 0.01f * std::fabs(g(rng)));
      }
    }
  }
  for (int64_t t = 0; t < T; ++t) {
    for (auto& v : x) v = g(rng) * (t % 3 == 0 ? 100.0f : 1.0f);
    quantize_activation_row(f, x.data(), p.A.data() + t * p.arb, n);
  }
  return p;
}

const uint8_t* wrow(const Problem& p, int64_t r) { return p.W.data() + r * p.wrb; }
const uint8_t* arow(const Problem& p, int64_t t) { return p.A.data() + t * p.arb; }

std::vector<float> run_gemm(const Problem& p) {
  std::vector<float> y(static_cast<size_t>(p.rows * p.T));
  gemm_rows(p.f, p.n, p.W.data(), p.wrb, p.rows, p.A.data(), p.arb, p.T, y.data(), p.rows);
  return y;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// Activation row as floats (q8_0 blocks are a weight format of their own; q8_k is [f32 d][256 q][16 sums]).
std::vector<double> activation_values(Format f, const uint8_t* a, int64_t n) {
  std::vector<double> y(static_cast<size_t>(n));
  if (k_quant(f)) {
    for (int64_t b = 0; b < n / 256; ++b) {
      float d;
      std::memcpy(&d, a + 292 * b, 4);
      for (int j = 0; j < 256; ++j)
        y[256 * b + j] = static_cast<double>(d) * static_cast<int8_t>(a[292 * b + 4 + j]);
    }
  } else {
    std::vector<float> v(static_cast<size_t>(n));
    dequantize_row(Format::Q8_0, a, v.data(), n);
    for (size_t k = 0; k < v.size(); ++k) y[k] = v[k];
  }
  return y;
}

// A weight row as float64 values, split for q4_k into the d·sc·q part and the min part (the kernels form
// the two separately, and their magnitudes can exceed |w|).
struct WeightValues {
  std::vector<double> scaled, min_part;
};

WeightValues weight_values(Format f, int64_t n, const uint8_t* w) {
  std::vector<float> wf(static_cast<size_t>(n)), scaled(static_cast<size_t>(n));
  dequantize_row(f, w, wf.data(), n);
  scaled = wf;
  if (f == Format::Q4_K) {  // zero dmin: the d·sc·q part alone
    std::vector<uint8_t> w0(w, w + row_bytes(f, n));
    for (size_t b = 0; b < w0.size() / 144; ++b) w0[144 * b + 2] = w0[144 * b + 3] = 0;
    dequantize_row(f, w0.data(), scaled.data(), n);
  }
  WeightValues v;
  for (size_t k = 0; k < wf.size(); ++k) {
    v.scaled.push_back(scaled[k]);
    v.min_part.push_back(static_cast<double>(wf[k]) - scaled[k]);
  }
  return v;
}

// Σ w·a in float64 and Σ |terms| the kernels add.
struct Exact {
  double value = 0, magnitude = 0;
};

Exact exact_dot(const WeightValues& w, const std::vector<double>& a) {
  Exact e;
  for (size_t k = 0; k < a.size(); ++k) {
    e.value += (w.scaled[k] + w.min_part[k]) * a[k];
    e.magnitude += (std::fabs(w.scaled[k]) + std::fabs(w.min_part[k])) * std::fabs(a[k]);
  }
  return e;
}

}  // namespace

TEST_CASE("gemm_rows of i8 q8_0 q4_0 equals vec_dot_scalar bit for bit", "[quant]") {
  for (Format f : {Format::I8, Format::Q8_0, Format::Q4_0}) {
    for (int64_t n : {256, 3840}) {
      for (int64_t T : {1, 3, 5, 16, 67}) {
        const Problem p = make_problem(f, n, 37, T, static_cast<uint32_t>(n + T));
        const std::vector<float> y = run_gemm(p);
        int mismatches = 0;
        for (int64_t t = 0; t < T; ++t)
          for (int64_t r = 0; r < p.rows; ++r)
            mismatches += !same_bits(y[t * p.rows + r], vec_dot_scalar(f, n, wrow(p, r), arow(p, t)));
        INFO(info(f).name << " n=" << n << " T=" << T);
        CHECK(mismatches == 0);
      }
    }
  }
}

TEST_CASE("gemm_rows equals gemm_rows_scalar bit for bit", "[quant]") {
  for (Format f : kQuantized) {
    for (int64_t n : {256, 3840}) {
      for (int64_t T : {1, 3, 5, 16, 67}) {
        const Problem p = make_problem(f, n, 53, T, static_cast<uint32_t>(3 * n + T));
        const std::vector<float> y = run_gemm(p);
        std::vector<float> want(y.size());
        gemm_rows_scalar(f, n, p.W.data(), p.wrb, p.rows, p.A.data(), p.arb, T, want.data(), p.rows);
        int mismatches = 0;
        for (size_t i = 0; i < y.size(); ++i) mismatches += !same_bits(y[i], want[i]);
        INFO(info(f).name << " n=" << n << " T=" << T << " kernel " << gemm_kernel_name(f));
        CHECK(mismatches == 0);
      }
    }
  }
}

TEST_CASE("gemm_rows is within the summation bound of vec_dot_scalar and float64", "[quant]") {
  for (Format f : kQuantized) {
    for (int64_t n : {256, 3840}) {
      for (int64_t T : {1, 3, 5, 16, 67}) {
        const Problem p = make_problem(f, n, 21, T, static_cast<uint32_t>(7 * n + T));
        std::vector<WeightValues> w;
        for (int64_t r = 0; r < p.rows; ++r) w.push_back(weight_values(f, n, wrow(p, r)));
        const std::vector<float> y = run_gemm(p);
        // Adding m terms whose partial sums stay below S in f32 errs by at most m·u·S, and each term carries
        // a few roundings of its own (conversion of the integer sum, the scale products). gemm adds one term
        // per block (two per q4_k super-block); vec_dot_scalar 8 lanes per super-block then the 8 lanes.
        const double m = k_quant(f) ? 2.0 * static_cast<double>(n) / 256 + 8 : static_cast<double>(n) / 32;
        int failures = 0;
        for (int64_t t = 0; t < T; ++t) {
          const std::vector<double> a = activation_values(f, arow(p, t), n);
          for (int64_t r = 0; r < p.rows; ++r) {
            const Exact e = exact_dot(w[static_cast<size_t>(r)], a);
            const double bound = 2 * (m + 3) * kU * e.magnitude;
            const double got = y[t * p.rows + r], scalar = vec_dot_scalar(f, n, wrow(p, r), arow(p, t));
            const bool ok = std::fabs(got - scalar) <= bound && std::fabs(got - e.value) <= bound;
            if (!ok && failures++ < 3)
              FAIL_CHECK(info(f).name << " n=" << n << " r=" << r << " t=" << t << " gemm=" << got
                                      << " scalar=" << scalar << " f64=" << e.value << " bound=" << bound);
          }
        }
        CHECK(failures == 0);
      }
    }
  }
}

TEST_CASE("gemm_rows gives the exact value when every partial sum is exact in f32", "[quant]") {
  // Scales 1 (or ±1, 0.5 for q4_k's dmin) and small activations: every integer part must be right, the
  // offsets of q8_0 / i8 (w + 128), q4_0 (nibble − 8) and q6_k (q − 32) and q4_k's min term included.
  std::mt19937 rng(9);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (Format f : kQuantized) {
    // Partial sums below 2^24: 544·127·127 for the 8-bit formats; q4_k 2048·63·15·4; q6_k 2048·31·32·4.
    const int64_t n = k_quant(f) ? 2048 : 544, rows = 19, T = 7;
    Problem p = make_problem(f, n, rows, T, 1);
    const size_t block = static_cast<size_t>(info(f).block_bytes);
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* w = p.W.data() + r * p.wrb;
      for (size_t k = 0; k < row_bytes(f, n); ++k) w[k] = static_cast<uint8_t>(uniform(0, 255));
      if (f == Format::I8) {
        const float one = 1.0f;
        std::memcpy(w, &one, 4);
      }
      for (size_t b = 0; f != Format::I8 && b < row_bytes(f, n) / block; ++b) {
        uint8_t* blk = w + b * block;
        if (f == Format::Q6_K) {
          for (int j = 0; j < 16; ++j) blk[192 + j] = static_cast<uint8_t>(uniform(-31, 31));
          put_f16(blk + 208, 1.0f);
        } else {
          put_f16(blk, f == Format::Q4_0 && b % 2 ? -1.0f : 1.0f);
          if (f == Format::Q4_K) put_f16(blk + 2, 0.5f);
        }
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      uint8_t* a = p.A.data() + t * p.arb;
      if (k_quant(f)) {
        for (int64_t b = 0; b < n / 256; ++b) {
          uint8_t* blk = a + 292 * b;
          const float d = 1.0f;
          std::memcpy(blk, &d, 4);
          for (int g = 0; g < 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) {
              const int q = uniform(-4, 4);
              blk[4 + 16 * g + j] = static_cast<uint8_t>(q);
              sum += q;
            }
            const auto s16 = static_cast<int16_t>(sum);
            std::memcpy(blk + 260 + 2 * g, &s16, 2);
          }
        }
      } else {
        for (int64_t b = 0; b < n / 32; ++b) {
          put_f16(a + 34 * b, 1.0f);
          for (int j = 0; j < 32; ++j) a[34 * b + 2 + j] = static_cast<uint8_t>(uniform(-128, 127));
        }
      }
    }
    const std::vector<float> y = run_gemm(p);
    int wrong = 0;
    for (int64_t t = 0; t < T; ++t) {
      const std::vector<double> a = activation_values(f, arow(p, t), n);
      for (int64_t r = 0; r < rows; ++r) {
        const Exact e = exact_dot(weight_values(f, n, wrow(p, r)), a);
        REQUIRE(std::fabs(e.value) < (1 << 23));  // the premise, checked on the data
        wrong += static_cast<double>(y[t * rows + r]) != e.value;
      }
    }
    INFO(info(f).name);
    CHECK(wrong == 0);
  }
}

TEST_CASE("gemm_rows bits do not depend on row splits token splits or strides", "[quant]") {
  for (Format f : kQuantized) {
    const int64_t n = k_quant(f) ? 512 : 320, rows = 70, T = 29;
    const Problem p = make_problem(f, n, rows, T, 5);
    const std::vector<float> whole = run_gemm(p);

    // Row ranges of odd sizes and token ranges written into one output with a wider stride.
    const int64_t ldy = rows + 3;
    std::vector<float> pieces(static_cast<size_t>(ldy * T), -1.0f);
    const int64_t row_cuts[] = {0, 1, 17, 18, 50, rows}, tok_cuts[] = {0, 1, 2, 9, 22, T};
    for (int i = 0; i + 1 < 6; ++i) {
      for (int j = 0; j + 1 < 6; ++j) {
        const int64_t r0 = row_cuts[i], r1 = row_cuts[i + 1], t0 = tok_cuts[j], t1 = tok_cuts[j + 1];
        gemm_rows(f, n, wrow(p, r0), p.wrb, r1 - r0, arow(p, t0), p.arb, t1 - t0,
                  pieces.data() + t0 * ldy + r0, ldy);
      }
    }
    // The same data with padding between rows (strides larger than the row sizes).
    // Pads keep rows 4-byte aligned: q8_K activation blocks start with an f32 (BlockQ8K needs alignment 4).
    Problem padded = make_problem(f, n, rows, T, 5, 8, 12);
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(padded.W.data() + r * padded.wrb, wrow(p, r), row_bytes(f, n));
    for (int64_t t = 0; t < T; ++t)
      std::memcpy(padded.A.data() + t * padded.arb, arow(p, t), activation_row_bytes(f, n));
    const std::vector<float> strided = run_gemm(padded);

    int split_mismatch = 0, stride_mismatch = 0, gemv_mismatch = 0, outside_written = 0;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        const float w = whole[t * rows + r];
        split_mismatch += !same_bits(w, pieces[t * ldy + r]);
        stride_mismatch += !same_bits(w, strided[t * rows + r]);
        float one;
        gemv_rows(f, n, wrow(p, r), p.wrb, 1, arow(p, t), p.arb, 1, &one, 1);
        gemv_mismatch += !same_bits(w, one);
      }
      for (int64_t r = rows; r < ldy; ++r) outside_written += pieces[t * ldy + r] != -1.0f;
    }
    INFO(info(f).name);
    CHECK(split_mismatch == 0);
    CHECK(stride_mismatch == 0);
    CHECK(gemv_mismatch == 0);
    CHECK(outside_written == 0);
  }
}

TEST_CASE("gemm_rows of f32 and bf16 is vec_dot per output", "[quant]") {
  for (Format f : {Format::F32, Format::BF16}) {
    const int64_t n = 96, rows = 5, T = 3;
    std::mt19937 rng(3);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    std::vector<uint8_t> W(row_bytes(f, n) * rows), A(activation_row_bytes(f, n) * T);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : x) v = g(rng);
      quantize_row(f, x.data(), W.data() + r * row_bytes(f, n), n);
    }
    for (int64_t t = 0; t < T; ++t) {
      for (auto& v : x) v = g(rng);
      quantize_activation_row(f, x.data(), A.data() + t * activation_row_bytes(f, n), n);
    }
    std::vector<float> y(rows * T);
    gemm_rows(f, n, W.data(), row_bytes(f, n), rows, A.data(), activation_row_bytes(f, n), T, y.data(), rows);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < rows; ++r)
        CHECK(same_bits(y[t * rows + r], vec_dot(f, n, W.data() + r * row_bytes(f, n),
                                                 A.data() + t * activation_row_bytes(f, n))));
  }
}

TEST_CASE("gemm_rows rejects strides below the row size", "[quant]") {
  const int64_t n = 64;
  std::vector<uint8_t> W(row_bytes(Format::Q8_0, n) * 2), A(activation_row_bytes(Format::Q8_0, n) * 2);
  std::vector<float> y(4);
  const size_t wrb = row_bytes(Format::Q8_0, n), arb = activation_row_bytes(Format::Q8_0, n);
  CHECK_THROWS_AS(gemm_rows(Format::Q8_0, n, W.data(), wrb - 1, 2, A.data(), arb, 2, y.data(), 2),
                  InternalError);
  CHECK_THROWS_AS(gemm_rows(Format::Q8_0, n, W.data(), wrb, 2, A.data(), arb - 2, 2, y.data(), 2),
                  InternalError);
  CHECK_THROWS_AS(gemm_rows(Format::Q8_0, n, W.data(), wrb, 2, A.data(), arb, 2, y.data(), 1), InternalError);
  CHECK_THROWS_AS(gemm_rows(Format::Q4_K, n, W.data(), wrb, 2, A.data(), arb, 2, y.data(), 2), InternalError);
}

TEST_CASE("gemm kernel names", "[quant]") {
  for (Format f : kQuantized) {
    const std::string k = gemm_kernel_name(f);
    INFO(info(f).name << ": " << k);
    CHECK((k.rfind("avx512_vnni ", 0) == 0 || k == "scalar"));
  }
}
