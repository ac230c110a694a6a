// AVX-512 VNNI GEMM of the k-quants (q4_k, q6_k) with q8_k activations.
//
// The layout of gemm_q8_avx512.cpp: int32 lane = output (row, token), panels of 16 weight rows repacked
// once (unsigned quants in element order, 4 per lane), tiles of 2 panels × 6 tokens whose 4 activation
// bytes are broadcast. Per sub-block the lanes hold the exact Σ q·a; `vpmulld` by the sub-block scale and an
// integer add give the super-block's exact Σ sc·q·a. q6_k's −32 offset is folded into each sub-block's start
// value (−32 · bsums); q4_k's min term Σ m·bsums is one `vpdpwssd` per two sub-blocks. The float part per
// super-block: S = S + (dx·dy)·sumi, and for q4_k S = S − (dmin·dy)·summ (gemm_rows_scalar's order).
//
// A lane needs a sub-block and a super-block accumulator (24 registers for 12 pairs of vectors), so the
// float sums stay in memory, touched once per super-block. Cost per super-block and pair of vectors,
// against 64 vpdpbusd: q4_k 8 vpmulld + 4 vpdpwssd + 4 multiplies, q6_k 16 vpmulld + 2 multiplies (all on
// Zen 4's two multiply pipes).

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

constexpr int kTok = kGemmTokensK;

enum class Kind { Q4_K, Q6_K };

// ---- Weight panel, per super-block: 64 zmm of quants (4 KiB: sub-block j's 4-byte groups at
// 64·(j·G + c), G = 8 for q4_k's 32-element sub-blocks, 4 for q6_k's 16), then int32 sub-block scales (one
// zmm per sub-block), for q4_k 4 zmm of min pairs (m_2i | m_2i+1 << 16) and zmm d, dmin; for q6_k zmm d. ----
constexpr size_t kQuantBytes = 64 * 64;
constexpr size_t panel_sb_bytes(Kind k) {
  return k == Kind::Q4_K ? kQuantBytes + 512 + 256 + 128 : kQuantBytes + 1024 + 64;
}

// Panel vectors are element / 4: lane r holds elements 4i..4i+3 of row r in vector i. The packed quants are
// transposed as they are (32 bytes of 16 rows at a time), then split into nibbles and bits.
void pack_q4_k(const uint8_t* const rows[kRows], int64_t b, uint8_t* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const size_t base = sizeof(BlockQ4K) * b;
  auto* q = reinterpret_cast<__m512i*>(out);
  for (int c = 0; c < 4; ++c) {  // qs[32c + l]: element 64c + l in the low nibble, 64c + 32 + l in the high
    __m512i t[8];
    load_transposed(rows, base + offsetof(BlockQ4K, qs) + 32 * c, t);
    for (int k = 0; k < 8; ++k) {
      _mm512_store_si512(q + 16 * c + k, _mm512_and_si512(t[k], low4));
      _mm512_store_si512(q + 16 * c + 8 + k, _mm512_and_si512(_mm512_srli_epi16(t[k], 4), low4));
    }
  }
  // Scales and mins: ggml's mask shuffle turns the 12 bytes into [sc0..sc7, m0..m7] per row.
  alignas(16) uint8_t unpacked[kRows][16];
  const uint8_t* unpacked_rows[kRows];
  for (int r = 0; r < kRows; ++r) {
    const auto& x = *reinterpret_cast<const BlockQ4K*>(rows[r] + base);
    uint32_t u[4];
    std::memcpy(u, x.scales, 12);
    u[3] = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
    const uint32_t mins_lo = u[1] & 0x3f3f3f3f;
    u[1] = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
    u[2] = mins_lo;
    u[0] &= 0x3f3f3f3f;
    std::memcpy(unpacked[r], u, 16);
    unpacked_rows[r] = unpacked[r];
  }
  __m512i sm[16];
  transpose_bytes16<false>(unpacked_rows, 0, sm);
  auto* scales = reinterpret_cast<__m512i*>(out + kQuantBytes);
  for (int j = 0; j < 8; ++j) _mm512_store_si512(scales + j, sm[j]);
  for (int i = 0; i < 4; ++i)  // min pairs m_2i | m_2i+1 << 16
    _mm512_store_si512(scales + 8 + i, _mm512_or_si512(sm[8 + 2 * i], _mm512_slli_epi32(sm[9 + 2 * i], 16)));
  auto* d = reinterpret_cast<float*>(out + kQuantBytes + 768);
  _mm512_store_ps(d, _mm512_cvtph_ps(gather_u16(rows, base + offsetof(BlockQ4K, d))));
  _mm512_store_ps(d + 16, _mm512_cvtph_ps(gather_u16(rows, base + offsetof(BlockQ4K, dmin))));
}

