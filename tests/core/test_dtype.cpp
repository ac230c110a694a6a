// bf16/f16 conversions against values worked out by hand from the IEEE formats.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "core/dtype.h"

using namespace g4;

TEST_CASE("bf16 rounds to nearest even", "[dtype]") {
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  // 1 + 2^-8 is exactly half way between bf16 1.0 (0x3f80) and 1.0078125 (0x3f81): ties to even -> 0x3f80.
  CHECK(f32_to_bf16(1.00390625f) == 0x3f80);
  // 1.0078125 + 2^-8 is half way between 0x3f81 and 0x3f82: ties to even -> 0x3f82.
  CHECK(f32_to_bf16(1.01171875f) == 0x3f82);
  // Just above half way rounds up.
  CHECK(f32_to_bf16(std::nextafter(1.00390625f, 2.0f)) == 0x3f81);
  // sqrt(3840) = 61.967... rounds to 62.0 in bf16 (spec 2.2).
  CHECK(round_bf16(std::sqrt(3840.0f)) == 62.0f);
  CHECK(f32_to_bf16(-2.0f) == 0xc000);
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isinf(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::max()))));  // rounds up to inf
}

TEST_CASE("f16 conversions", "[dtype]") {
  CHECK(f32_to_f16(1.0f) == 0x3c00);
  CHECK(f32_to_f16(65504.0f) == 0x7bff);
  CHECK(f32_to_f16(65520.0f) == 0x7c00);               // half way to the next binade: ties to even -> inf
  CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
  CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);  // half of it: ties to even -> 0
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
  CHECK(f16_to_f32(0xc000) == -2.0f);
  // Every finite half survives a round trip through float.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<f16_t>(h));
    if (std::isnan(f)) continue;
    REQUIRE(f32_to_f16(f) == h);
  }
}

TEST_CASE("dtype names", "[dtype]") {
  CHECK(dtype_from_name("BF16") == DType::BF16);
  CHECK(!dtype_from_name("bf16").has_value());  // safetensors names are upper case
  CHECK(dtype_size(DType::F32) == 4);
  CHECK(dtype_name(DType::I64) == "I64");
}
