// Device measurements (device_info.h).
#include "engine/cuda/device_info.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>

#include "engine/cuda/check.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/kernels.h"

namespace g4::engine::cuda {
namespace {

// Best of `reps` timings of fn() in milliseconds (CUDA events on `s`).
template <class Fn>
float best_ms(cudaStream_t s, int reps, Fn fn) {
  cudaEvent_t a, b;
  G4_CUDA_CALL(cudaEventCreate(&a));
  G4_CUDA_CALL(cudaEventCreate(&b));
  fn();  // warm-up
  float best = 1e30f;
  for (int i = 0; i < reps; ++i) {
    G4_CUDA_CALL(cudaEventRecord(a, s));
    fn();
    G4_CUDA_CALL(cudaEventRecord(b, s));
    G4_CUDA_CALL(cudaEventSynchronize(b));
    float ms = 0;
    G4_CUDA_CALL(cudaEventElapsedTime(&ms, a, b));
    best = std::min(best, ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return best;
}

}  // namespace

DeviceInfo measure_device() {
  require_device();
  DeviceInfo d;
  cudaDeviceProp p{};
  G4_CUDA_CALL(cudaGetDeviceProperties(&p, 0));
  d.name = p.name;
  d.sm_count = p.multiProcessorCount;
  d.compute_capability = p.major * 10 + p.minor;
  d.total_bytes = p.totalGlobalMem;

  cudaStream_t s;
  G4_CUDA_CALL(cudaStreamCreate(&s));
  {
    const size_t n = size_t{2} << 30;  // 2 GiB each way: far beyond the L2
    DeviceBuffer src(n, "bandwidth probe"), dst(n, "bandwidth probe"), sink(256, "bandwidth probe");
    G4_CUDA_CALL(cudaMemsetAsync(src.get(), 1, n, s));
    const float copy_ms = best_ms(
        s, 5, [&] { G4_CUDA_CALL(cudaMemcpyAsync(dst.get(), src.get(), n, cudaMemcpyDeviceToDevice, s)); });
    d.copy_gbs = 2.0 * static_cast<double>(n) / (copy_ms * 1e-3) / 1e9;
    const float read_ms = best_ms(s, 5, [&] { cudak::read_probe(src.get(), n, sink.get<float>(), s); });
    d.read_gbs = static_cast<double>(n) / (read_ms * 1e-3) / 1e9;
  }
  {
    const int64_t n = 8192;
    DeviceBuffer a(static_cast<size_t>(n * n) * 2, "gemm probe"),
        b(static_cast<size_t>(n * n) * 2, "gemm probe"), c(static_cast<size_t>(n * n) * 4, "gemm probe");
    const cudak::DevMatrix ma = cudak::make_dev_matrix(cudak::WFormat::BF16, n, n, a.get<uint8_t>());
    const cudak::DevMatrix mb = cudak::make_dev_matrix(cudak::WFormat::BF16, n, n, b.get<uint8_t>());
    cudak::init_matrix(ma, 1, 1, 0.02f, s);
    cudak::init_matrix(mb, 2, 2, 1.0f, s);
    Blas blas(s);
    const float ms = best_ms(s, 5, [&] {
      gemm_bf16(blas.get(), a.get<uint16_t>(), n, n, b.get<uint16_t>(), n, n, c.get<float>(), n);
    });
    d.bf16_tflops = 2.0 * static_cast<double>(n) * n * n / (ms * 1e-3) / 1e12;
  }
  G4_CUDA_CALL(cudaStreamSynchronize(s));
  cudaStreamDestroy(s);
  return d;
}

std::string to_json(const DeviceInfo& d) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "{\"name\": \"%s\", \"sm_count\": %d, \"compute_capability\": %d, \"total_bytes\": %zu, "
                "\"copy_gbs\": %.1f, \"read_gbs\": %.1f, \"bf16_tflops\": %.1f}",
                d.name.c_str(), d.sm_count, d.compute_capability, d.total_bytes, d.copy_gbs, d.read_gbs,
                d.bf16_tflops);
  return buf;
}

}  // namespace g4::engine::cuda