void pack_q6_k(const uint8_t* const rows[kRows], int64_t b, uint8_t* out) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  const size_t base = sizeof(BlockQ6K) * b;
  auto* q = reinterpret_cast<__m512i*>(out);
  for (int h = 0; h < 2; ++h) {
    // Half h, index i of 128: low 4 bits from ql[64h + i % 64] (low nibble for i < 64), high 2 bits from
    // qh[32h + i % 32] at bit 2·(i / 32).
    __m512i l0[8], l1[8], hb[8];
    load_transposed(rows, base + offsetof(BlockQ6K, ql) + 64 * h, l0);
    load_transposed(rows, base + offsetof(BlockQ6K, ql) + 64 * h + 32, l1);
    load_transposed(rows, base + offsetof(BlockQ6K, qh) + 32 * h, hb);
    for (int k = 0; k < 8; ++k) {  // (A & B) | C = ternary logic 0xEA
      const __m512i i0 =
          _mm512_ternarylogic_epi32(_mm512_slli_epi16(hb[k], 4), bits45, _mm512_and_si512(l0[k], low4), 0xEA);
      const __m512i i1 =
          _mm512_ternarylogic_epi32(_mm512_slli_epi16(hb[k], 2), bits45, _mm512_and_si512(l1[k], low4), 0xEA);
      const __m512i i2 =
          _mm512_ternarylogic_epi32(hb[k], bits45, _mm512_and_si512(_mm512_srli_epi16(l0[k], 4), low4), 0xEA);
      const __m512i i3 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(hb[k], 2), bits45,
                                                   _mm512_and_si512(_mm512_srli_epi16(l1[k], 4), low4), 0xEA);
      _mm512_store_si512(q + 32 * h + k, i0);
      _mm512_store_si512(q + 32 * h + 8 + k, i1);
      _mm512_store_si512(q + 32 * h + 16 + k, i2);
      _mm512_store_si512(q + 32 * h + 24 + k, i3);
    }
  }
  __m512i sc[16];
  transpose_bytes16<true>(rows, base + offsetof(BlockQ6K, scales), sc);
  auto* scales = reinterpret_cast<__m512i*>(out + kQuantBytes);
  for (int j = 0; j < 16; ++j) _mm512_store_si512(scales + j, sc[j]);
  _mm512_store_ps(reinterpret_cast<float*>(out + kQuantBytes + 1024),
                  _mm512_cvtph_ps(gather_u16(rows, base + offsetof(BlockQ6K, d))));
}

void pack_panel(Kind k, const uint8_t* const rows[kRows], int64_t nsb, uint8_t* out) {
  const size_t psb = panel_sb_bytes(k), sb = k == Kind::Q4_K ? sizeof(BlockQ4K) : sizeof(BlockQ6K);
  for (int64_t b = 0; b < nsb; ++b, out += psb) {
    // 16 rows are 16 streams, more than the hardware prefetcher follows: fetch 4 super-blocks ahead, into
    // L2 (rows a few KiB apart share L1 sets; measured 5-25% faster than into L1).
    for (int r = 0; r < kRows; ++r)
      for (size_t off = 0; off < sb; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(rows[r]) + (b + 4) * sb + off, _MM_HINT_T1);
    if (k == Kind::Q4_K)
      pack_q4_k(rows, b, out);
    else
      pack_q6_k(rows, b, out);
  }
}

// ---- Activation tiles, per super-block: rn × 256 quant bytes (token-major), then q4_k: rn × 4 int16
// pairs of bsums summed per 32-element sub-block, (b'_2i | b'_2i+1 << 16); q6_k: rn × 16 int32 start
// values −32·bsums[j]; then rn f32 d. ----
constexpr size_t act_sb_bytes(Kind k, int rn) {
  return static_cast<size_t>(rn) * (kQK_K + (k == Kind::Q4_K ? 16 : 64) + 4);
}

void pack_acts(Kind k, const uint8_t* act, size_t act_row_bytes, int rn, int64_t nsb, uint8_t* out) {
  for (int64_t b = 0; b < nsb; ++b, out += act_sb_bytes(k, rn)) {
    auto* extra = reinterpret_cast<int32_t*>(out + rn * kQK_K);
    auto* d = reinterpret_cast<float*>(extra + rn * (k == Kind::Q4_K ? 4 : 16));
    for (int t = 0; t < rn; ++t) {
      const auto& y = reinterpret_cast<const BlockQ8K*>(act + t * act_row_bytes)[b];
      std::memcpy(out + kQK_K * t, y.qs, kQK_K);
      if (k == Kind::Q4_K) {
        for (int i = 0; i < 4; ++i) {
          const int lo = y.bsums[4 * i] + y.bsums[4 * i + 1], hi = y.bsums[4 * i + 2] + y.bsums[4 * i + 3];
          extra[4 * t + i] =
              static_cast<int32_t>(static_cast<uint16_t>(lo) | (static_cast<uint32_t>(hi) << 16));
        }
      } else {
        for (int j = 0; j < 16; ++j) extra[16 * t + j] = -32 * y.bsums[j];
      }
      d[t] = y.d;
    }
  }
}

