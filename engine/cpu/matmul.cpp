#include "engine/cpu/matmul.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>

#include "core/dtype.h"
#include "core/error.h"
#include "engine/quant/gemm.h"

namespace g4::engine::cpu {
namespace {

struct Dnnl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  std::map<std::array<int64_t, 3>, dnnl::matmul> cache;  // (M, N, K) -> primitive
  std::mutex mu;
};

Dnnl& dnnl_state() {
  static Dnnl d;
  return d;
}

// C[M, N] (f32) = A[M, K] (bf16) · Bᵀ where B is the [N, K] row-major bf16 weight matrix.
void gemm_bf16(const uint16_t* A, const uint16_t* B, float* C, int64_t M, int64_t N, int64_t K) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  Dnnl& d = dnnl_state();
  std::lock_guard<std::mutex> lock(d.mu);
  auto it = d.cache.find({M, N, K});
  dnnl::memory::desc a_md({M, K}, dt::bf16, tag::ab), b_md({K, N}, dt::bf16, tag::ba),
      c_md({M, N}, dt::f32, tag::ab);
  if (it == d.cache.end()) {
    const dnnl::matmul::desc desc(a_md, b_md, c_md);
    const dnnl::matmul::primitive_desc pd(desc, d.eng);
    it = d.cache.emplace(std::array<int64_t, 3>{M, N, K}, dnnl::matmul(pd)).first;
  }
  dnnl::memory a(a_md, d.eng, const_cast<uint16_t*>(A)), b(b_md, d.eng, const_cast<uint16_t*>(B)),
      c(c_md, d.eng, C);
  it->second.execute(d.stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
  d.stream.wait();
}

void gemv(const QTensor& W, const float* x, int64_t T, float* y, MatmulScratch& s) {
  const int64_t K = W.cols, N = W.rows;
  const size_t ab = quant::activation_row_bytes(W.format, K);
  if (s.act.size() < ab * static_cast<size_t>(T)) s.act.resize(ab * static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t)
    quant::quantize_activation_row(W.format, x + t * K, s.act.data() + t * ab, K);
  s.act_format = quant::Format::kSentinel;  // not a converted GEMM input any more
  const uint8_t* act = s.act.data();
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < N; ++o) {
    const uint8_t* wr = W.row(o);
    for (int64_t t = 0; t < T; ++t) y[t * N + o] = quant::vec_dot(W.format, K, wr, act + t * ab);
  }
}

// Rows per task of the int8 GEMM: a multiple of 32 (the kernel's widest tile); a fixed size, so which rows a
// call covers, and so every output's bits, do not depend on the thread count.
constexpr int64_t kGemmRowsPerTask = 256;

void convert_activations(quant::Format f, const float* x, int64_t T, int64_t K, MatmulScratch& s) {
  const size_t ab = quant::activation_row_bytes(f, K);
  if (s.act.size() < ab * static_cast<size_t>(T)) s.act.resize(ab * static_cast<size_t>(T));
  uint8_t* act = s.act.data();
#pragma omp parallel for schedule(static) if (T > 1)
  for (int64_t t = 0; t < T; ++t)
    quant::quantize_activation_row(f, x + t * K, act + static_cast<size_t>(t) * ab, K);
  s.act_format = f;
}

// Quantized weights × int8 activations (q8_0 / q8_K blocks) with VNNI (engine/quant/gemm.h), activations
// converted once into s.act by the caller.
void gemm_int8(const QTensor& W, int64_t T, float* y, MatmulScratch& s) {
  const int64_t K = W.cols, N = W.rows;
  const size_t ab = quant::activation_row_bytes(W.format, K);
  const uint8_t* act = s.act.data();
  const int64_t tasks = (N + kGemmRowsPerTask - 1) / kGemmRowsPerTask;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t r0 = task * kGemmRowsPerTask, r1 = std::min(N, r0 + kGemmRowsPerTask);
    quant::gemm_rows(W.format, K, W.row(r0), W.row_bytes(), r1 - r0, act, ab, T, y + r0, N);
  }
}

bool int8_gemm_format(quant::Format f) { return f != quant::Format::F32 && f != quant::Format::BF16; }

void gemm(const QTensor& W, const float* x, int64_t T, float* y, MatmulScratch& s) {
  const int64_t K = W.cols, N = W.rows;
  if (int8_gemm_format(W.format)) {
    convert_activations(W.format, x, T, K, s);
    gemm_int8(W, T, y, s);
    return;
  }
  if (W.format == quant::Format::F32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T), static_cast<int>(N),
                static_cast<int>(K), 1.0f, x, static_cast<int>(K), reinterpret_cast<const float*>(W.data),
                static_cast<int>(K), 0.0f, y, static_cast<int>(N));
    return;
  }
  G4_CHECK(W.format == quant::Format::BF16, "matmul: unhandled weight format");
  s.x_bf16.resize(static_cast<size_t>(T * K));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < T * K; ++i) s.x_bf16[static_cast<size_t>(i)] = f32_to_bf16(x[i]);
  gemm_bf16(s.x_bf16.data(), reinterpret_cast<const uint16_t*>(W.data), y, T, N, K);
}

}  // namespace

void linear(const QTensor& W, const float* x, int64_t T, float* y, MatmulScratch& s) {
  if (T <= kGemvMaxRows)
    gemv(W, x, T, y, s);
  else
    gemm(W, x, T, y, s);
}

void linear_group(std::span<const QTensor* const> Ws, const float* x, int64_t T, std::span<float* const> ys,
                  MatmulScratch& s) {
  G4_CHECK(Ws.size() == ys.size(), "linear_group: sizes");
  bool converted = false;
  for (size_t i = 0; i < Ws.size(); ++i) {
    const QTensor& W = *Ws[i];
    const bool shares = converted && s.act_format == W.format && i > 0 && Ws[i - 1]->cols == W.cols;
    if (T > kGemvMaxRows && int8_gemm_format(W.format) && shares) {
      gemm_int8(W, T, ys[i], s);  // same input, same activation type: converted once
      continue;
    }
    linear(W, x, T, ys[i], s);
    converted = T > kGemvMaxRows && int8_gemm_format(W.format);
  }
}

std::string matmul_path(const QTensor& W, int64_t T) {
  if (T <= kGemvMaxRows) return "gemv/" + quant::kernel_name(W.format);
  if (W.format == quant::Format::F32) return "openblas sgemm";
  if (W.format == quant::Format::BF16) return "onednn bf16 matmul";
  return "int8 gemm/" + quant::gemm_kernel_name(W.format);
}

}  // namespace g4::engine::cpu
