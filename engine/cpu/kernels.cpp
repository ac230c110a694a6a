#include "engine/cpu/kernels.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"

namespace g4::engine::cpu {
namespace {

// exp(x) for x <= 0 (tanh only needs that), branch-free so loops over it vectorize: 2^n · p(r) with
// x = n·ln2 + r, |r| <= ln2/2, p a degree-6 Taylor polynomial (relative error < 2e-7 on that interval).
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);
  const float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest integer
  const float r = (x - n * 0.693145752f) - n * 1.42860677e-06f;   // ln2 in two parts
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

// tanh through exp(-2|x|): absolute error < 3e-7, which is what the softcap (×30) and gelu need; libm's
// tanhf costs ~10 ns a call, and the softcap runs over all 262,144 logits per token. Branch-free, so the
// loops calling it vectorize.
inline float fast_tanh(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x), sign = bits & 0x80000000u;
  const float e = exp_nonpositive(-2.0f * std::bit_cast<float>(bits ^ sign));  // exp(-2|x|)
  return std::bit_cast<float>(std::bit_cast<uint32_t>((1.0f - e) / (1.0f + e)) | sign);
}

}  // namespace

void rmsnorm(float* x, int64_t rows, int64_t n, const float* w, float eps) {
#pragma omp parallel for schedule(static) if (rows * n > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    double ss = 0.0;  // double: the mean of squares must not lose the small rows of a 15360-wide stream
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(row[i]) * row[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
    if (w != nullptr)
      for (int64_t i = 0; i < n; ++i) row[i] = row[i] * inv * w[i];
    else
      for (int64_t i = 0; i < n; ++i) row[i] *= inv;
  }
}

void rope(float* x, int64_t heads, int64_t D, const float* inv_freq, int64_t pos) {
  const int64_t half = D / 2;
  float cs[512], sn[512];  // D/2 <= 256 on the 12B; checked by the caller's config validation
  for (int64_t i = 0; i < half; ++i) {
    const float theta = static_cast<float>(pos) * inv_freq[i];
    cs[i] = std::cos(theta);
    sn[i] = std::sin(theta);
  }
  for (int64_t h = 0; h < heads; ++h) {
    float* r = x + h * D;
    for (int64_t i = 0; i < half; ++i) {
      const float a = r[i], b = r[i + half];
      r[i] = a * cs[i] - b * sn[i];
      r[i + half] = b * cs[i] + a * sn[i];
    }
  }
}

void rope_interleaved(float* x, int64_t heads, int64_t D, const float* inv_freq, int64_t pos) {
  for (int64_t h = 0; h < heads; ++h) {
    float* r = x + h * D;
    for (int64_t i = 0; i < D / 2; ++i) {
      const float theta = static_cast<float>(pos) * inv_freq[i];
      const float c = std::cos(theta), s = std::sin(theta), a = r[2 * i], b = r[2 * i + 1];
      r[2 * i] = a * c - b * s;
      r[2 * i + 1] = b * c + a * s;
    }
  }
}

void gelu_tanh_mul(float* gate, const float* up, int64_t n) {
  constexpr float kC = 0.7978845608028654f;  // sqrt(2/pi)
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    gate[i] = 0.5f * x * (1.0f + fast_tanh(kC * (x + 0.044715f * x * x * x))) * up[i];
  }
}

void softcap(float* x, int64_t n, float cap) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) x[i] = fast_tanh(x[i] / cap) * cap;
}

}  // namespace g4::engine::cpu