// ---- The kernel: RV panels of 16 rows × RN tokens over all super-blocks, results stored to y. ----

constexpr size_t extra_bytes(Kind k) { return k == Kind::Q4_K ? 16 : 64; }  // per token and super-block

// Tokens [t0, t0 + RN) of a packed tile of rn tokens.
struct ActView {
  const uint8_t* q;      // token t0's quants of super-block 0
  const uint8_t* extra;  // its bsum pairs (q4_k) or start values (q6_k)
  const uint8_t* scale;  // its d
  size_t block_bytes;    // from one super-block to the next

  ActView(Kind k, const uint8_t* tile, int rn, int t0)
      : q(tile + kQK_K * t0),
        extra(tile + kQK_K * rn + extra_bytes(k) * t0),
        scale(tile + (kQK_K + extra_bytes(k)) * rn + 4 * t0),
        block_bytes(act_sb_bytes(k, rn)) {}
};

template <Kind K, int RV, int RN>
void tile(const uint8_t* panel, size_t panel_bytes, ActView a, int64_t nsb, float* y, int64_t ldy,
          __mmask16 last_mask, RowPrefetcher* next) {
  constexpr size_t psb = panel_sb_bytes(K);
  constexpr int kSub = K == Kind::Q4_K ? 8 : 16;  // sub-blocks per super-block
  constexpr int kChunks = 64 / kSub;              // 4-element groups per sub-block
  // The float sums live in memory: the integer accumulators need the registers, and each sum is touched
  // once per super-block.
  alignas(64) float sums[RV][RN][kRows] = {};
  for (int64_t b = 0; b < nsb; ++b) {
    next->step();
    const uint8_t* p = panel + b * psb;
    const auto* aq = reinterpret_cast<const int32_t*>(a.q + b * a.block_bytes);
    const auto* extra = reinterpret_cast<const int32_t*>(a.extra + b * a.block_bytes);
    const auto* dy = reinterpret_cast<const float*>(a.scale + b * a.block_bytes);
    __m512i isum[RV][RN], acc[RV][RN];
    for (int v = 0; v < RV; ++v)
      for (int t = 0; t < RN; ++t) isum[v][t] = _mm512_setzero_si512();
    for (int j = 0; j < kSub; ++j) {
#pragma GCC unroll 16
      for (int t = 0; t < RN; ++t) {
        // q6_k: start at −32·bsums[j] (the quants are stored as q + 32)
        const __m512i s = K == Kind::Q6_K ? _mm512_set1_epi32(extra[16 * t + j]) : _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) acc[v][t] = s;
      }
#pragma GCC unroll 8
      for (int c = 0; c < kChunks; ++c) {
        __m512i w[RV];
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) w[v] = _mm512_load_si512(p + v * panel_bytes + 64 * (kChunks * j + c));
#pragma GCC unroll 16
        for (int t = 0; t < RN; ++t) {
          const __m512i at = _mm512_set1_epi32(aq[64 * t + kChunks * j + c]);
#pragma GCC unroll 4
          for (int v = 0; v < RV; ++v) acc[v][t] = _mm512_dpbusd_epi32(acc[v][t], w[v], at);
        }
      }
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        const __m512i sc = _mm512_load_si512(p + v * panel_bytes + kQuantBytes + 64 * j);
#pragma GCC unroll 16
        for (int t = 0; t < RN; ++t)
          isum[v][t] = _mm512_add_epi32(isum[v][t], _mm512_mullo_epi32(acc[v][t], sc));
      }
    }
    if constexpr (K == Kind::Q4_K) {  // min term Σ m·bsums, two sub-blocks per vpdpwssd
#pragma GCC unroll 16
      for (int t = 0; t < RN; ++t)
        for (int v = 0; v < RV; ++v) acc[v][t] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        __m512i m[RV];
        for (int v = 0; v < RV; ++v)
          m[v] = _mm512_load_si512(p + v * panel_bytes + kQuantBytes + 512 + 64 * i);
#pragma GCC unroll 16
        for (int t = 0; t < RN; ++t) {
          const __m512i bt = _mm512_set1_epi32(extra[4 * t + i]);
          for (int v = 0; v < RV; ++v) acc[v][t] = _mm512_dpwssd_epi32(acc[v][t], m[v], bt);
        }
      }
    }
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) {
      const __m512 d = _mm512_load_ps(p + v * panel_bytes + kQuantBytes + (K == Kind::Q4_K ? 768 : 1024));
#pragma GCC unroll 16
      for (int t = 0; t < RN; ++t) {
        const __m512 dyt = _mm512_set1_ps(dy[t]);
        __m512 s = add(_mm512_load_ps(sums[v][t]), mul(_mm512_cvtepi32_ps(isum[v][t]), mul(d, dyt)));
        if constexpr (K == Kind::Q4_K) {
          const __m512 dmin = _mm512_load_ps(p + v * panel_bytes + kQuantBytes + 832);
          s = sub(s, mul(_mm512_cvtepi32_ps(acc[v][t]), mul(dmin, dyt)));
        }
        _mm512_store_ps(sums[v][t], s);
      }
    }
  }
  for (int v = 0; v < RV; ++v) {
    const __mmask16 mask = v == RV - 1 ? last_mask : static_cast<__mmask16>(0xFFFF);
    for (int t = 0; t < RN; ++t)
      _mm512_mask_storeu_ps(y + t * ldy + kRows * v, mask, _mm512_load_ps(sums[v][t]));
  }
}

