// Weight-side kernels: the decode GEMV of every format (one warp per output row, lanes over the row's units,
// see device_math.h), activation quantization for the integer paths, dequantization to bf16 for the prefill
// GEMMs, the shape-only weight generator and a bandwidth probe.
#include "engine/cuda/device_util.cuh"
#include "engine/cuda/kernels.h"

namespace g4::cudak {
namespace {

constexpr int kGemvWarps = 8;  // rows per CUDA block

struct XQ {
  const int8_t* q;
  const float* d;
  const float* s;
  int64_t K;
};

// Each lane loads U units before using any, so U 16..64-byte loads per lane are in flight at once.
template <class Unit, int NT>
__global__ void __launch_bounds__(kGemvWarps * 32)
    gemv_kernel(DevMatrix W, const uint16_t* x, int64_t ldx, XQ xq, float* y, int64_t ldy) {
  constexpr int U = (NT <= 2 ? 4 : 2) < Unit::kMaxUnroll ? (NT <= 2 ? 4 : 2) : Unit::kMaxUnroll;
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kGemvWarps + threadIdx.x / 32;
  if (row >= W.rows) return;
  const int64_t units = W.cols / unit_elems(W.fmt);
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  for (int64_t base = lane; base < units; base += 32 * U) {
    Unit w[U];
#pragma unroll
    for (int k = 0; k < U; ++k)
      if (base + 32 * k < units) w[k].load(W, row, base + 32 * k);
#pragma unroll
    for (int k = 0; k < U; ++k) {
      const int64_t u = base + 32 * k;
      if (u >= units) break;
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        XQRow xr;
        if (xq.q != nullptr) {
          xr.q = xq.q + t * xq.K;
          xr.d = xq.d + t * (xq.K / 32);
          xr.s = xq.s + t * (xq.K / 32);
        }
        acc[t] += w[k].dot(x != nullptr ? x + t * ldx : nullptr, xr, u);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float v = warp_sum(acc[t]);
    if (lane == 0) y[t * ldy + row] = v;
  }
}

template <class Unit>
void launch_gemv(const DevMatrix& W, int T, const uint16_t* x, int64_t ldx, XQ xq, float* y, int64_t ldy,
                 cudaStream_t stream) {
  const unsigned blocks = grid_for(W.rows, kGemvWarps);
  const unsigned threads = kGemvWarps * 32;
  switch (T) {
    case 1:
      gemv_kernel<Unit, 1><<<blocks, threads, 0, stream>>>(W, x, ldx, xq, y, ldy);
      break;
    case 2:
      gemv_kernel<Unit, 2><<<blocks, threads, 0, stream>>>(W, x, ldx, xq, y, ldy);
      break;
    case 3:
      gemv_kernel<Unit, 3><<<blocks, threads, 0, stream>>>(W, x, ldx, xq, y, ldy);
      break;
    case 4:
      gemv_kernel<Unit, 4><<<blocks, threads, 0, stream>>>(W, x, ldx, xq, y, ldy);
      break;
    case 5:
      gemv_kernel<Unit, 5><<<blocks, threads, 0, stream>>>(W, x, ldx, xq, y, ldy);
      break;
    case 6:
      gemv_kernel<Unit, 6><<<blocks, threads, 0, stream>>>(W, x, ldx, xq, y, ldy);
      break;
    case 7:
      gemv_kernel<Unit, 7><<<blocks, threads, 0, stream>>>(W, x, ldx, xq, y, ldy);
      break;
    case 8:
      gemv_kernel<Unit, 8><<<blocks, threads, 0, stream>>>(W, x, ldx, xq, y, ldy);
      break;
    default:
      G4_CHECK(false, "gemv: token count outside [1, kMaxGemvTokens]");
  }
  G4_CUDA_LAUNCHED();
}

// One warp per 32-value block: the same arithmetic as quantize_block32 (max and integer sum are exact in any
// order).
__global__ void quantize_x_kernel(const uint16_t* x, int64_t ldx, int64_t K, int64_t n_blocks, int8_t* xq,
                                  float* xd, float* xs) {
  const int lane = threadIdx.x % 32;
  const int64_t blk = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (blk >= n_blocks) return;
  const int64_t per_row = K / 32, t = blk / per_row, b = blk % per_row;
  const float v = bf16_to_f32(x[t * ldx + 32 * b + lane]);
  const float amax = warp_max(fabsf(v));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const int q = round_to_int(v * id);
  xq[t * K + 32 * b + lane] = static_cast<int8_t>(q);
  const int sum = warp_sum_int(q);
  if (lane == 0) {
    xd[blk] = d;
    xs[blk] = d * static_cast<float>(sum);
  }
}

// Eight consecutive values per thread, one 16-byte store.
__global__ void dequant_kernel(DevMatrix W, int64_t r0, int64_t n, uint16_t* out) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t per_row = W.cols / 8;
  if (idx >= n * per_row) return;
  const int64_t r = idx / per_row, c = 8 * (idx % per_row);
  uint32_t packed[4];
  for (int k = 0; k < 4; ++k) {
    const uint32_t lo = f32_to_bf16(dequant1(W, r0 + r, c + 2 * k));
    const uint32_t hi = f32_to_bf16(dequant1(W, r0 + r, c + 2 * k + 1));
    packed[k] = lo | (hi << 16);
  }
  *reinterpret_cast<uint4*>(out + r * W.cols + c) = make_uint4(packed[0], packed[1], packed[2], packed[3]);
}

__global__ void init_kernel(DevMatrix W, uint64_t seed, uint64_t stream_id, float sigma) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t per_row = W.cols / format_block_elems(W.fmt);
  if (idx >= W.rows * per_row) return;
  init_block(W, idx / per_row, idx % per_row, seed, stream_id, sigma);
}

__global__ void read_probe_kernel(const uint4* src, int64_t n, float* sink) {
  uint32_t acc = 0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint4 v = __ldcs(src + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) sink[0] = 1.0f;  // keeps the loads alive
}

}  // namespace

