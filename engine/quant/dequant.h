// Dequantization of stored weight rows straight to bf16, for the prefill GEMM that expands weight tiles.
#pragma once
#include <cstdint>

#include "engine/quant/format.h"

namespace g4::quant {

// y[k] = bf16 (round to nearest even) of dequantize_row(f, in)[k], bit for bit; n as for dequantize_row.
// Vectorized with AVX-512 where the CPU has it (the same bits either way).
void dequantize_row_to_bf16(Format f, const void* in, uint16_t* y, int64_t n);

// The plain-loop twin of dequantize_row_to_bf16 (the tests' oracle).
void dequantize_row_to_bf16_scalar(Format f, const void* in, uint16_t* y, int64_t n);

}  // namespace g4::quant
