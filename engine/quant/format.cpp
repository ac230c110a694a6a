// Format table, row sizes and the run-time dispatch of quantize / dequantize / vec_dot (format.h).
#include "engine/quant/format.h"

#include <array>
#include <cctype>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "engine/quant/blocks.h"
#include "engine/quant/kernels.h"

namespace g4::quant {
namespace {

using detail::BlockQ8_0;
using detail::BlockQ8K;

constexpr std::array<FormatInfo, static_cast<size_t>(Format::kSentinel)> kInfo = {{
    {"f32", 1, 4},
    {"bf16", 1, 2},
    {"i8", 1, 1},
    {"q8_0", 32, 34},
    {"q4_0", 32, 18},
    {"q4_k", 256, 144},
    {"q6_k", 256, 210},
}};

using DotFn = float (*)(int64_t, const void*, const void*);

struct DotKernel {
  DotFn fn;
  const char* name;
};

DotFn scalar_kernel(Format f) {
  switch (f) {
    case Format::F32:
      return detail::dot_f32_scalar;
    case Format::BF16:
      return detail::dot_bf16_scalar;
    case Format::I8:
      return detail::dot_i8_q8_0_scalar;
    case Format::Q8_0:
      return detail::dot_q8_0_q8_0_scalar;
    case Format::Q4_0:
      return detail::dot_q4_0_q8_0_scalar;
    case Format::Q4_K:
      return detail::dot_q4_k_q8_k_scalar;
    case Format::Q6_K:
      return detail::dot_q6_k_q8_k_scalar;
    case Format::kSentinel:
      break;
  }
  G4_CHECK(false, "unknown weight format");
}

DotKernel best_kernel(Format f) {
  const bool int8 = detail::cpu_has_avx512_int8();
  switch (f) {
    case Format::F32:
      if (int8) return {detail::dot_f32_avx512, "avx512f"};
      break;
    case Format::BF16:
      if (detail::cpu_has_avx512_bf16()) return {detail::dot_bf16_avx512, "avx512_bf16"};
      break;
    case Format::I8:
      if (int8) return {detail::dot_i8_q8_0_avx512, "avx512_vnni"};
      break;
    case Format::Q8_0:
      if (int8) return {detail::dot_q8_0_q8_0_avx512, "avx512_vnni"};
      break;
    case Format::Q4_0:
      if (int8) return {detail::dot_q4_0_q8_0_avx512, "avx512_vnni"};
      break;
    case Format::Q4_K:
      if (int8) return {detail::dot_q4_k_q8_k_avx512, "avx512_vnni"};
      break;
    case Format::Q6_K:
      if (int8) return {detail::dot_q6_k_q8_k_avx512, "avx512_vnni"};
      break;
    case Format::kSentinel:
      break;
  }
  return {scalar_kernel(f), "scalar"};
}

const DotKernel& kernel_of(Format f) {
  static const auto table = [] {
    std::array<DotKernel, static_cast<size_t>(Format::kSentinel)> t{};
    for (size_t i = 0; i < t.size(); ++i) t[i] = best_kernel(static_cast<Format>(i));
    return t;
  }();
  G4_CHECK(f < Format::kSentinel, "unknown weight format");
  return table[static_cast<size_t>(f)];
}

// The activation row holds q8_0 blocks (i8, q8_0, q4_0) or q8_k super-blocks (q4_k, q6_k).
int64_t activation_block(Format f) {
  switch (f) {
    case Format::I8:
    case Format::Q8_0:
    case Format::Q4_0:
      return detail::kQK;
    case Format::Q4_K:
    case Format::Q6_K:
      return detail::kQK_K;
    default:
      return 1;
  }
}

void check_row(Format f, int64_t n) {
  G4_CHECK(f < Format::kSentinel, "unknown weight format");
  G4_CHECK(n >= 0 && n % info(f).block_elems == 0, "row of " + std::to_string(n) +
                                                       " values is not a whole number of " +
                                                       std::string(info(f).name) + " blocks");
}

void check_activation(Format f, int64_t n) {
  check_row(f, n);
  G4_CHECK(n % activation_block(f) == 0, "activation row of " + std::to_string(n) + " values for " +
                                             std::string(info(f).name) + " is not a whole number of blocks");
}

}  // namespace

const FormatInfo& info(Format f) {
  G4_CHECK(f < Format::kSentinel, "unknown weight format");
  return kInfo[static_cast<size_t>(f)];
}

std::optional<Format> parse_format(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "int8") return Format::I8;
  for (size_t i = 0; i < kInfo.size(); ++i)
    if (kInfo[i].name == lower) return static_cast<Format>(i);
  return std::nullopt;
}

