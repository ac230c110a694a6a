// Attention of one layer (spec §2.5): q/k norm + RoPE, v_norm, k_eq_v, GQA, scale 1.0, mask §2.7.
#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"
#include "reference/decoder.h"
#include "reference/ops.h"

namespace g4::reference {

bool key_visible(int64_t i, int64_t j, bool sliding, int64_t window, std::span<const int64_t> block_of) {
  const bool causal = j <= i && (!sliding || i - j < window);
  const bool same_block = block_of[static_cast<size_t>(i)] >= 0 &&
                          block_of[static_cast<size_t>(i)] == block_of[static_cast<size_t>(j)];
  return causal || same_block;
}

std::vector<float> attention(const ChunkContext& c, const LayerWeights& w, std::span<const float> x,
                             int64_t T, KvCache& cache) {
  const TextConfig& cfg = *c.cfg;
  const Precision p = c.precision;
  const int64_t H = cfg.hidden_size, Hq = cfg.num_attention_heads;
  const int64_t D = cfg.layer_head_dim(c.layer), Hkv = cfg.layer_kv_heads(c.layer);
  const bool sliding = !cfg.is_full(c.layer);
  const float eps = static_cast<float>(cfg.rms_norm_eps);
  const std::string pre = "layers." + std::to_string(c.layer) + ".";
  G4_CHECK(Hkv > 0 && Hq % Hkv == 0, "attention: heads");
  G4_CHECK(cache.len == c.pos0, "attention: cache length must equal pos0");

  // Projections. Full layers with k_eq_v take V from the RAW k_proj output (before k_norm and RoPE).
  std::vector<float> q = linear(x, T, H, w.q_proj, Hq * D, p);
  std::vector<float> k = linear(x, T, H, w.k_proj, Hkv * D, p);
  std::vector<float> v = w.v_proj.empty() ? k : linear(x, T, H, w.v_proj, Hkv * D, p);

  rmsnorm_rows(q, D, w.q_norm, eps, p);  // per head over D, one weight shared by all heads
  rmsnorm_rows(k, D, w.k_norm, eps, p);
  rmsnorm_rows(v, D, {}, eps, p);  // v_norm: no scale, no RoPE
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < Hq; ++h)
      rope_row(std::span<float>(q).subspan(static_cast<size_t>((t * Hq + h) * D), static_cast<size_t>(D)),
               c.inv_freq, c.pos0 + t, p);
    for (int64_t h = 0; h < Hkv; ++h)
      rope_row(std::span<float>(k).subspan(static_cast<size_t>((t * Hkv + h) * D), static_cast<size_t>(D)),
               c.inv_freq, c.pos0 + t, p);
  }
  emit(c.trace, pre + "q", {T, Hq, D}, q);
  emit(c.trace, pre + "k", {T, Hkv, D}, k);
  emit(c.trace, pre + "v", {T, Hkv, D}, v);

  cache.k.insert(cache.k.end(), k.begin(), k.end());
  cache.v.insert(cache.v.end(), v.begin(), v.end());
  cache.len += T;
  const int64_t L = cache.len;
  const int64_t group = Hq / Hkv;  // repeat_kv: query head h reads kv head h / group

  std::vector<float> o(static_cast<size_t>(T * Hq * D));
  parallel_for(T * Hq, [&](int64_t r0, int64_t r1) {
    std::vector<float> probs(static_cast<size_t>(L));
    std::vector<char> visible(static_cast<size_t>(L));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t t = r / Hq, h = r % Hq, kvh = h / group, i = c.pos0 + t;
      const float* qi = q.data() + (t * Hq + h) * D;
      // Scores: bf16(q·k) with scaling 1.0. Masked keys are skipped: HF adds bf16-min, whose exp(min - max)
      // underflows to exactly 0 in fp32, so skipping them gives the same max, sum and output.
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < L; ++j) {
        visible[j] = key_visible(i, j, sliding, cfg.sliding_window, c.block_of);
        if (!visible[j]) continue;
        const float* kj = cache.k.data() + (j * Hkv + kvh) * D;
        float s = 0.f;
        for (int64_t d = 0; d < D; ++d) s += qi[d] * kj[d];
        probs[j] = at_boundary(p, s);
        if (probs[j] > mx) mx = probs[j];
      }
      // Softmax in fp32, probabilities rounded to bf16.
      float sum = 0.f;
      for (int64_t j = 0; j < L; ++j) {
        if (!visible[j]) continue;
        probs[j] = std::exp(probs[j] - mx);
        sum += probs[j];
      }
      for (int64_t j = 0; j < L; ++j)
        if (visible[j]) probs[j] = at_boundary(p, probs[j] / sum);
      // o = bf16(p @ v), j ascending.
      float* oi = o.data() + (t * Hq + h) * D;
      for (int64_t d = 0; d < D; ++d) {
        float acc = 0.f;
        for (int64_t j = 0; j < L; ++j)
          if (visible[j]) acc += probs[j] * cache.v[(j * Hkv + kvh) * D + d];
        oi[d] = at_boundary(p, acc);
      }
    }
  });
  emit(c.trace, pre + "attn", {T, Hq * D}, o);
  return linear(o, T, Hq * D, w.o_proj, H, p);
}

}  // namespace g4::reference
