// AVX-512 VNNI GEMM of the 32-element block formats (i8, q8_0, q4_0) with q8_0 activations.
//
// Layout: each int32 lane of a zmm is one output (row, token) pair, so no horizontal sums are needed. A
// panel of 16 weight rows is repacked once (lane r = row r, 4 consecutive quants per lane, made unsigned:
// q8_0 and i8 as w + 128, q4_0 as its nibble) and then multiplied with all tokens, two panels (32 rows)
// and 6 tokens at a time: per 4 elements, two weight zmm and 12 `vpdpbusd` against the tokens' 4
// activation bytes broadcast to every lane. The offsets (128 or 8 times Σ a of the block) are the
// accumulators' start values, so each lane ends the block with the exact integer sum vec_dot_scalar forms;
// the float term and the sum over blocks then follow the scalar kernel's operations in order (the
// *_round_ps intrinsics cannot be contracted into FMAs), which makes every output equal vec_dot_scalar bit
// for bit.
//
// Cost per block and (32 rows × 6 tokens) tile: 96 vpdpbusd and 12–24 float multiplies, which share
// Zen 4's two 512-bit multiply pipes; the conversion, additions and loads run beside them.

// GCC 12 reports the _mm512_undefined_* placeholders inside its own intrinsics as (maybe-)uninitialized
// (GCC bug 105593); the warning is about the header, not this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"
#include "engine/quant/blocks.h"
#include "engine/quant/gemm_avx512.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {
namespace {

using namespace gemm_simd;

constexpr int kTok = kGemmTokensQ8;  // tokens per tile row of 12 (two panels take 6 at a time)

enum class Kind { I8, Q8_0, Q4_0 };

// ---- Weight panel: per block 8 zmm of quants, then (q8_0, q4_0) 16 f32 block scales; for i8 the 16 row
// scales follow the last block. ----
size_t panel_block_bytes(Kind k) { return 8 * 64 + (k == Kind::I8 ? 0 : 64); }

// Where block b of a stored row starts: i8 rows are an f32 scale and 32-byte groups of quants.
template <Kind K>
constexpr size_t block_stride() {
  return K == Kind::I8 ? kQK : K == Kind::Q8_0 ? sizeof(BlockQ8_0) : sizeof(BlockQ4_0);
}
template <Kind K>
constexpr size_t block_offset(int64_t b) {
  return (K == Kind::I8 ? 4 : 0) + block_stride<K>() * static_cast<size_t>(b);
}

template <Kind K>
void pack_panel(const uint8_t* const rows[kRows], int64_t nb, uint8_t* out) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i nibble_shift = _mm256_setr_epi64x(0, 0, 4, 4);  // upper 16 bytes: high nibbles
  const size_t pbb = panel_block_bytes(K);
  for (int64_t b = 0; b < nb; ++b, out += pbb) {
    __m256i q[kRows];
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* blk = rows[r] + block_offset<K>(b);
      // 16 rows are 16 streams, more than the hardware prefetcher follows: fetch 512 bytes ahead, into L2
      // (rows a few KiB apart share L1 sets; measured 5-25% faster than into L1).
      _mm_prefetch(reinterpret_cast<const char*>(blk) + 512, _MM_HINT_T1);
      if constexpr (K == Kind::Q4_0) {
        const __m256i packed =
            _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
        q[r] = _mm256_and_si256(_mm256_srlv_epi64(packed, nibble_shift), low4);
      } else {
        q[r] = _mm256_xor_si256(load256(K == Kind::I8 ? blk : blk + 2), flip);
      }
    }
    __m512i t[8];
    transpose16x8(q, t);
    for (int c = 0; c < 8; ++c) _mm512_store_si512(out + 64 * c, t[c]);
    if constexpr (K != Kind::I8)
      _mm512_store_ps(out + 512, _mm512_cvtph_ps(gather_u16(rows, block_offset<K>(b))));
  }
  if constexpr (K == Kind::I8) {
    alignas(64) float scale[kRows];
    for (int r = 0; r < kRows; ++r) std::memcpy(&scale[r], rows[r], 4);
    std::memcpy(out, scale, sizeof(scale));
  }
}

// ---- Activation tiles: per block, rn × 32 quant bytes (token-major, so a token's 4 bytes are at a constant
// offset), rn int32 start values (−128·Σa, or −8·Σa for q4_0), rn f32 scales. ----
size_t act_block_bytes(int rn) { return static_cast<size_t>(rn) * (kQK + 8); }

