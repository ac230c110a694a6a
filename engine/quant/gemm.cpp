// gemm_rows: argument checks, run-time kernel choice, and the plain-loop twin (compiled without FMA
// contraction, like every non-AVX-512 file of engine/quant), whose bits the AVX-512 kernels reproduce.
#include "engine/quant/gemm.h"

#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "engine/quant/blocks.h"
#include "engine/quant/exact_fp.h"
#include "engine/quant/kernels.h"

namespace g4::quant {
namespace {

using detail::BlockQ4K;
using detail::BlockQ6K;
using detail::BlockQ8K;
using detail::kQK_K;

void check_args(Format f, int64_t n, size_t w_row_bytes, int64_t nrows, size_t act_row_bytes, int64_t T,
                int64_t ldy) {
  G4_CHECK(nrows >= 0 && T >= 0, "gemm_rows: negative size");
  G4_CHECK(w_row_bytes >= row_bytes(f, n), "gemm_rows: weight row stride below the row size");
  G4_CHECK(act_row_bytes >= activation_row_bytes(f, n),
           "gemm_rows: activation row stride below the row size");
  G4_CHECK(T <= 1 || ldy >= nrows, "gemm_rows: output stride below nrows");
}

// Σ_k q·a of one q4_k / q6_k super-block as the canonical order defines it (gemm.h), in exact integers.
float q4_k_superblock(const BlockQ4K& x, const BlockQ8K& y, float sum) {
  int isum = 0;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    detail::get_scale_min(j, x.scales, &sc, &m);
    int s = 0;
    for (int l = 0; l < 32; ++l) {
      const int e =
          32 * j + l;  // element; chunk c = e / 64 holds it in qs[32c + e % 32], high nibble if e % 64 >= 32
      const uint8_t byte = x.qs[32 * (e / 64) + e % 32];
      s += ((e % 64) < 32 ? byte & 0xF : byte >> 4) * y.qs[e];
    }
    isum += sc * s;
  }
  int summ = 0;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    detail::get_scale_min(j, x.scales, &sc, &m);
    summ += m * (y.bsums[2 * j] + y.bsums[2 * j + 1]);
  }
  sum = sum + static_cast<float>(isum) * (f16_to_f32(x.d) * y.d);
  return sum - static_cast<float>(summ) * (f16_to_f32(x.dmin) * y.d);
}

float q6_k_superblock(const BlockQ6K& x, const BlockQ8K& y, float sum) {
  int isum = 0;
  for (int j = 0; j < 16; ++j) {
    int s = -32 * y.bsums[j];
    for (int l = 0; l < 16; ++l) {
      const int e = 16 * j + l, h = e / 128,
                i = e % 128;  // half h, index i: ql/qh layout of docs/quant-formats.md
      const uint8_t low = x.ql[64 * h + i % 64], high = x.qh[32 * h + i % 32];
      const int q = (i < 64 ? low & 0xF : low >> 4) | ((high >> (2 * (i / 32))) & 3) << 4;
      s += q * y.qs[e];
    }
    isum += x.scales[j] * s;
  }
  return sum + static_cast<float>(isum) * (f16_to_f32(x.d) * y.d);
}

float k_row_scalar(Format f, int64_t n, const uint8_t* w, const uint8_t* a) {
  const auto* y = reinterpret_cast<const BlockQ8K*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    sum = f == Format::Q4_K ? q4_k_superblock(reinterpret_cast<const BlockQ4K*>(w)[b], y[b], sum)
                            : q6_k_superblock(reinterpret_cast<const BlockQ6K*>(w)[b], y[b], sum);
  }
  return sum;
}

}  // namespace

void gemm_rows_scalar(Format format, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
                      const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy) {
  check_args(format, n, w_row_bytes, nrows, act_row_bytes, T, ldy);
  const bool k_quant = format == Format::Q4_K || format == Format::Q6_K;
  const bool block32 = format == Format::I8 || format == Format::Q8_0 || format == Format::Q4_0;
  for (int64_t t = 0; t < T; ++t) {
    const uint8_t* a = act + t * act_row_bytes;
    for (int64_t r = 0; r < nrows; ++r) {
      const uint8_t* w = W + r * w_row_bytes;
      y[t * ldy + r] = k_quant   ? k_row_scalar(format, n, w, a)
                       : block32 ? vec_dot_scalar(format, n, w, a)
                                 : vec_dot(format, n, w, a);
    }
  }
}

void gemm_rows(Format format, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
               const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy) {
  check_args(format, n, w_row_bytes, nrows, act_row_bytes, T, ldy);
  if (nrows == 0 || T == 0) return;
  if (detail::cpu_has_avx512_int8()) {
    switch (format) {
      case Format::I8:
      case Format::Q8_0:
      case Format::Q4_0:
        return detail::gemm_q8_avx512(format, n, W, w_row_bytes, nrows, act, act_row_bytes, T, y, ldy);
      case Format::Q4_K:
      case Format::Q6_K:
        return detail::gemm_k_avx512(format, n, W, w_row_bytes, nrows, act, act_row_bytes, T, y, ldy);
      default:
        break;
    }
  }
  gemm_rows_scalar(format, n, W, w_row_bytes, nrows, act, act_row_bytes, T, y, ldy);
}

void gemv_rows(Format format, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
               const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy) {
  gemm_rows(format, n, W, w_row_bytes, nrows, act, act_row_bytes, T, y, ldy);
}

std::string gemm_kernel_name(Format format) {
  if (detail::cpu_has_avx512_int8()) {
    switch (format) {
      case Format::I8:
      case Format::Q8_0:
      case Format::Q4_0:
        return "avx512_vnni 32x" + std::to_string(detail::kGemmTokensQ8 / 2);
      case Format::Q4_K:
      case Format::Q6_K:
        return "avx512_vnni 32x" + std::to_string(detail::kGemmTokensK / 2);
      default:
        break;
    }
  }
  return format == Format::F32 || format == Format::BF16 ? "vec_dot/" + kernel_name(format) : "scalar";
}

}  // namespace g4::quant
