// Helpers shared by the AVX-512 GEMM kernels (gemm_q8_avx512.cpp, gemm_k_avx512.cpp). Include only from
// files compiled with the AVX-512 flags (*_avx512.cpp).
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace g4::quant::detail::gemm_simd {

constexpr int kRows = 16;  // weight rows per panel: the int32 lanes of a zmm
constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// Float operations the compiler cannot contract into FMAs (the bits must equal the scalar twin's).
inline __m512 mul(__m512 a, __m512 b) { return _mm512_mul_round_ps(a, b, kRound); }
inline __m512 add(__m512 a, __m512 b) { return _mm512_add_round_ps(a, b, kRound); }
inline __m512 sub(__m512 a, __m512 b) { return _mm512_sub_round_ps(a, b, kRound); }

struct alignas(64) Line {
  uint8_t bytes[64];
};

// Per-thread scratch that only grows; 64-byte aligned.
inline uint8_t* scratch(std::vector<Line>& v, size_t bytes) {
  if (v.size() * sizeof(Line) < bytes) v.resize((bytes + sizeof(Line) - 1) / sizeof(Line));
  return v.data()->bytes;
}

// Brings the weight rows of the next panels into L2 while the current panels are multiplied, a few cache
// lines per block, so that repacking them later reads L2 instead of memory (with few tokens per call the
// repacking would otherwise wait on memory half the time). An L2 hint: 16 rows about 4 KiB apart share a few
// L1 sets and would evict each other there.
struct RowPrefetcher {
  const uint8_t* first_row = nullptr;
  size_t row_stride = 0, row_len = 0;  // bytes between rows; bytes of each row to fetch
  int64_t rows = 0, per_step = 0;      // rows to fetch; lines per step()
  int64_t row = 0;
  size_t offset = 0;

  void reset(const uint8_t* first, size_t stride, size_t len, int64_t count, int64_t steps) {
    first_row = first;
    row_stride = stride;
    row_len = len;
    rows = count;
    row = 0;
    offset = 0;
    const int64_t lines = count * static_cast<int64_t>((len + 63) / 64);
    per_step = steps > 0 ? (lines + steps - 1) / steps : 0;
  }
  void step() {
    for (int64_t i = 0; i < per_step && row < rows; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(first_row + row * row_stride + offset), _MM_HINT_T1);
      offset += 64;
      if (offset >= row_len) {
        offset = 0;
        ++row;
      }
    }
  }
};

// The 16-bit values at rows[r] + offset for 16 rows (f16 scales) as 16 int16 lanes, assembled 4 per 64-bit
// general-purpose register: 16 narrow stores followed by one wide load would stall store forwarding. The
// empty asm keeps the compiler from turning this into vector inserts.
inline __m256i gather_u16(const uint8_t* const rows[kRows], size_t offset) {
  long long words[4];
  for (int w = 0; w < 4; ++w) {
    uint64_t v = 0;
    for (int j = 0; j < 4; ++j) {
      uint16_t h;
      std::memcpy(&h, rows[4 * w + j] + offset, 2);
      v |= static_cast<uint64_t>(h) << (16 * j);
    }
    asm("" : "+r"(v));
    words[w] = static_cast<long long>(v);
  }
  return _mm256_setr_epi64x(words[0], words[1], words[2], words[3]);
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// rows[r] (32 bytes each) → out[c], lane r = bytes 4c..4c+3 of row r: an 8×8 dword transpose in each
// 256-bit half (rows 0–7 low, 8–15 high). 32 shuffles.
inline void transpose16x8(const __m256i rows[kRows], __m512i out[8]) {
  __m512i z[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(rows[i]), rows[i + 8], 1);
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3 (h = 0) and 4-7 of each half
    const __m512i* th = t + 4 * h;
    u[4 * h + 0] = _mm512_unpacklo_epi64(th[0], th[2]);
    u[4 * h + 1] = _mm512_unpackhi_epi64(th[0], th[2]);
    u[4 * h + 2] = _mm512_unpacklo_epi64(th[1], th[3]);
    u[4 * h + 3] = _mm512_unpackhi_epi64(th[1], th[3]);
  }
  // u[c] (c < 4) holds rows 0-3 of dwords c and c+4 in its 128-bit lanes 0 and 1 (and rows 8-11 in 2, 3);
  // u[4 + c] the same for rows 4-7 and 12-15.
  const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int c = 0; c < 4; ++c) {
    out[c] = _mm512_permutex2var_epi64(u[c], lo, u[4 + c]);
    out[c + 4] = _mm512_permutex2var_epi64(u[c], hi, u[4 + c]);
  }
}

// The 32 bytes at rows[r] + offset for 16 rows, transposed as above.
inline void load_transposed(const uint8_t* const rows[kRows], size_t offset, __m512i out[8]) {
  __m256i q[kRows];
  for (int r = 0; r < kRows; ++r) q[r] = load256(rows[r] + offset);
  transpose16x8(q, out);
}

// 16 rows × 16 bytes (at rows[r] + offset) → out[j] = byte j of every row, as 16 int32 lanes (sign- or
// zero-extended). Four rounds of byte interleaving (unpacklo/hi of register pairs 2i, 2i+1 into i, i+8)
// rotate the 8-bit address (register, byte) so that it ends bit-reversed in both halves: loading the rows
// in bit-reversed order and reading the registers in bit-reversed order gives the plain transpose.
template <bool kSigned>
inline void transpose_bytes16(const uint8_t* const rows[kRows], size_t offset, __m512i out[16]) {
  constexpr int kRev[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
  __m128i x[16], y[16];
  for (int r = 0; r < 16; ++r)
    x[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[kRev[r]] + offset));
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 8; ++i) {
      y[i] = _mm_unpacklo_epi8(x[2 * i], x[2 * i + 1]);
      y[i + 8] = _mm_unpackhi_epi8(x[2 * i], x[2 * i + 1]);
    }
    for (int i = 0; i < 16; ++i) x[i] = y[i];
  }
  for (int j = 0; j < 16; ++j)
    out[j] = kSigned ? _mm512_cvtepi8_epi32(x[kRev[j]]) : _mm512_cvtepu8_epi32(x[kRev[j]]);
}

}  // namespace g4::quant::detail::gemm_simd