void pack_acts(Kind k, const uint8_t* act, size_t act_row_bytes, int rn, int64_t nb, uint8_t* out) {
  const int offset_shift = k == Kind::Q4_0 ? 3 : 7;
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; ++b, out += act_block_bytes(rn)) {
    auto* start = reinterpret_cast<int32_t*>(out + rn * kQK);
    auto* scale = reinterpret_cast<float*>(start + rn);
    for (int t = 0; t < rn; ++t) {
      const auto* blk = reinterpret_cast<const BlockQ8_0*>(act + t * act_row_bytes) + b;
      const __m256i a = load256(blk->qs);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + kQK * t), a);
      // Σ (a + 128) by vpsadbw against zero, then − 32·128.
      const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(a, flip), _mm256_setzero_si256());
      const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      const int sum = static_cast<int>(_mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1)) - 32 * 128;
      start[t] = -sum * (1 << offset_shift);
      scale[t] = _cvtsh_ss(blk->d);
    }
  }
}

// ---- The kernel: RV panels of 16 rows × RN tokens over all blocks, results stored to y. ----

// Tokens [t0, t0 + RN) of a packed tile of rn tokens.
struct ActView {
  const uint8_t* q;      // token t0's quants of block 0
  const uint8_t* start;  // its start value of block 0
  const uint8_t* scale;  // its scale of block 0
  size_t block_bytes;    // from one block to the next

  ActView(const uint8_t* tile, int rn, int t0)
      : q(tile + kQK * t0),
        start(tile + kQK * rn + 4 * t0),
        scale(tile + (kQK + 4) * rn + 4 * t0),
        block_bytes(act_block_bytes(rn)) {}
};

template <Kind K, int RV, int RN>
void tile(const uint8_t* panel, size_t panel_bytes, ActView a, int64_t nb, float* y, int64_t ldy,
          __mmask16 last_mask, RowPrefetcher* next) {
  const size_t pbb = panel_block_bytes(K);
  __m512 sum[RV][RN];
  for (int v = 0; v < RV; ++v)
    for (int t = 0; t < RN; ++t) sum[v][t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    next->step();
    const uint8_t* p = panel + b * pbb;
    const auto* aq = reinterpret_cast<const int32_t*>(a.q + b * a.block_bytes);
    const auto* start = reinterpret_cast<const int32_t*>(a.start + b * a.block_bytes);
    const auto* da = reinterpret_cast<const float*>(a.scale + b * a.block_bytes);
    __m512i acc[RV][RN];
#pragma GCC unroll 16
    for (int t = 0; t < RN; ++t) {
      const __m512i s = _mm512_set1_epi32(start[t]);
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) acc[v][t] = s;
    }
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      __m512i w[RV];
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) w[v] = _mm512_load_si512(p + v * panel_bytes + 64 * c);
#pragma GCC unroll 16
      for (int t = 0; t < RN; ++t) {
        const __m512i at = _mm512_set1_epi32(aq[8 * t + c]);
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) acc[v][t] = _mm512_dpbusd_epi32(acc[v][t], w[v], at);
      }
    }
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      if constexpr (K == Kind::Q8_0) {  // sumi · (dw · da)
        const __m512 dw = _mm512_load_ps(p + v * panel_bytes + 512);
#pragma GCC unroll 16
        for (int t = 0; t < RN; ++t)
          sum[v][t] = add(sum[v][t], mul(_mm512_cvtepi32_ps(acc[v][t]), mul(dw, _mm512_set1_ps(da[t]))));
      } else if constexpr (K == Kind::Q4_0) {  // (sumi · dw) · da
        const __m512 dw = _mm512_load_ps(p + v * panel_bytes + 512);
#pragma GCC unroll 16
        for (int t = 0; t < RN; ++t)
          sum[v][t] = add(sum[v][t], mul(mul(_mm512_cvtepi32_ps(acc[v][t]), dw), _mm512_set1_ps(da[t])));
      } else {  // sumi · da, times the row scale at the end
#pragma GCC unroll 16
        for (int t = 0; t < RN; ++t)
          sum[v][t] = add(sum[v][t], mul(_mm512_cvtepi32_ps(acc[v][t]), _mm512_set1_ps(da[t])));
      }
    }
  }
  for (int v = 0; v < RV; ++v) {
    if constexpr (K == Kind::I8) {
      const __m512 scale = _mm512_load_ps(panel + v * panel_bytes + nb * pbb);
      for (int t = 0; t < RN; ++t) sum[v][t] = mul(sum[v][t], scale);
    }
    const __mmask16 mask = v == RV - 1 ? last_mask : static_cast<__mmask16>(0xFFFF);
    for (int t = 0; t < RN; ++t) _mm512_mask_storeu_ps(y + t * ldy + kRows * v, mask, sum[v][t]);
  }
}

using TileFn = void (*)(const uint8_t*, size_t, ActView, int64_t, float*, int64_t, __mmask16, RowPrefetcher*);

