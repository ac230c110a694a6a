#include "engine/gpu.h"

#include "core/error.h"

#ifdef G4_HAVE_CUDA
#include "engine/cuda/cuda_api.h"
#endif

namespace g4 {

#ifdef G4_HAVE_CUDA
GpuStatus probe_gpu() { return cuda::probe(); }
std::vector<uint16_t> gpu_round_to_bf16(const std::vector<float>& x) { return cuda::round_to_bf16(x); }
#else
GpuStatus probe_gpu() {
  GpuStatus s;
  s.reason = "this build has no CUDA backend (nvcc was not found when it was configured)";
  return s;
}
std::vector<uint16_t> gpu_round_to_bf16(const std::vector<float>&) {
  fail_input("--backend cuda", probe_gpu().reason);
}
#endif

}  // namespace g4
