// Rows to bf16: the AVX-512 path when the CPU has it, else dequantize_row one block at a time and round.
#include "engine/quant/dequant.h"

#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "engine/quant/blocks.h"
#include "engine/quant/kernels.h"

namespace g4::quant {

void dequantize_row_to_bf16_scalar(Format f, const void* in, uint16_t* y, int64_t n) {
  (void)row_bytes(f, n);  // validates f and n
  switch (f) {
    case Format::BF16:
      std::memcpy(y, in, static_cast<size_t>(n) * sizeof(uint16_t));
      return;
    case Format::F32: {
      const auto* x = static_cast<const float*>(in);
      for (int64_t k = 0; k < n; ++k) y[k] = f32_to_bf16(x[k]);
      return;
    }
    case Format::I8: {
      const auto* bytes = static_cast<const uint8_t*>(in);
      float scale;
      std::memcpy(&scale, bytes, sizeof(scale));
      const auto* q = reinterpret_cast<const int8_t*>(bytes + sizeof(float));
      for (int64_t k = 0; k < n; ++k) y[k] = f32_to_bf16(scale * q[k]);
      return;
    }
    default:
      break;
  }
  const FormatInfo& fi = info(f);
  float block[detail::kQK_K];
  const auto* src = static_cast<const uint8_t*>(in);
  for (int64_t k = 0; k < n; k += fi.block_elems, src += fi.block_bytes, y += fi.block_elems) {
    dequantize_row(f, src, block, fi.block_elems);
    for (int64_t j = 0; j < fi.block_elems; ++j) y[j] = f32_to_bf16(block[j]);
  }
}

void dequantize_row_to_bf16(Format f, const void* in, uint16_t* y, int64_t n) {
  if (detail::cpu_has_avx512_int8()) {
    (void)row_bytes(f, n);
    detail::dequantize_to_bf16_avx512(f, in, y, n);
  } else {
    dequantize_row_to_bf16_scalar(f, in, y, n);
  }
}

}  // namespace g4::quant
