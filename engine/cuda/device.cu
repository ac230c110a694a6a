// Device probe and the bf16 rounding kernel (the CUDA build's smoke test; see engine/gpu.h).
#include <cuda_bf16.h>

#include <memory>

#include "engine/cuda/check.h"
#include "engine/cuda/cuda_api.h"

namespace g4::cuda {

GpuStatus probe() {
  GpuStatus s;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    s.reason = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later probes start clean
    return s;
  }
  if (count == 0) {
    s.reason = "the CUDA driver reports no device";
    return s;
  }
  cudaDeviceProp prop{};
  G4_CUDA_CALL(cudaGetDeviceProperties(&prop, 0));
  s.available = true;
  s.name = prop.name;
  s.compute_capability = prop.major * 10 + prop.minor;
  s.total_bytes = prop.totalGlobalMem;
  return s;
}

namespace {
__global__ void round_to_bf16_kernel(const float* x, uint16_t* y, size_t n) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i < n) {
    __nv_bfloat16 b = __float2bfloat16_rn(x[i]);
    y[i] = *reinterpret_cast<uint16_t*>(&b);
  }
}

struct DeviceFree {
  void operator()(void* p) const { cudaFree(p); }
};
template <typename T>
std::unique_ptr<T, DeviceFree> device_alloc(size_t n) {
  void* p = nullptr;
  G4_CUDA_CALL(cudaMalloc(&p, n * sizeof(T) + 1));
  return std::unique_ptr<T, DeviceFree>(static_cast<T*>(p));
}
}  // namespace

std::vector<uint16_t> round_to_bf16(const std::vector<float>& x) {
  GpuStatus s = probe();
  if (!s.available) fail_input("--backend cuda", s.reason);
  std::vector<uint16_t> y(x.size());
  if (x.empty()) return y;
  auto dx = device_alloc<float>(x.size());
  auto dy = device_alloc<uint16_t>(x.size());
  G4_CUDA_CALL(cudaMemcpy(dx.get(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
  const unsigned threads = 256;
  const unsigned blocks = static_cast<unsigned>((x.size() + threads - 1) / threads);
  round_to_bf16_kernel<<<blocks, threads>>>(dx.get(), dy.get(), x.size());
  G4_CUDA_CALL(cudaGetLastError());
  G4_CUDA_CALL(cudaMemcpy(y.data(), dy.get(), y.size() * sizeof(uint16_t), cudaMemcpyDeviceToHost));
  return y;
}

}  // namespace g4::cuda