// Two panels (32 rows) × 6 tokens per tile where the rows allow, else one panel × 12 tokens. Measured on
// Zen 4: 2 × 6 runs 12-15% faster than 1 × 12 (half the broadcast loads per vpdpbusd); 3 × 4 and 4 × 3 are
// slower again.
constexpr int kPanels = 2;
constexpr int kTokPerRV[kPanels] = {kTok, kTok / 2};

template <Kind K, int RV, size_t... I>
constexpr std::array<TileFn, kTok> tiles_rv(std::index_sequence<I...>) {
  return {&tile<K, RV, std::min(static_cast<int>(I) + 1, kTokPerRV[RV - 1])>...};
}

// Scratch of the calling thread, shared by the formats of this file: repacked activations and panels.
thread_local std::vector<Line> act_buf, panel_buf;

template <Kind K>
void gemm(int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows, const uint8_t* act,
          size_t act_row_bytes, int64_t T, float* y, int64_t ldy) {
  static constexpr std::array<std::array<TileFn, kTok>, kPanels> kTiles = {
      tiles_rv<K, 1>(std::make_index_sequence<kTok>()), tiles_rv<K, 2>(std::make_index_sequence<kTok>())};
  const int64_t nb = n / kQK;
  const int64_t ntiles = (T + kTok - 1) / kTok;
  const size_t tile_bytes = static_cast<size_t>(nb) * act_block_bytes(kTok);
  // Every tile of tokens converted once per call (reused by all panels).
  uint8_t* acts = scratch(act_buf, static_cast<size_t>(ntiles) * tile_bytes);
  for (int64_t i = 0; i < ntiles; ++i) {
    const int rn = static_cast<int>(std::min<int64_t>(kTok, T - i * kTok));
    pack_acts(K, act + i * kTok * act_row_bytes, act_row_bytes, rn, nb, acts + i * tile_bytes);
  }
  const size_t panel_bytes = static_cast<size_t>(nb) * panel_block_bytes(K) + 64;
  uint8_t* panels = scratch(panel_buf, kPanels * panel_bytes);
  RowPrefetcher next;
  for (int64_t r0 = 0; r0 < nrows; r0 += kPanels * kRows) {
    const int64_t rows = std::min<int64_t>(kPanels * kRows, nrows - r0);
    const int rv = static_cast<int>((rows + kRows - 1) / kRows);
    for (int v = 0; v < rv; ++v) {
      const int64_t first = r0 + kRows * v, count = std::min<int64_t>(kRows, nrows - first);
      const uint8_t* row_ptr[kRows];
      for (int r = 0; r < kRows; ++r)
        row_ptr[r] = W + (first + std::min<int64_t>(r, count - 1)) * w_row_bytes;
      pack_panel<K>(row_ptr, nb, panels + v * panel_bytes);
    }
    const int last_rows = static_cast<int>(rows - kRows * (rv - 1));
    const auto mask = static_cast<__mmask16>((1u << last_rows) - 1);
    const int step = kTokPerRV[rv - 1];
    const int64_t calls = (T / kTok) * ((kTok + step - 1) / step) + (T % kTok + step - 1) / step;
    const int64_t next_first = r0 + kPanels * kRows;
    const int64_t next_rows = std::max<int64_t>(0, std::min<int64_t>(kPanels * kRows, nrows - next_first));
    next.reset(next_rows > 0 ? W + next_first * w_row_bytes : nullptr, w_row_bytes, block_offset<K>(nb),
               next_rows, calls * nb);
    for (int64_t i = 0; i < ntiles; ++i) {
      const int rn = static_cast<int>(std::min<int64_t>(kTok, T - i * kTok));
      for (int t0 = 0; t0 < rn; t0 += step) {
        const int m = std::min(step, rn - t0);
        kTiles[rv - 1][m - 1](panels, panel_bytes, ActView(acts + i * tile_bytes, rn, t0), nb,
                              y + (i * kTok + t0) * ldy + r0, ldy, mask, &next);
      }
    }
  }
}

}  // namespace

void gemm_q8_avx512(Format f, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
                    const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy) {
  switch (f) {
    case Format::I8:
      return gemm<Kind::I8>(n, W, w_row_bytes, nrows, act, act_row_bytes, T, y, ldy);
    case Format::Q8_0:
      return gemm<Kind::Q8_0>(n, W, w_row_bytes, nrows, act, act_row_bytes, T, y, ldy);
    case Format::Q4_0:
      return gemm<Kind::Q4_0>(n, W, w_row_bytes, nrows, act, act_row_bytes, T, y, ldy);
    default:
      G4_CHECK(false, "gemm_q8_avx512: not a 32-block format");
  }
}

}  // namespace g4::quant::detail