bool is_block_format(Format f) {
  return f == Format::Q8_0 || f == Format::Q4_0 || f == Format::Q4_K || f == Format::Q6_K;
}

size_t row_bytes(Format f, int64_t n) {
  check_row(f, n);
  const FormatInfo& fi = info(f);
  const size_t payload = static_cast<size_t>(n / fi.block_elems * fi.block_bytes);
  return f == Format::I8 ? sizeof(float) + payload : payload;
}

void quantize_row(Format f, const float* x, void* out, int64_t n) {
  check_row(f, n);
  switch (f) {
    case Format::F32:
      std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
      return;
    case Format::BF16: {
      auto* y = static_cast<bf16_t*>(out);
      for (int64_t k = 0; k < n; ++k) y[k] = f32_to_bf16(x[k]);
      return;
    }
    case Format::I8:
      detail::quantize_i8(x, out, n);
      return;
    case Format::Q8_0:
      detail::quantize_q8_0(x, out, n);
      return;
    case Format::Q4_0:
      detail::quantize_q4_0(x, out, n);
      return;
    case Format::Q4_K:
      detail::quantize_q4_k(x, out, n);
      return;
    case Format::Q6_K:
      detail::quantize_q6_k(x, out, n);
      return;
    case Format::kSentinel:
      break;
  }
  G4_CHECK(false, "unknown weight format");
}

void dequantize_row(Format f, const void* in, float* y, int64_t n) {
  check_row(f, n);
  switch (f) {
    case Format::F32:
      std::memcpy(y, in, static_cast<size_t>(n) * sizeof(float));
      return;
    case Format::BF16: {
      const auto* x = static_cast<const bf16_t*>(in);
      for (int64_t k = 0; k < n; ++k) y[k] = bf16_to_f32(x[k]);
      return;
    }
    case Format::I8:
      detail::dequantize_i8(in, y, n);
      return;
    case Format::Q8_0:
      detail::dequantize_q8_0(in, y, n);
      return;
    case Format::Q4_0:
      detail::dequantize_q4_0(in, y, n);
      return;
    case Format::Q4_K:
      detail::dequantize_q4_k(in, y, n);
      return;
    case Format::Q6_K:
      detail::dequantize_q6_k(in, y, n);
      return;
    case Format::kSentinel:
      break;
  }
  G4_CHECK(false, "unknown weight format");
}

size_t activation_row_bytes(Format weight_format, int64_t n) {
  check_activation(weight_format, n);
  switch (activation_block(weight_format)) {
    case detail::kQK:
      return static_cast<size_t>(n / detail::kQK) * sizeof(BlockQ8_0);
    case detail::kQK_K:
      return static_cast<size_t>(n / detail::kQK_K) * sizeof(BlockQ8K);
    default:
      return row_bytes(weight_format, n);  // f32 and bf16 rows convert to themselves
  }
}

void quantize_activation_row(Format weight_format, const float* x, void* out, int64_t n) {
  check_activation(weight_format, n);
  switch (activation_block(weight_format)) {
    case detail::kQK:
      detail::quantize_q8_0(x, out, n);
      return;
    case detail::kQK_K:
      detail::quantize_q8_k(x, out, n);
      return;
    default:
      quantize_row(weight_format, x, out, n);
  }
}

float vec_dot(Format weight_format, int64_t n, const void* weight_row, const void* activation_row) {
  check_activation(weight_format, n);
  return kernel_of(weight_format).fn(n, weight_row, activation_row);
}

float vec_dot_scalar(Format weight_format, int64_t n, const void* weight_row, const void* activation_row) {
  check_activation(weight_format, n);
  return scalar_kernel(weight_format)(n, weight_row, activation_row);
}

std::string kernel_name(Format weight_format) { return kernel_of(weight_format).name; }

namespace detail {

bool cpu_has_avx512_int8() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = (__builtin_cpu_init(), true) && __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni") &&
                          __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
  return has;
#else
  return false;
#endif
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = cpu_has_avx512_int8() && __builtin_cpu_supports("avx512bf16");
  return has;
#else
  return false;
#endif
}

}  // namespace detail
}  // namespace g4::quant
