// Per-format row kernels behind format.h's dispatch. Private to engine/quant.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/quant/format.h"

namespace g4::quant::detail {

// Reference quantizers and their inverses (llama.cpp's quantize_row_*_ref / dequantize_row_*).
void quantize_q8_0(const float* x, void* out, int64_t n);
void quantize_q4_0(const float* x, void* out, int64_t n);
void quantize_q4_k(const float* x, void* out, int64_t n);
void quantize_q6_k(const float* x, void* out, int64_t n);
void quantize_q8_k(const float* x, void* out, int64_t n);
void quantize_i8(const float* x, void* out, int64_t n);
void dequantize_q8_0(const void* in, float* y, int64_t n);
void dequantize_q4_0(const void* in, float* y, int64_t n);
void dequantize_q4_k(const void* in, float* y, int64_t n);
void dequantize_q6_k(const void* in, float* y, int64_t n);
void dequantize_q8_k(const void* in, float* y, int64_t n);
void dequantize_i8(const void* in, float* y, int64_t n);

// Plain-loop dot products (vec_dot_scalar.cpp), integer sums per block as ggml's generic kernels.
float dot_f32_scalar(int64_t n, const void* w, const void* a);
float dot_bf16_scalar(int64_t n, const void* w, const void* a);
float dot_i8_q8_0_scalar(int64_t n, const void* w, const void* a);
float dot_q8_0_q8_0_scalar(int64_t n, const void* w, const void* a);
float dot_q4_0_q8_0_scalar(int64_t n, const void* w, const void* a);
float dot_q4_k_q8_k_scalar(int64_t n, const void* w, const void* a);
float dot_q6_k_q8_k_scalar(int64_t n, const void* w, const void* a);

// AVX-512 kernels (*_avx512.cpp, compiled with AVX-512 flags): call only when the CPU check passed.
float dot_f32_avx512(int64_t n, const void* w, const void* a);      // avx512f + fma
float dot_bf16_avx512(int64_t n, const void* w, const void* a);     // avx512_bf16
float dot_i8_q8_0_avx512(int64_t n, const void* w, const void* a);  // the rest: avx512bw + vl + vnni
float dot_q8_0_q8_0_avx512(int64_t n, const void* w, const void* a);
float dot_q4_0_q8_0_avx512(int64_t n, const void* w, const void* a);
float dot_q4_k_q8_k_avx512(int64_t n, const void* w, const void* a);
float dot_q6_k_q8_k_avx512(int64_t n, const void* w, const void* a);

// gemm_rows (gemm.h) for i8 / q8_0 / q4_0 (gemm_q8_avx512.cpp) and q4_k / q6_k (gemm_k_avx512.cpp); need
// cpu_has_avx512_int8().
void gemm_q8_avx512(Format f, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
                    const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy);
void gemm_k_avx512(Format f, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
                   const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy);
inline constexpr int kGemmTokensQ8 = 12;  // tokens per tile of the kernels above (for gemm_kernel_name)
inline constexpr int kGemmTokensK = 12;

// dequantize_row_to_bf16 (dequant.h) for every format; needs cpu_has_avx512_int8().
void dequantize_to_bf16_avx512(Format f, const void* in, uint16_t* y, int64_t n);

// CPU features, probed once.
bool cpu_has_avx512_int8();  // avx512f, bw, vl, dq, vnni (+ fma, f16c, avx2)
bool cpu_has_avx512_bf16();  // the above + avx512_bf16

}  // namespace g4::quant::detail
