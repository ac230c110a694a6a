// AVX-512 VNNI dot products of the k-quants with q8_k activations.
//
// Per super-block: vpmaddubsw multiplies the unsigned quants by the int8 activations (pairs summed in
// int16, which cannot saturate: 2·63·127 < 2^15), vpdpwssd multiplies those pair sums by the sub-block scales
// and accumulates int32 lanes, so the super-block's integer Σ scale·q·a is exact. The lanes then go to float
// once per super-block, times the super-block's d, as the scalar kernel's 8 `sums[l]` lanes do.

// GCC 12 reports the _mm512_undefined_* placeholders inside its own intrinsics as (maybe-)uninitialized
// (GCC bug 105593); the warning is about the header, not this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "engine/quant/blocks.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {
namespace {

// A zmm of int16 lanes: j0 in the lower 256 bits, j1 in the upper (permutation indices).
inline __m512i halves16(short j0, short j1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(j0)), _mm256_set1_epi16(j1), 1);
}

// Four int16 index groups of 8 lanes each: j, j+1, j+2, j+3.
inline __m512i quarters16(short j) {
  const __m256i lo =
      _mm256_setr_epi16(j, j, j, j, j, j, j, j, static_cast<short>(j + 1), static_cast<short>(j + 1),
                        static_cast<short>(j + 1), static_cast<short>(j + 1), static_cast<short>(j + 1),
                        static_cast<short>(j + 1), static_cast<short>(j + 1), static_cast<short>(j + 1));
  const __m256i two = _mm256_set1_epi16(2);
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), _mm256_add_epi16(lo, two), 1);
}

inline float f16(uint16_t h) { return _cvtsh_ss(h); }

constexpr int kPrefetchBytes = 2048;

}  // namespace

float dot_q4_k_q8_k_avx512(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4K*>(w);
  const auto* y = static_cast<const BlockQ8K*>(a);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i nibble_shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
  const __m512i idx[4] = {halves16(0, 1), halves16(2, 3), halves16(4, 5), halves16(6, 7)};
  const __m256i idx_mins = _mm256_setr_epi16(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  __m512 acc = _mm512_setzero_ps();
  __m256 acc_min = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ4K& xb = x[b];
    const BlockQ8K& yb = y[b];
    _mm_prefetch(reinterpret_cast<const char*>(&xb) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(&xb) + kPrefetchBytes + 64, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(&xb) + kPrefetchBytes + 128, _MM_HINT_T0);

    // Unpack the 12 bytes of 6-bit values into bytes [sc0..sc7, m0..m7] (ggml's kmask shuffle).
    uint32_t u[4];
    std::memcpy(u, xb.scales, 12);
    u[3] = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
    const uint32_t mins_lo = u[1] & 0x3f3f3f3f;
    u[1] = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
    u[2] = mins_lo;
    u[0] &= 0x3f3f3f3f;
    const __m256i sm16 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u)));
    const __m512i sm = _mm512_castsi256_si512(sm16);

    // Chunk c (qs[32c..32c+31]) holds elements 64c..64c+63: low nibbles first, then high nibbles. The 32
    // bytes go to both halves of a zmm, the upper half shifted right by 4: elements in order, matching the
    // activations' 64 contiguous bytes (no shuffles), sub-blocks 2c and 2c+1.
    __m512i s[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};  // two accumulator chains
    for (int c = 0; c < 4; ++c) {
      const __m512i packed =
          _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qs + 32 * c)));
      const __m512i q = _mm512_and_si512(_mm512_srlv_epi16(packed, nibble_shift), low4);
      const __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512(yb.qs + 64 * c));
      s[c % 2] = _mm512_dpwssd_epi32(s[c % 2], p, _mm512_permutexvar_epi16(idx[c], sm));
    }
    const __m512i sumi = _mm512_add_epi32(s[0], s[1]);

    // Min term: Σ_g bsums[g] · m[g/2].
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yb.bsums));
    const __m256i summ =
        _mm256_dpwssd_epi32(_mm256_setzero_si256(), bsums, _mm256_permutexvar_epi16(idx_mins, sm16));

    const float d = f16(xb.d) * yb.d;
    const float dmin = f16(xb.dmin) * yb.d;
    acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    acc_min = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(summ), acc_min);
  }
  const __m128 m = _mm_add_ps(_mm256_castps256_ps128(acc_min), _mm256_extractf128_ps(acc_min, 1));
  const __m128 m2 = _mm_add_ps(m, _mm_movehl_ps(m, m));
  const float min_total = _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
  return _mm512_reduce_add_ps(acc) - min_total;
}

