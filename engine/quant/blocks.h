// Block structs of the quantized formats, byte for byte those of ggml-common.h (block_q8_0, block_q4_0,
// block_q4_K, block_q6_K, block_q8_K), and the small helpers every quantizer shares. Private to engine/quant.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

namespace g4::quant::detail {

inline constexpr int kQK = 32;     // elements of a q8_0 / q4_0 block
inline constexpr int kQK_K = 256;  // elements of a k-quant super-block

struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t qs[kQK];
};
struct BlockQ4_0 {
  uint16_t d;           // f16 scale
  uint8_t qs[kQK / 2];  // element j in the low nibble of qs[j], element j+16 in the high nibble
};
struct BlockQ4K {
  uint16_t d;             // f16 scale of the 6-bit sub-block scales
  uint16_t dmin;          // f16 scale of the 6-bit sub-block mins
  uint8_t scales[12];     // 8 scales and 8 mins, 6 bits each (packing: get_scale_min)
  uint8_t qs[kQK_K / 2];  // 4 chunks of 64: qs[32c+l] low nibble = element 64c+l, high = 64c+32+l
};
struct BlockQ6K {
  uint8_t ql[kQK_K / 2];  // low 4 bits
  uint8_t qh[kQK_K / 4];  // high 2 bits
  int8_t scales[kQK_K / 16];
  uint16_t d;  // f16 super-block scale
};
struct BlockQ8K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sums of qs in groups of 16
};

static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4K) == 144 && sizeof(BlockQ6K) == 210 && sizeof(BlockQ8K) == 292);

// llama.cpp's nearest_int: adding 1.5·2^23 puts the integer in the low mantissa bits, so the float adder
// rounds half to even. Valid for |x| <= 2^22 - 1 (the quantizers stay far inside).
inline int nearest_int(float x) {
  const float v = x + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// f16 fields are read through memcpy so callers need no alignment beyond the byte.
inline float load_f16(const void* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof(h));
  return f16_to_f32(h);
}

// 6-bit scale and min j (0..7) of a q4_K super-block (ggml's get_scale_min_k4).
inline void get_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace g4::quant::detail
