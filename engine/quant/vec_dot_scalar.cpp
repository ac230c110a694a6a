// Plain-loop dot products, the oracle of the fast kernels. The block formats follow llama.cpp's generic
// ggml_vec_dot_*_q8_* exactly: an integer sum per block, then one float multiply-add by the block scales
// (for the k-quants, 8 lane accumulators `sums[l]` as in ggml, with the min term subtracted block by block).
#include <cstring>

#include "core/dtype.h"
#include "engine/quant/blocks.h"
#include "engine/quant/exact_fp.h"
#include "engine/quant/kernels.h"

namespace g4::quant::detail {

float dot_f32_scalar(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  float sum = 0.0f;
  for (int64_t k = 0; k < n; ++k) sum += x[k] * y[k];
  return sum;
}

float dot_bf16_scalar(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const bf16_t*>(w);
  const auto* y = static_cast<const bf16_t*>(a);
  float sum = 0.0f;
  for (int64_t k = 0; k < n; ++k) sum += bf16_to_f32(x[k]) * bf16_to_f32(y[k]);
  return sum;
}

float dot_i8_q8_0_scalar(int64_t n, const void* w, const void* a) {
  const auto* bytes = static_cast<const uint8_t*>(w);
  float scale;
  std::memcpy(&scale, bytes, sizeof(scale));
  const auto* q = reinterpret_cast<const int8_t*>(bytes + sizeof(float));
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b, q += kQK) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += q[j] * y[b].qs[j];
    sumf += static_cast<float>(sumi) * f16_to_f32(y[b].d);
  }
  return sumf * scale;
}

float dot_q8_0_q8_0_scalar(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += x[b].qs[j] * y[b].qs[j];
    sumf += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
  }
  return sumf;
}

float dot_q4_0_q8_0_scalar(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / kQK; ++b) {
    int sumi0 = 0, sumi1 = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi0 += ((x[b].qs[j] & 0x0F) - 8) * y[b].qs[j];
      sumi1 += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + kQK / 2];
    }
    sumf += static_cast<float>(sumi0 + sumi1) * f16_to_f32(x[b].d) * f16_to_f32(y[b].d);
  }
  return sumf;
}

float dot_q4_k_q8_k_scalar(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4K*>(w);
  const auto* y = static_cast<const BlockQ8K*>(a);
  float sums[8] = {};
  float sumf = 0.0f;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int8_t q[kQK_K];
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        q[64 * c + l] = static_cast<int8_t>(x[b].qs[32 * c + l] & 0xF);
        q[64 * c + 32 + l] = static_cast<int8_t>(x[b].qs[32 * c + l] >> 4);
      }
    }
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; ++j) get_scale_min(j, x[b].scales, &sc[j], &mn[j]);
    int summ = 0;
    for (int g = 0; g < 16; ++g) summ += y[b].bsums[g] * mn[g / 2];
    int32_t aux32[8] = {};
    for (int k = 0; k < kQK_K; ++k) aux32[k % 8] += sc[k / 32] * (q[k] * y[b].qs[k]);
    const float d = f16_to_f32(x[b].d) * y[b].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux32[l]);
    const float dmin = f16_to_f32(x[b].dmin) * y[b].d;
    sumf -= dmin * static_cast<float>(summ);
  }
  for (float s : sums) sumf += s;
  return sumf;
}

float dot_q6_k_q8_k_scalar(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6K*>(w);
  const auto* y = static_cast<const BlockQ8K*>(a);
  float sums[8] = {};
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    int8_t q[kQK_K];
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[b].ql + 64 * h;
      const uint8_t* qh = x[b].qh + 32 * h;
      int8_t* qq = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        qq[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        qq[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        qq[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        qq[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int32_t aux32[8] = {};
    for (int k = 0; k < kQK_K; ++k) aux32[k % 8] += x[b].scales[k / 16] * (q[k] * y[b].qs[k]);
    const float d = f16_to_f32(x[b].d) * y[b].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * static_cast<float>(aux32[l]);
  }
  float sumf = 0.0f;
  for (float s : sums) sumf += s;
  return sumf;
}

}  // namespace g4::quant::detail
