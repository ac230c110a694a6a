// Device-side helpers shared by the .cu files (warp and block reductions, the launch check). nvcc only.
#pragma once
#include <cuda_runtime.h>

#include <cmath>

#include "engine/cuda/check.h"

namespace g4::cudak {

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ int warp_sum_int(int v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the whole block (every thread gets it). `red` is 32 floats of shared memory, reusable on return.
__device__ __forceinline__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = (blockDim.x + 31) / 32;
  v = warp_sum(v);
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float r = threadIdx.x < nwarps ? red[threadIdx.x] : 0.0f;
  if (warp == 0) r = warp_sum(r);
  if (threadIdx.x == 0) red[0] = r;
  __syncthreads();
  r = red[0];
  __syncthreads();
  return r;
}

inline unsigned grid_for(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace g4::cudak

// After every launch: a bad configuration or an earlier asynchronous fault becomes an error naming the
// kernel.
#define G4_CUDA_LAUNCHED() G4_CUDA_CALL(cudaGetLastError())
