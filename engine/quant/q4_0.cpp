// q4_0: blocks of 32, d = max/-8 where max is the value of largest magnitude (the first one on ties), so
// that value maps to q = 0 (-8·d) exactly; q = min(15, trunc(x/d + 8.5)) (llama.cpp's quantize_row_q4_0_ref).
#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "engine/quant/blocks.h"
#include "engine/quant/exact_fp.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {

void quantize_q4_0(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ4_0*>(out);
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      // x·id + 8.5 lies in [0.5, 16.5]; truncation then rounds to nearest, 16 (x = -max) is clamped to 15.
      const int lo = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int hi = std::min(15, static_cast<int>(x[j + kQK / 2] * id + 8.5f));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void dequantize_q4_0(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(in);
  for (int64_t b = 0; b < n / kQK; ++b, y += kQK) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = ((x[b].qs[j] & 0x0F) - 8) * d;
      y[j + kQK / 2] = ((x[b].qs[j] >> 4) - 8) * d;
    }
  }
}

}  // namespace g4::quant::detail
