// What the GPU can do, measured: device properties, copy and read bandwidth, and the bf16 tensor-core rate of
// cuBLAS at a large square product. The GPU tests print it and scripts/gpu-check.sh turns the figures into
// roofline percentages (bytes streamed per decoded token over the measured bandwidth, prefill FLOP/s over
// the measured and the datasheet bf16 peak). Host code only.
#pragma once
#include <cstddef>
#include <string>

namespace g4::engine::cuda {

struct DeviceInfo {
  std::string name;
  int sm_count = 0;
  int compute_capability = 0;
  size_t total_bytes = 0;
  double copy_gbs = 0;     // cudaMemcpy device to device, bytes read + written per second / 1e9
  double read_gbs = 0;     // a streaming read kernel, bytes read per second / 1e9
  double bf16_tflops = 0;  // cuBLAS bf16 GEMM (fp32 accumulate and output), n = 8192
};

// Runs the measurements (about a second); requires a device.
DeviceInfo measure_device();
std::string to_json(const DeviceInfo& d);

}  // namespace g4::engine::cuda
