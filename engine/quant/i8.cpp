// i8 (our own format, not a GGUF type): a row is [f32 scale][n × int8], scale = amax/127,
// q = round-half-even(x/scale), w = scale·q. Its activation type is q8_0.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/quant/blocks.h"
#include "engine/quant/exact_fp.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {

void quantize_i8(const float* x, void* out, int64_t n) {
  auto* bytes = static_cast<uint8_t*>(out);
  float amax = 0.0f;
  for (int64_t k = 0; k < n; ++k) amax = std::max(amax, std::fabs(x[k]));
  const float scale = amax / 127;
  std::memcpy(bytes, &scale, sizeof(scale));
  auto* q = reinterpret_cast<int8_t*>(bytes + sizeof(float));
  for (int64_t k = 0; k < n; ++k)
    q[k] = scale != 0.0f ? static_cast<int8_t>(std::clamp(nearest_int(x[k] / scale), -127, 127)) : 0;
}

void dequantize_i8(const void* in, float* y, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(in);
  float scale;
  std::memcpy(&scale, bytes, sizeof(scale));
  const auto* q = reinterpret_cast<const int8_t*>(bytes + sizeof(float));
  for (int64_t k = 0; k < n; ++k) y[k] = scale * q[k];
}

}  // namespace g4::quant::detail
