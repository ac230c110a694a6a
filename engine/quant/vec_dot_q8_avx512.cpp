// AVX-512 VNNI dot products of the 32-element block formats with q8_0 activations: i8, q8_0, q4_0.
//
// Blocks are handled 16 at a time, one block per 256-bit register: vpdpbusd gives 8 int32 partial sums
// per block and a transpose-and-add tree folds the 16 registers into one zmm of the 16 exact per-block
// integer sums. Each block's float term is then formed exactly as the scalar kernel forms it (same
// operands, same order); only the additions of those terms run in another order (16 lanes, then a
// horizontal sum). 256-bit registers because the block is 32 bytes: pairing blocks into zmm costs
// cross-lane shuffles that Zen 4 runs at half the rate of plain arithmetic (measured: 10-30% slower).

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

constexpr int kGroup = 16;  // blocks per group

// Folds r[b] (8 partial sums of block b) into one vector holding block b's sum in lane b.
inline __m512i fold16(const __m256i r[kGroup]) {
  __m256i t[8];
  for (int i = 0; i < 8; ++i)  // per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] for blocks a = 2i, b = 2i+1
    t[i] = _mm256_add_epi32(_mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]),
                            _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]));
  __m256i u[4];
  for (int i = 0; i < 4; ++i)  // per 128-bit lane: that lane's sums of blocks 4i .. 4i+3
    u[i] = _mm256_add_epi32(_mm256_unpacklo_epi64(t[2 * i], t[2 * i + 1]),
                            _mm256_unpackhi_epi64(t[2 * i], t[2 * i + 1]));
  __m256i v[2];
  for (int i = 0; i < 2; ++i)  // blocks 8i .. 8i+7, both lanes added
    v[i] = _mm256_add_epi32(_mm256_permute2x128_si256(u[2 * i], u[2 * i + 1], 0x20),
                            _mm256_permute2x128_si256(u[2 * i], u[2 * i + 1], 0x31));
  return _mm512_inserti64x4(_mm512_castsi256_si512(v[0]), v[1], 1);
}

// The f16 scales of a group of blocks (kStride bytes, scale first) as floats; blocks at or past `count`
// give 0. Assembled in general-purpose registers, 4 per 64-bit word, so that the loads and shifts run beside
// the vector work (a gather, permutes or vpinsrw compete with it: measured 15-30% slower). The empty asm
// keeps the compiler from turning this back into vector shuffles.
template <int kStride>
inline __m512 group_scales(const void* blocks, int count) {
  const auto* p = static_cast<const uint8_t*>(blocks);
  long long words[4];
  for (int w = 0; w < 4; ++w) {
    uint64_t v = 0;
    for (int j = 0; j < 4; ++j) {
      const int b = 4 * w + j;
      uint16_t h = 0;
      if (b < count) std::memcpy(&h, p + kStride * b, 2);
      v |= static_cast<uint64_t>(h) << (16 * j);
    }
    asm("" : "+r"(v));
    words[w] = static_cast<long long>(v);
  }
  return _mm512_cvtph_ps(_mm256_setr_epi64x(words[0], words[1], words[2], words[3]));
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Σ w·a per int32 lane for signed w and a: vpdpbusd wants one unsigned operand, so |w| × (a with w's sign).
inline __m256i dot_s8(__m256i w, __m256i a) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
}

// ---- q8_0 × q8_0: term = sumi · (dw · da) ----
template <bool kFull>
inline __m512 q8_0_group(const BlockQ8_0* x, const BlockQ8_0* y, int count, __m512 acc) {
  __m256i r[kGroup];
  for (int b = 0; b < kGroup; ++b)
    r[b] = kFull || b < count ? dot_s8(load256(x[b].qs), load256(y[b].qs)) : _mm256_setzero_si256();
  const __m512 sums = _mm512_cvtepi32_ps(fold16(r));
  const int n = kFull ? kGroup : count;
  const __m512 dd =
      _mm512_mul_ps(group_scales<sizeof(BlockQ8_0)>(x, n), group_scales<sizeof(BlockQ8_0)>(y, n));
  return _mm512_add_ps(acc, _mm512_mul_ps(sums, dd));
}

// ---- q4_0 × q8_0: term = (sumi · dw) · da ----
template <bool kFull>
inline __m512 q4_0_group(const BlockQ4_0* x, const BlockQ8_0* y, int count, __m512 acc) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i eight = _mm256_set1_epi8(8);
  const __m256i shifts = _mm256_setr_epi64x(0, 0, 0x0004000400040004, 0x0004000400040004);
  __m256i r[kGroup];
  for (int b = 0; b < kGroup; ++b) {
    if (!kFull && b >= count) {
      r[b] = _mm256_setzero_si256();
      continue;
    }
    // The block's 32 quants in element order: the 16 bytes in both halves, the upper half shifted right by 4,
    // masked: low nibbles (elements 0-15), then high nibbles (16-31).
    const __m256i packed =
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs)));
    const __m256i nib = _mm256_and_si256(_mm256_srlv_epi16(packed, shifts), low4);
    const __m256i a = load256(y[b].qs);
    const __m256i nib_a = _mm256_dpbusd_epi32(_mm256_setzero_si256(), nib, a);
    const __m256i eight_a = _mm256_dpbusd_epi32(_mm256_setzero_si256(), eight, a);
    r[b] = _mm256_sub_epi32(nib_a, eight_a);  // Σ (nib - 8)·a
  }
  const __m512 sums = _mm512_cvtepi32_ps(fold16(r));
  const int n = kFull ? kGroup : count;
  const __m512 term = _mm512_mul_ps(_mm512_mul_ps(sums, group_scales<sizeof(BlockQ4_0)>(x, n)),
                                    group_scales<sizeof(BlockQ8_0)>(y, n));
  return _mm512_add_ps(acc, term);
}

