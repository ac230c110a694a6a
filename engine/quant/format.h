// Weight storage formats of the engine (docs/formats.md, "Quantized weights"). The block formats are
// bit-compatible with GGUF's (same block structs, same reference quantizers as llama.cpp's ggml-quants.c),
// so a tensor quantized here has the bytes llama.cpp's *_ref quantizer would write for the same floats.
//
//   f32, bf16     plain rows
//   i8            per-output-channel int8: each row is [f32 scale][n × int8], w = scale · q, scale = amax/127
//   q8_0          blocks of 32: f16 d, 32 × int8                          (34 bytes)
//   q4_0          blocks of 32: f16 d, 16 bytes of nibbles, q - 8         (18 bytes)
//   q4_k          super-blocks of 256: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles
//   (144) q6_k          super-blocks of 256: 128 bytes low nibbles, 64 bytes high 2 bits, 16 int8 scales, f16
//   d (210)
//
// A weight matrix [rows = out, cols = in] is stored row by row; every row starts on a block boundary, so
// cols must be a multiple of the format's block size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace g4::quant {

enum class Format : uint8_t { F32, BF16, I8, Q8_0, Q4_0, Q4_K, Q6_K, kSentinel };

struct FormatInfo {
  std::string_view name;  // "f32", "bf16", "i8", "q8_0", "q4_0", "q4_k", "q6_k"
  int64_t block_elems;    // values per block (1 for f32/bf16; 1 for i8, whose row also carries a scale)
  int64_t block_bytes;    // bytes per block
};

const FormatInfo& info(Format f);
std::optional<Format> parse_format(std::string_view name);  // case-insensitive; "int8" is an alias of "i8"
bool is_block_format(Format f);                             // q8_0, q4_0, q4_k, q6_k

// Bytes of one stored row of n values; n must be a multiple of block_elems (G4_CHECK otherwise).
size_t row_bytes(Format f, int64_t n);

// Reference quantizer of one row (llama.cpp's quantize_row_*_ref for the block formats). Deterministic,
// scalar.
void quantize_row(Format f, const float* x, void* out, int64_t n);
// Exact inverse mapping of the stored values to floats (dequantize_row_* in llama.cpp).
void dequantize_row(Format f, const void* in, float* y, int64_t n);

// ---- Dot products used by the engine's matrix-vector products. ----
// Activations are first converted to the format's "activation type" (as llama.cpp's vec_dot_type):
//   f32 -> f32, bf16 -> bf16, i8 -> q8_0 blocks, q8_0 -> q8_0, q4_0 -> q8_0, q4_k -> q8_k, q6_k -> q8_k
// (q8_k: super-blocks of 256: f32 d, 256 × int8, 16 × int16 block sums, as llama.cpp's block_q8_K).
size_t activation_row_bytes(Format weight_format, int64_t n);
void quantize_activation_row(Format weight_format, const float* x, void* out, int64_t n);

// Σ_k w[k]·a[k] of one stored weight row and one converted activation row of n values.
// vec_dot picks the fastest kernel this CPU supports at run time (AVX-512 VNNI/BF16/F, else scalar);
// vec_dot_scalar is its plain-loop twin, the oracle of the tests. Both form the same exact integer sums per
// block; they differ only in how the float terms are rounded and added (docs/quant-formats.md). For i8,
// q8_0 and q4_0 weights n must be a multiple of 32 (the q8_0 activation blocks), for q4_k and q6_k of 256.
float vec_dot(Format weight_format, int64_t n, const void* weight_row, const void* activation_row);
float vec_dot_scalar(Format weight_format, int64_t n, const void* weight_row, const void* activation_row);

// Which kernel vec_dot uses here for a format: "avx512_vnni", "avx512_bf16", "avx512f" or "scalar".
std::string kernel_name(Format weight_format);

}  // namespace g4::quant
