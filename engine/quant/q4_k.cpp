// q4_k: super-blocks of 256 = 8 sub-blocks of 32, each w = d·sc·q - dmin·m with q in 0..15 and 6-bit sc, m.
// The quantizer is llama.cpp's quantize_row_q4_K_ref: per sub-block a weighted least-squares fit of scale and
// min (make_qkx2_quants: weights av_x + |x|, nmax 15, rmin -1, rdelta 0.1, nstep 20, squared error), then
// the 8 scales and 8 mins quantized to 6 bits against their maxima, then q recomputed from the stored scales.
// Every float expression keeps ggml's operand order: the bytes depend on it.
#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "engine/quant/blocks.h"
#include "engine/quant/exact_fp.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {
namespace {

// Fits x ≈ scale·L + min (min <= 0) over n values; returns scale, stores -min in *neg_min and L in 0..nmax.
float fit_scale_min(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* neg_min,
                    uint8_t* Laux, float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *neg_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * L[i] + min - x[i];
    diff = diff * diff;
    best_error += weights[i] * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    // `min` may have moved in an earlier step: ggml rescans with the current best min, and so do we.
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min))));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        std::copy(Laux, Laux + n, L);
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *neg_min = -min;
  return scale;
}

void quantize_super_block(const float* x, BlockQ4K& y) {
  uint8_t L[kQK_K];
  uint8_t Laux[32];
  float weights[32];
  float mins[8], scales[8];
  float max_scale = 0, max_min = 0;  // the scales are positive since the min is subtracted
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = fit_scale_min(32, 15, xs, weights, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }

  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < 8; ++j) {
    // ggml stores nearest_int into a uint8_t before clamping; the wrap is kept.
    const auto ls = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    const auto lm = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    if (j < 4) {
      y.scales[j] = ls;
      y.scales[j + 4] = lm;
    } else {
      y.scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      y.scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      y.scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  y.d = f32_to_f16(max_scale / 63.f);
  y.dmin = f32_to_f16(max_min / 63.f);

  // Requantize against the stored 6-bit scales; a sub-block whose scale rounded to 0 keeps the fit's L.
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min(j, y.scales, &sc, &m);
    const float d = f16_to_f32(y.d) * sc;
    if (d == 0.0f) continue;
    const float dm = f16_to_f32(y.dmin) * m;
    for (int i = 0; i < 32; ++i) {
      const int l = nearest_int((x[32 * j + i] + dm) / d);
      L[32 * j + i] = static_cast<uint8_t>(std::max(0, std::min(15, l)));
    }
  }
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l)
      y.qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
}

}  // namespace

void quantize_q4_k(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ4K*>(out);
  for (int64_t b = 0; b < n / kQK_K; ++b) quantize_super_block(x + b * kQK_K, y[b]);
}

void dequantize_q4_k(const void* in, float* y, int64_t n) {
  const auto* x = static_cast<const BlockQ4K*>(in);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = f16_to_f32(x[b].d);
    const float min = f16_to_f32(x[b].dmin);
    const uint8_t* q = x[b].qs;
    for (int c = 0; c < 4; ++c, q += 32) {
      uint8_t sc, m;
      get_scale_min(2 * c, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min(2 * c + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

}  // namespace g4::quant::detail
