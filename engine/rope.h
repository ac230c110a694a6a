// RoPE frequencies of a layer type (spec §2.6) for every engine backend: the default variant
// (1 / base^(2i/D)) and the proportional one (only the first floor(partial·D/2) frequencies, the exponent's
// denominator the full head dim, the rest 0), in fp32 as the public implementation computes them.
// InputError for an unsupported rope_type or a proportional factor other than 1.
#pragma once
#include <cstdint>
#include <vector>

#include "core/config.h"

namespace g4::engine {

std::vector<float> rope_inv_freq(const RopeParams& rope, int64_t head_dim);

}  // namespace g4::engine