float dot_q6_k_q8_k_avx512(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6K*>(w);
  const auto* y = static_cast<const BlockQ8K*>(a);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i bits45 = _mm512_set1_epi32(0x30303030);
  // qh holds 2 bits per element at shifts 0, 2, 4, 6 for the 4 runs of 32; they are moved to bits 4-5:
  // runs 0 | 1 shift left by 4 | 2, runs 2 | 3 shift right by 0 | 2 (16-bit shifts; the bits never cross
  // a byte boundary before the mask).
  const __m512i shl_01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr_23 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  const __m512i idx[4] = {quarters16(0), quarters16(4), quarters16(8), quarters16(12)};
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ6K& xb = x[b];
    const BlockQ8K& yb = y[b];
    const char* pf = reinterpret_cast<const char*>(&xb) + kPrefetchBytes;
    _mm_prefetch(pf, _MM_HINT_T0);
    _mm_prefetch(pf + 64, _MM_HINT_T0);
    _mm_prefetch(pf + 128, _MM_HINT_T0);
    _mm_prefetch(pf + 192, _MM_HINT_T0);

    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xb.scales)));
    const __m512i sc = _mm512_castsi256_si512(sc16);
    __m512i half_sums[2];          // one accumulator chain per half, so the two run in parallel
    for (int h = 0; h < 2; ++h) {  // 128 elements: ql[64h..64h+63], qh[32h..32h+31]
      const __m512i ql = _mm512_loadu_si512(xb.ql + 64 * h);
      const __m512i qh =
          _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.qh + 32 * h)));
      // Elements 0..63 of the half: low nibbles with qh bits 0-1 | 2-3; elements 64..127: high nibbles, 4-5 |
      // 6-7.
      const __m512i u0 = _mm512_ternarylogic_epi32(_mm512_sllv_epi16(qh, shl_01), bits45,
                                                   _mm512_and_si512(ql, low4), 0xEA);  // (A & B) | C
      const __m512i u1 = _mm512_ternarylogic_epi32(_mm512_srlv_epi16(qh, shr_23), bits45,
                                                   _mm512_and_si512(_mm512_srli_epi16(ql, 4), low4), 0xEA);
      const __m512i p0 = _mm512_maddubs_epi16(u0, _mm512_loadu_si512(yb.qs + 128 * h));
      const __m512i p1 = _mm512_maddubs_epi16(u1, _mm512_loadu_si512(yb.qs + 128 * h + 64));
      const __m512i s =
          _mm512_dpwssd_epi32(_mm512_setzero_si512(), p0, _mm512_permutexvar_epi16(idx[2 * h], sc));
      half_sums[h] = _mm512_dpwssd_epi32(s, p1, _mm512_permutexvar_epi16(idx[2 * h + 1], sc));
    }
    __m512i sumi = _mm512_add_epi32(half_sums[0], half_sums[1]);
    // The quants were taken as q + 32: subtract 32 · Σ_j sc_j · bsums_j.
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yb.bsums));
    const __m256i offset = _mm256_slli_epi32(_mm256_dpwssd_epi32(_mm256_setzero_si256(), bsums, sc16), 5);
    sumi = _mm512_sub_epi32(sumi, _mm512_zextsi256_si512(offset));
    acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(xb.d) * yb.d), _mm512_cvtepi32_ps(sumi), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace g4::quant::detail
