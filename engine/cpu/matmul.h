// y[T, out] = x[T, in] · Wᵀ for a weight matrix in any storage format (engine/quant/format.h).
//   T <= kGemvMaxRows: matrix-vector products with the format's dot kernel (activations converted to the
//     format's activation type, as llama.cpp does), output rows split among threads. Each output value is
//     one dot product, so the result does not depend on the thread count.
//   larger T: quantized weights (q8_0, q4_0, q4_k, q6_k, i8) times activations converted to int8 blocks,
//     through the VNNI GEMM of engine/quant/gemm.h (fixed 256-row tasks among threads); bf16 weights through
//     oneDNN's bf16 matmul (AVX-512 BF16 / AMX where the CPU has them), f32 accumulation; f32 weights
//     through OpenBLAS sgemm.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/weights.h"

namespace g4::engine::cpu {

constexpr int64_t kGemvMaxRows = 4;

// Reusable buffers, so steady-state decoding allocates nothing.
struct MatmulScratch {
  std::vector<uint8_t> act;                             // converted activation rows
  std::vector<uint16_t> x_bf16;                         // [T, in] for the GEMM path
  quant::Format act_format = quant::Format::kSentinel;  // what `act` holds for the GEMM path
};

void linear(const QTensor& W, const float* x, int64_t T, float* y, MatmulScratch& s);

// Several products of the same input (q/k/v, gate/up): the activations are converted once when consecutive
// weights share a format and input width.
void linear_group(std::span<const QTensor* const> Ws, const float* x, int64_t T, std::span<float* const> ys,
                  MatmulScratch& s);

// Which path and library a product of this shape takes on this machine (for bench and docs).
std::string matmul_path(const QTensor& W, int64_t T);

}  // namespace g4::engine::cpu
