#include "core/dtype.h"

#include <array>
#include <cmath>

namespace g4 {

namespace {
struct DTypeInfo {
  std::string_view name;
  size_t size;
};
constexpr std::array<DTypeInfo, static_cast<size_t>(DType::kSentinel)> kInfo{{
    {"BF16", 2},
    {"F16", 2},
    {"F32", 4},
    {"F64", 8},
    {"I8", 1},
    {"U8", 1},
    {"I16", 2},
    {"U16", 2},
    {"I32", 4},
    {"U32", 4},
    {"I64", 8},
    {"U64", 8},
    {"BOOL", 1},
}};
}  // namespace

std::string_view dtype_name(DType t) { return kInfo.at(static_cast<size_t>(t)).name; }
size_t dtype_size(DType t) { return kInfo.at(static_cast<size_t>(t)).size; }

std::optional<DType> dtype_from_name(std::string_view s) {
  for (size_t i = 0; i < kInfo.size(); ++i)
    if (kInfo[i].name == s) return static_cast<DType>(i);
  return std::nullopt;
}

float f16_to_f32(f16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: man * 2^-24, exact in float
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (man << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
}

f16_t f32_to_f16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<f16_t>(sign | 0x7e00u);   // NaN
  if (abs >= 0x477ff000u) return static_cast<f16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    // value = abs_float; half subnormal unit is 2^-24. nearbyint rounds half to even in the default mode.
    const float a = std::bit_cast<float>(abs);
    const float q = std::nearbyint(std::ldexp(a, 24));
    return static_cast<f16_t>(sign | static_cast<uint16_t>(q));
  }
  uint32_t v = abs - (112u << 23);  // rebias exponent
  v += 0xfffu + ((v >> 13) & 1u);   // round to nearest even on the 13 dropped bits
  return static_cast<f16_t>(sign | static_cast<uint16_t>(v >> 13));
}

}  // namespace g4
