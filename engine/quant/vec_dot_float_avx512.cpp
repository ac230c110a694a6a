// AVX-512 dot products of the plain formats: f32 (FMA) and bf16 (vdpbf16ps, which multiplies bf16 pairs
// exactly and adds them into f32 lanes; it treats denormal inputs as zero, a difference far below the
// bound the tests check).

// GCC 12 reports the _mm512_undefined_* placeholders inside its own intrinsics as (maybe-)uninitialized
// (GCC bug 105593); the warning is about the header, not this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <bit>

#include "core/dtype.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {

float dot_f32_avx512(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t k = 0;
  for (; k + 64 <= n; k += 64)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16 * u), _mm512_loadu_ps(y + k + 16 * u), acc[u]);
  for (; k < n; k += 16) {
    const __mmask16 m = n - k >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - k)) - 1);
    acc[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + k), _mm512_maskz_loadu_ps(m, y + k), acc[0]);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

float dot_bf16_avx512(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const bf16_t*>(w);
  const auto* y = static_cast<const bf16_t*>(a);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  const auto bh = [](__m512i v) { return std::bit_cast<__m512bh>(v); };
  int64_t k = 0;
  for (; k + 128 <= n; k += 128) {
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm512_dpbf16_ps(acc[u], bh(_mm512_loadu_si512(x + k + 32 * u)),
                                bh(_mm512_loadu_si512(y + k + 32 * u)));
  }
  for (; k < n; k += 32) {
    const __mmask32 m = n - k >= 32 ? __mmask32{0xFFFFFFFFu} : static_cast<__mmask32>((1u << (n - k)) - 1);
    acc[0] = _mm512_dpbf16_ps(acc[0], bh(_mm512_maskz_loadu_epi16(m, x + k)),
                              bh(_mm512_maskz_loadu_epi16(m, y + k)));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

}  // namespace g4::quant::detail
