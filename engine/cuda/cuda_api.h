// Host-callable entry points of the CUDA backend (compiled by nvcc into g4cuda). Only engine/ includes this.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/gpu.h"

namespace g4::cuda {

GpuStatus probe();
std::vector<uint16_t> round_to_bf16(const std::vector<float>& x);

}  // namespace g4::cuda
