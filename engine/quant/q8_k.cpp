// q8_k, the activation type of q4_k and q6_k: super-blocks of 256, f32 d = max/-127 with max the value of
// largest magnitude, q = min(127, round-half-even(x/d)), plus the sums of q in groups of 16
// (llama.cpp's quantize_row_q8_K_ref). An all-zero block stores d = 0 and zero sums.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/quant/blocks.h"
#include "engine/quant/exact_fp.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {

void quantize_q8_k(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8K*>(out);
  for (int64_t b = 0; b < n / kQK_K; ++b, x += kQK_K) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      std::memset(&y[b], 0, sizeof(BlockQ8K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j)
      y[b].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y[b].qs[16 * g + j];
      y[b].bsums[g] = static_cast<int16_t>(sum);
    }
    y[b].d = 1 / iscale;
  }
}

void dequantize_q8_k(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8K*>(in);
  for (int64_t b = 0; b < n / kQK_K; ++b, y += kQK_K)
    for (int j = 0; j < kQK_K; ++j) y[j] = x[b].d * x[b].qs[j];
}

}  // namespace g4::quant::detail