using TileFn = void (*)(const uint8_t*, size_t, ActView, int64_t, float*, int64_t, __mmask16, RowPrefetcher*);

// Two panels (32 rows) × kTok/2 tokens per tile where the rows allow, else one panel × kTok tokens (see
// gemm_q8_avx512.cpp).
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
  const int64_t nsb = n / kQK_K;
  const int64_t ntiles = (T + kTok - 1) / kTok;
  const size_t tile_bytes = static_cast<size_t>(nsb) * act_sb_bytes(K, kTok);
  // Every tile of tokens converted once per call (reused by all panels).
  uint8_t* acts = scratch(act_buf, static_cast<size_t>(ntiles) * tile_bytes);
  for (int64_t i = 0; i < ntiles; ++i) {
    const int rn = static_cast<int>(std::min<int64_t>(kTok, T - i * kTok));
    pack_acts(K, act + i * kTok * act_row_bytes, act_row_bytes, rn, nsb, acts + i * tile_bytes);
  }
  const size_t panel_bytes = static_cast<size_t>(nsb) * panel_sb_bytes(K);
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
      pack_panel(K, row_ptr, nsb, panels + v * panel_bytes);
    }
    const int last_rows = static_cast<int>(rows - kRows * (rv - 1));
    const auto mask = static_cast<__mmask16>((1u << last_rows) - 1);
    const int step = kTokPerRV[rv - 1];
    const int64_t calls = (T / kTok) * ((kTok + step - 1) / step) + (T % kTok + step - 1) / step;
    const int64_t next_first = r0 + kPanels * kRows;
    const int64_t next_rows = std::max<int64_t>(0, std::min<int64_t>(kPanels * kRows, nrows - next_first));
    next.reset(next_rows > 0 ? W + next_first * w_row_bytes : nullptr, w_row_bytes,
               static_cast<size_t>(nsb) * (K == Kind::Q4_K ? sizeof(BlockQ4K) : sizeof(BlockQ6K)), next_rows,
               calls * nsb);
    for (int64_t i = 0; i < ntiles; ++i) {
      const int rn = static_cast<int>(std::min<int64_t>(kTok, T - i * kTok));
      for (int t0 = 0; t0 < rn; t0 += step) {
        const int m = std::min(step, rn - t0);
        kTiles[rv - 1][m - 1](panels, panel_bytes, ActView(K, acts + i * tile_bytes, rn, t0), nsb,
                              y + (i * kTok + t0) * ldy + r0, ldy, mask, &next);
      }
    }
  }
}

}  // namespace

void gemm_k_avx512(Format f, int64_t n, const uint8_t* W, size_t w_row_bytes, int64_t nrows,
                   const uint8_t* act, size_t act_row_bytes, int64_t T, float* y, int64_t ldy) {
  switch (f) {
    case Format::Q4_K:
      return gemm<Kind::Q4_K>(n, W, w_row_bytes, nrows, act, act_row_bytes, T, y, ldy);
    case Format::Q6_K:
      return gemm<Kind::Q6_K>(n, W, w_row_bytes, nrows, act, act_row_bytes, T, y, ldy);
    default:
      G4_CHECK(false, "gemm_k_avx512: not a k-quant format");
  }
}

}  // namespace g4::quant::detail
