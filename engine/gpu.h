// Whether a CUDA GPU can be used in this process, and why not when it cannot. Tests and commands that
// need a GPU print `reason` and skip; nothing else in the engine asks the driver directly.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace g4 {

struct GpuStatus {
  bool available = false;
  std::string reason;          // why not available (built without CUDA, no driver, no device, ...)
  std::string name;            // device 0's name when available
  int compute_capability = 0;  // e.g. 90 for sm_90
  size_t total_bytes = 0;
};

GpuStatus probe_gpu();

// Rounds each float to bf16 on the GPU (round to nearest even); a smoke test of the CUDA build that a
// test compares bit for bit with core/dtype.h. Throws InputError when no GPU is available.
std::vector<uint16_t> gpu_round_to_bf16(const std::vector<float>& x);

}  // namespace g4