void quantize_x(const uint16_t* x, int64_t ldx, int T, int64_t K, int8_t* xq, float* xd, float* xs,
                cudaStream_t stream) {
  G4_CHECK(K % 32 == 0, "quantize_x: K must be a multiple of 32");
  const int64_t n_blocks = T * (K / 32);
  if (n_blocks == 0) return;
  quantize_x_kernel<<<grid_for(n_blocks * 32, 256), 256, 0, stream>>>(x, ldx, K, n_blocks, xq, xd, xs);
  G4_CUDA_LAUNCHED();
}

void gemv(const DevMatrix& W, int T, const uint16_t* x, int64_t ldx, const int8_t* xq, const float* xd,
          const float* xs, float* y, int64_t ldy, cudaStream_t stream) {
  if (W.rows == 0 || T == 0) return;
  const XQ q{xq, xd, xs, W.cols};
  switch (W.fmt) {
    case WFormat::F32:
      launch_gemv<UnitF32>(W, T, x, ldx, q, y, ldy, stream);
      break;
    case WFormat::BF16:
      launch_gemv<UnitBF16>(W, T, x, ldx, q, y, ldy, stream);
      break;
    case WFormat::I8:
      launch_gemv<UnitI8>(W, T, x, ldx, q, y, ldy, stream);
      break;
    case WFormat::Q8_0:
      launch_gemv<UnitQ8_0>(W, T, x, ldx, q, y, ldy, stream);
      break;
    case WFormat::Q4_0:
      launch_gemv<UnitQ4_0>(W, T, x, ldx, q, y, ldy, stream);
      break;
    case WFormat::Q4_K:
      launch_gemv<UnitQ4_K>(W, T, x, ldx, q, y, ldy, stream);
      break;
    case WFormat::Q6_K:
      launch_gemv<UnitQ6_K>(W, T, x, ldx, q, y, ldy, stream);
      break;
  }
}

void dequant_bf16(const DevMatrix& W, int64_t r0, int64_t n, uint16_t* out, cudaStream_t stream) {
  const int64_t total = n * (W.cols / 8);
  if (total == 0) return;
  dequant_kernel<<<grid_for(total, 256), 256, 0, stream>>>(W, r0, n, out);
  G4_CUDA_LAUNCHED();
}

void init_matrix(const DevMatrix& W, uint64_t seed, uint64_t stream_id, float sigma, cudaStream_t stream) {
  const int64_t total = W.rows * (W.cols / format_block_elems(W.fmt));
  if (total == 0) return;
  init_kernel<<<grid_for(total, 128), 128, 0, stream>>>(W, seed, stream_id, sigma);
  G4_CUDA_LAUNCHED();
}

void read_probe(const void* src, size_t n, float* sink, cudaStream_t stream) {
  int sms = 0;
  G4_CUDA_CALL(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  read_probe_kernel<<<sms * 4, 512, 0, stream>>>(static_cast<const uint4*>(src), static_cast<int64_t>(n / 16),
                                                 sink);
  G4_CUDA_LAUNCHED();
}

}  // namespace g4::cudak
