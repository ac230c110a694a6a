// q8_0: blocks of 32, d = amax/127 stored as f16, q = round(x/d) (llama.cpp's quantize_row_q8_0_ref, which
// rounds half away from zero with roundf and divides by multiplying with 1/d computed in f32).
#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "engine/quant/blocks.h"
#include "engine/quant/exact_fp.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {

void quantize_q8_0(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(out);
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < kQK; ++j) y[b].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void dequantize_q8_0(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(in);
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < kQK; ++j) y[j] = x[b].qs[j] * d;
  }
}

}  // namespace g4::quant::detail
