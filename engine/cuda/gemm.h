// Matrix products of the CUDA backend: cuBLAS (bf16 tensor cores, fp32 accumulation and output) for prefill,
// the GEMV kernels for decode, and `linear`, which picks between them (plan.h plan_linear). Quantized weights
// in prefill are dequantized to bf16 in row chunks through a scratch buffer, then multiplied by cuBLAS: the
// weights stay in their format on the device (no second bf16 copy), at the cost of one extra pass over them
// per prefill chunk, small next to the GEMM at prefill sizes. Host code only.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/device_math.h"
#include "engine/cuda/device_memory.h"

#define G4_CUBLAS_CALL(expr)                                                                              \
  do {                                                                                                    \
    cublasStatus_t g4_st_ = (expr);                                                                       \
    if (g4_st_ != CUBLAS_STATUS_SUCCESS)                                                                  \
      ::g4::fail_internal(__FILE__, __LINE__, std::string(#expr) + ": " + cublasGetStatusString(g4_st_)); \
  } while (0)

namespace g4::engine::cuda {

// A cuBLAS handle bound to one stream, with its own workspace (so it may be used inside graph capture).
class Blas {
 public:
  explicit Blas(cudaStream_t stream);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
  DeviceBuffer workspace_;
};

// Y[T, N] (f32, row stride ldy) = X[T, K] (bf16, row stride ldx) · W[N, K]ᵀ (bf16 rows of K).
void gemm_bf16(cublasHandle_t h, const uint16_t* W, int64_t N, int64_t K, const uint16_t* X, int64_t ldx,
               int64_t T, float* Y, int64_t ldy);
// The same in f32 (no TF32): f32 weights and the multimodal embedders.
void gemm_f32(cublasHandle_t h, const float* W, int64_t N, int64_t K, const float* X, int64_t ldx, int64_t T,
              float* Y, int64_t ldy);

// Scratch of `linear`, owned by the session.
struct LinearWork {
  uint16_t* dequant = nullptr;  // bf16 scratch for DequantGemm
  int64_t dequant_elems = 0;
  int8_t* xq = nullptr;  // [kMaxGemvTokens, k_cap] quantized activations for the integer GEMVs
  float* xd = nullptr;
  float* xs = nullptr;
  int64_t k_cap = 0;
  float* xf32 = nullptr;  // [T, K] f32 activations for GemmF32
  int64_t xf32_elems = 0;
};

// y[t·ldy + n] = Σ_k W[n, k]·x[t·ldx + k] for t < T, n < W.rows (f32 out, unrounded). x_quantized: the kernel
// that wrote x also wrote its quantize_x form into w.xq/xd/xs (see wants_xq), so an integer GEMV skips that
// step.
void linear(cublasHandle_t h, cudaStream_t stream, const LinearWork& w, const cudak::DevMatrix& W, int64_t T,
            const uint16_t* x, int64_t ldx, float* y, int64_t ldy, bool x_quantized = false);

// Whether a product of T tokens by W reads quantized activations (then the producer of x may write them).
bool wants_xq(const cudak::DevMatrix& W, int64_t T);

}  // namespace g4::engine::cuda
