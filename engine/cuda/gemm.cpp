// cuBLAS products and the linear() dispatch (gemm.h).
#include "engine/cuda/gemm.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "engine/cuda/check.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/plan.h"

namespace g4::engine::cuda {

namespace {
constexpr size_t kBlasWorkspace = size_t{32} << 20;

int as_int(int64_t v) {
  G4_CHECK(v >= 0 && v <= INT32_MAX, "cuBLAS dimension beyond int");
  return static_cast<int>(v);
}
}  // namespace

Blas::Blas(cudaStream_t stream) : workspace_(kBlasWorkspace, "cuBLAS workspace") {
  G4_CUBLAS_CALL(cublasCreate(&h_));
  G4_CUBLAS_CALL(cublasSetStream(h_, stream));
  G4_CUBLAS_CALL(cublasSetWorkspace(h_, workspace_.get(), workspace_.bytes()));
}

Blas::~Blas() {
  if (h_ != nullptr) cublasDestroy(h_);
}

// Row-major Y[T, N] = X[T, K]·W[N, K]ᵀ is column-major Yᵀ[N, T] = op(W)·Xᵀ with W read as a K×N column-major
// matrix transposed: m = N, n = T, k = K.
void gemm_bf16(cublasHandle_t h, const uint16_t* W, int64_t N, int64_t K, const uint16_t* X, int64_t ldx,
               int64_t T, float* Y, int64_t ldy) {
  if (N == 0 || T == 0) return;
  const float alpha = 1.0f, beta = 0.0f;
  G4_CUBLAS_CALL(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, as_int(N), as_int(T), as_int(K), &alpha, W,
                              CUDA_R_16BF, as_int(K), X, CUDA_R_16BF, as_int(ldx), &beta, Y, CUDA_R_32F,
                              as_int(ldy), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void gemm_f32(cublasHandle_t h, const float* W, int64_t N, int64_t K, const float* X, int64_t ldx, int64_t T,
              float* Y, int64_t ldy) {
  if (N == 0 || T == 0) return;
  const float alpha = 1.0f, beta = 0.0f;
  G4_CUBLAS_CALL(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, as_int(N), as_int(T), as_int(K), &alpha, W,
                              CUDA_R_32F, as_int(K), X, CUDA_R_32F, as_int(ldx), &beta, Y, CUDA_R_32F,
                              as_int(ldy), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

bool wants_xq(const cudak::DevMatrix& W, int64_t T) {
  return plan_linear(W.fmt, T) == LinearPath::Gemv && W.fmt != cudak::WFormat::BF16 &&
         W.fmt != cudak::WFormat::F32;
}

void linear(cublasHandle_t h, cudaStream_t stream, const LinearWork& w, const cudak::DevMatrix& W, int64_t T,
            const uint16_t* x, int64_t ldx, float* y, int64_t ldy, bool x_quantized) {
  using cudak::WFormat;
  if (T == 0 || W.rows == 0) return;
  switch (plan_linear(W.fmt, T)) {
    case LinearPath::Gemv: {
      const bool integer = W.fmt != WFormat::BF16 && W.fmt != WFormat::F32;
      if (integer) {
        G4_CHECK(W.cols <= w.k_cap, "linear: activation quantization scratch too small");
        if (!x_quantized) cudak::quantize_x(x, ldx, static_cast<int>(T), W.cols, w.xq, w.xd, w.xs, stream);
        cudak::gemv(W, static_cast<int>(T), nullptr, 0, w.xq, w.xd, w.xs, y, ldy, stream);
      } else {
        cudak::gemv(W, static_cast<int>(T), x, ldx, nullptr, nullptr, nullptr, y, ldy, stream);
      }
      return;
    }
    case LinearPath::GemmBf16:
      gemm_bf16(h, reinterpret_cast<const uint16_t*>(W.data), W.rows, W.cols, x, ldx, T, y, ldy);
      return;
    case LinearPath::GemmF32: {
      G4_CHECK(T * W.cols <= w.xf32_elems, "linear: f32 activation scratch too small");
      if (ldx == W.cols)
        cudak::bf16_to_f32(x, T * W.cols, w.xf32, stream);
      else
        for (int64_t t = 0; t < T; ++t) cudak::bf16_to_f32(x + t * ldx, W.cols, w.xf32 + t * W.cols, stream);
      gemm_f32(h, reinterpret_cast<const float*>(W.data), W.rows, W.cols, w.xf32, W.cols, T, y, ldy);
      return;
    }
    case LinearPath::DequantGemm: {
      const int64_t chunk = dequant_chunk_rows(W.rows, W.cols, w.dequant_elems);
      for (int64_t r0 = 0; r0 < W.rows; r0 += chunk) {
        const int64_t n = std::min(chunk, W.rows - r0);
        cudak::dequant_bf16(W, r0, n, w.dequant, stream);
        gemm_bf16(h, w.dequant, n, W.cols, x, ldx, T, y + r0, ldy);
      }
      return;
    }
  }
}

}  // namespace g4::engine::cuda
