#include "engine/rope.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace g4::engine {

std::vector<float> rope_inv_freq(const RopeParams& rope, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  int64_t rotated = half;
  if (rope.rope_type == "proportional") {
    if (rope.factor != 1.0)
      fail_input("config.json", "rope_parameters: proportional factor != 1.0 is not supported");
    rotated = std::clamp<int64_t>(
        static_cast<int64_t>(std::floor(rope.partial_rotary_factor * static_cast<double>(head_dim) / 2.0)), 0,
        half);
  } else if (rope.rope_type != "default") {
    fail_input("config.json", "rope_parameters: unsupported rope_type '" + rope.rope_type + "'");
  }
  std::vector<float> f(static_cast<size_t>(half), 0.0f);
  for (int64_t i = 0; i < rotated; ++i) {
    // As the reference: 1 / base^(2i/D) in fp32, the exponent's denominator the full head dim.
    const float e = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    f[static_cast<size_t>(i)] = 1.0f / std::pow(static_cast<float>(rope.rope_theta), e);
  }
  return f;
}

}  // namespace g4::engine
