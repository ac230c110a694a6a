// Matrix products of stored weight rows with many converted activation rows at once (the prefill GEMM):
//
//   y[t * ldy + r] = Σ_k W[r][k] · a_t[k]     for r in [0, nrows), t in [0, T)
//
// W: nrows weight rows in `format` (row r at W + r · w_row_bytes); act: T activation rows already converted
// with quantize_activation_row (row t at act + t · act_row_bytes). One call covers a whole tile, so the
// per-row dispatch and checks are paid once. Single-threaded: callers split row ranges among threads.
//
// Arithmetic: every output value is formed by the same operations in the same order whatever nrows, T, the
// row range or the CPU, so splitting rows or tokens never changes a bit:
//   i8, q8_0, q4_0: exactly vec_dot_scalar's (an exact integer sum per block of 32, then the float term and
//     the additions in block order), so y equals vec_dot_scalar bit for bit; vec_dot (AVX-512) adds the same
//     terms in another order.
//   q4_k, q6_k: an exact integer sum per super-block of 256 (sub-block scales and q6_k's −32 offset
//     applied in int32), then S = S + (dx·dy)·sumi and, for q4_k, S = S − (dmin·dy)·summ (the min term).
//     This differs from vec_dot_scalar's 8 float lanes by float rounding only; gemm_rows_scalar is the
//     plain-loop twin with the same bits.
//   f32, bf16: vec_dot per output (the engine uses BLAS / oneDNN for these).
// n must be a multiple of 32 (i8, q8_0, q4_0) or 256 (q4_k, q6_k), as for vec_dot.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/quant/format.h"

namespace g4::quant {

// Fastest kernel this CPU has (AVX-512 VNNI, chosen at run time), else gemm_rows_scalar. Any number of
// threads may call it at once; each keeps a thread-local scratch that only grows: two repacked 16-row weight
// panels (about 40·n bytes) and the repacked activations (about 1.3·T·n bytes). The activations are
// repacked on every call (T·n work), so give each call at least a few hundred rows; row counts that are
// multiples of 32 use the widest tile throughout.
void gemm_rows(Format format, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
               const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy);

// The same product for small T (decoding); the same function, so decode and prefill rows agree bit for bit.
// Measured on Zen 4 with weights streaming from memory: at T = 1 it reaches 55-85% of a vec_dot loop's
// bandwidth (each 16-row panel is repacked for one token), at T = 4 it is 1.5-2.8 times faster.
void gemv_rows(Format format, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
               const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy);

// Plain-loop twin of gemm_rows with identical bits (the tests' oracle and the fallback).
void gemm_rows_scalar(Format format, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
                      const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy);

// Which kernel gemm_rows uses here for a format, e.g. "avx512_vnni 32x6" (rows × tokens per tile), "scalar".
std::string gemm_kernel_name(Format format);

}  // namespace g4::quant