// ---- i8 × q8_0: term = sumi · da, the row scale applied at the end ----
template <bool kFull>
inline __m512 i8_group(const int8_t* q, const BlockQ8_0* y, int count, __m512 acc) {
  __m256i r[kGroup];
  for (int b = 0; b < kGroup; ++b)
    r[b] = kFull || b < count ? dot_s8(load256(q + 32 * b), load256(y[b].qs)) : _mm256_setzero_si256();
  const __m512 sums = _mm512_cvtepi32_ps(fold16(r));
  return _mm512_add_ps(acc, _mm512_mul_ps(sums, group_scales<sizeof(BlockQ8_0)>(y, kFull ? kGroup : count)));
}

constexpr int kPrefetchBytes = 2048;  // weight bytes ahead of the group being computed

inline void prefetch_group(const void* p, int bytes) {
  const auto* c = static_cast<const char*>(p) + kPrefetchBytes;
  for (int off = 0; off < bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T0);
}

}  // namespace

float dot_q8_0_q8_0_avx512(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK;
  __m512 acc = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + kGroup <= nb; b += kGroup) {
    prefetch_group(x + b, kGroup * sizeof(BlockQ8_0));
    acc = q8_0_group<true>(x + b, y + b, kGroup, acc);
  }
  if (b < nb) acc = q8_0_group<false>(x + b, y + b, static_cast<int>(nb - b), acc);
  return _mm512_reduce_add_ps(acc);
}

float dot_q4_0_q8_0_avx512(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK;
  __m512 acc = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + kGroup <= nb; b += kGroup) {
    prefetch_group(x + b, kGroup * sizeof(BlockQ4_0));
    acc = q4_0_group<true>(x + b, y + b, kGroup, acc);
  }
  if (b < nb) acc = q4_0_group<false>(x + b, y + b, static_cast<int>(nb - b), acc);
  return _mm512_reduce_add_ps(acc);
}

float dot_i8_q8_0_avx512(int64_t n, const void* w, const void* a) {
  const auto* bytes = static_cast<const uint8_t*>(w);
  float scale;
  std::memcpy(&scale, bytes, sizeof(scale));
  const auto* q = reinterpret_cast<const int8_t*>(bytes + sizeof(float));
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t nb = n / kQK;
  __m512 acc = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + kGroup <= nb; b += kGroup) {
    prefetch_group(q + b * kQK, kGroup * kQK);
    acc = i8_group<true>(q + b * kQK, y + b, kGroup, acc);
  }
  if (b < nb) acc = i8_group<false>(q + b * kQK, y + b, static_cast<int>(nb - b), acc);
  return _mm512_reduce_add_ps(acc) * scale;
}

}  // namespace g4::quant::detail
