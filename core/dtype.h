// Element types of checkpoint tensors and the exact bf16/f16 <-> f32 conversions every part shares.
// bf16 rounding is round-to-nearest-even, NaN kept quiet: the same as PyTorch's float -> bfloat16 cast,
// which is what the precision contract (docs/ARCHITECTURE.md) rounds to at each tensor boundary.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace g4 {

// Safetensors dtype names, plus the integer payloads quantized blocks are stored as.
enum class DType : uint8_t { BF16, F16, F32, F64, I8, U8, I16, U16, I32, U32, I64, U64, BOOL, kSentinel };

std::string_view dtype_name(DType t);                      // "BF16", "F32", ... (safetensors spelling)
std::optional<DType> dtype_from_name(std::string_view s);  // nullopt for unknown names
size_t dtype_size(DType t);                                // bytes per element

using bf16_t = uint16_t;  // raw bits; arithmetic always goes through float
using f16_t = uint16_t;

inline float bf16_to_f32(bf16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline bf16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
  return static_cast<bf16_t>(u >> 16);
}

// Rounds a float to the nearest bf16 value and returns it as float (the "bf16 boundary" of the contract).
inline float round_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }

float f16_to_f32(f16_t h);
f16_t f32_to_f16(float f);  // round to nearest even, overflow to inf

}  // namespace g4
