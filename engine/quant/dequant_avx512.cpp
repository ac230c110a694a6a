// AVX-512 dequantization to bf16. Each value is computed with the scalar dequantizer's operations in its
// order (the *_round_ps intrinsics keep the compiler from fusing a multiply and a subtract into one FMA),
// and rounded to bf16 with the same integer rounding as core/dtype.h, so the bits equal the scalar path's.

// GCC 12 reports the _mm512_undefined_* placeholders inside its own intrinsics as (maybe-)uninitialized
// (GCC bug 105593); the warning is about the header, not this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "core/error.h"
#include "engine/quant/blocks.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {
namespace {

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

inline __m512 mul(__m512 a, __m512 b) { return _mm512_mul_round_ps(a, b, kRound); }
inline __m512 sub(__m512 a, __m512 b) { return _mm512_sub_round_ps(a, b, kRound); }

// 16 floats to bf16, round to nearest even, NaN kept quiet (core/dtype.h's f32_to_bf16).
inline __m256i to_bf16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  return _mm512_cvtepi32_epi16(r);
}

inline void store16(uint16_t* y, __m512 v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), to_bf16(v)); }

// 16 bytes as int32 lanes.
inline __m512i i8x16(const void* p) {
  return _mm512_cvtepi8_epi32(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}
inline __m512 to_float(__m128i bytes_u8) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes_u8)); }

void q8_0_rows(const BlockQ8_0* x, uint16_t* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, y += kQK) {
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(x[b].d));
    store16(y, mul(_mm512_cvtepi32_ps(i8x16(x[b].qs)), d));
    store16(y + 16, mul(_mm512_cvtepi32_ps(i8x16(x[b].qs + 16)), d));
  }
}

void q4_0_rows(const BlockQ4_0* x, uint16_t* y, int64_t nb) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  const __m512i eight = _mm512_set1_epi32(8);
  for (int64_t b = 0; b < nb; ++b, y += kQK) {
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(x[b].d));
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs));
    const __m512i lo = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(q, low4)), eight);
    const __m512i hi =
        _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), low4)), eight);
    store16(y, mul(_mm512_cvtepi32_ps(lo), d));
    store16(y + 16, mul(_mm512_cvtepi32_ps(hi), d));
  }
}

void q4_k_rows(const BlockQ4K* x, uint16_t* y, int64_t nb) {
  const __m128i low4 = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const float d = _cvtsh_ss(x[b].d);
    const float min = _cvtsh_ss(x[b].dmin);
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      get_scale_min(2 * c, x[b].scales, &sc, &m);
      const __m512 d1 = _mm512_set1_ps(d * sc), m1 = _mm512_set1_ps(min * m);
      get_scale_min(2 * c + 1, x[b].scales, &sc, &m);
      const __m512 d2 = _mm512_set1_ps(d * sc), m2 = _mm512_set1_ps(min * m);
      for (int half = 0; half < 2; ++half, y += 16) {
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs + 32 * c + 16 * half));
        store16(y, sub(mul(d1, to_float(_mm_and_si128(q, low4))), m1));
        store16(y + 32, sub(mul(d2, to_float(_mm_and_si128(_mm_srli_epi16(q, 4), low4))), m2));
      }
      y += 32;
    }
  }
}

void q6_k_rows(const BlockQ6K* x, uint16_t* y, int64_t nb) {
  const __m128i low4 = _mm_set1_epi8(0x0F), three = _mm_set1_epi8(3);
  const __m512i offset = _mm512_set1_epi32(32);
  for (int64_t b = 0; b < nb; ++b) {
    const float d = _cvtsh_ss(x[b].d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      const int8_t* sc = x[b].scales + 8 * h;
      for (int g = 0; g < 2; ++g) {  // l = 16g .. 16g+15 of the 32 in each run
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + 16 * g));
        const __m128i lo2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + 32 + 16 * g));
        const __m128i hb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + 16 * g));
        const __m128i runs[4] = {
            _mm_or_si128(_mm_and_si128(lo, low4), _mm_slli_epi16(_mm_and_si128(hb, three), 4)),
            _mm_or_si128(_mm_and_si128(lo2, low4),
                         _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 2), three), 4)),
            _mm_or_si128(_mm_and_si128(_mm_srli_epi16(lo, 4), low4),
                         _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 4), three), 4)),
            _mm_or_si128(_mm_and_si128(_mm_srli_epi16(lo2, 4), low4),
                         _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 6), three), 4)),
        };
        for (int r = 0; r < 4; ++r) {
          const __m512 ds = _mm512_set1_ps(d * sc[g + 2 * r]);
          const __m512i q = _mm512_sub_epi32(_mm512_cvtepu8_epi32(runs[r]), offset);
          store16(y + 128 * h + 32 * r + 16 * g, mul(ds, _mm512_cvtepi32_ps(q)));
        }
      }
    }
    y += kQK_K;
  }
}

void i8_row(const void* in, uint16_t* y, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(in);
  float s;
  std::memcpy(&s, bytes, sizeof(s));
  const __m512 scale = _mm512_set1_ps(s);
  const auto* q = reinterpret_cast<const int8_t*>(bytes + sizeof(float));
  for (int64_t k = 0; k < n; k += 16) {
    const __mmask16 m = n - k >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - k)) - 1);
    const __m512i v = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, q + k));
    _mm256_mask_storeu_epi16(y + k, m, to_bf16(mul(scale, _mm512_cvtepi32_ps(v))));
  }
}

void f32_row(const float* x, uint16_t* y, int64_t n) {
  for (int64_t k = 0; k < n; k += 16) {
    const __mmask16 m = n - k >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - k)) - 1);
    _mm256_mask_storeu_epi16(y + k, m, to_bf16(_mm512_maskz_loadu_ps(m, x + k)));
  }
}

}  // namespace

void dequantize_to_bf16_avx512(Format f, const void* in, uint16_t* y, int64_t n) {
  switch (f) {
    case Format::F32:
      f32_row(static_cast<const float*>(in), y, n);
      return;
    case Format::BF16:
      std::memcpy(y, in, static_cast<size_t>(n) * sizeof(uint16_t));
      return;
    case Format::I8:
      i8_row(in, y, n);
      return;
    case Format::Q8_0:
      q8_0_rows(static_cast<const BlockQ8_0*>(in), y, n / kQK);
      return;
    case Format::Q4_0:
      q4_0_rows(static_cast<const BlockQ4_0*>(in), y, n / kQK);
      return;
    case Format::Q4_K:
      q4_k_rows(static_cast<const BlockQ4K*>(in), y, n / kQK_K);
      return;
    case Format::Q6_K:
      q6_k_rows(static_cast<const BlockQ6K*>(in), y, n / kQK_K);
      return;
    case Format::kSentinel:
      break;
  }
  G4_CHECK(false, "unknown weight format");
}

}  // namespace g4::quant::detail
