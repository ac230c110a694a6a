// One decoder layer (spec §2.4): sandwich norms, gated GeLU MLP, ×layer_scalar on the whole stream.
#include <string>

#include "core/error.h"
#include "reference/decoder.h"
#include "reference/ops.h"

namespace g4::reference {

std::vector<float> decoder_layer(const ChunkContext& c, const LayerWeights& w, std::vector<float> h,
                                 int64_t T, KvCache& cache) {
  const TextConfig& cfg = *c.cfg;
  const Precision p = c.precision;
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  const float eps = static_cast<float>(cfg.rms_norm_eps);
  const std::string pre = "layers." + std::to_string(c.layer) + ".";
  G4_CHECK(static_cast<int64_t>(h.size()) == T * H, "decoder_layer: h size");

  std::vector<float> x = h;
  rmsnorm_rows(x, H, w.input_norm, eps, p);
  emit(c.trace, pre + "attn_in", {T, H}, x);
  std::vector<float> a = attention(c, w, x, T, cache);
  rmsnorm_rows(a, H, w.post_attn_norm, eps, p);
  emit(c.trace, pre + "attn_out", {T, H}, a);
  for (size_t n = 0; n < h.size(); ++n) h[n] = at_boundary(p, h[n] + a[n]);
  emit(c.trace, pre + "mid", {T, H}, h);

  x = h;
  rmsnorm_rows(x, H, w.pre_ffn_norm, eps, p);
  emit(c.trace, pre + "ffn_in", {T, H}, x);
  std::vector<float> gate = linear(x, T, H, w.gate_proj, I, p);
  const std::vector<float> up = linear(x, T, H, w.up_proj, I, p);
  // Two bf16 ops as in HF: act_fn(gate) is rounded, then the product with up is rounded.
  for (size_t n = 0; n < gate.size(); ++n)
    gate[n] = at_boundary(p, at_boundary(p, gelu_tanh(gate[n])) * up[n]);
  emit(c.trace, pre + "ffn_act", {T, I}, gate);
  std::vector<float> m = linear(gate, T, I, w.down_proj, H, p);
  rmsnorm_rows(m, H, w.post_ffn_norm, eps, p);
  emit(c.trace, pre + "ffn_out", {T, H}, m);
  for (size_t n = 0; n < h.size(); ++n) h[n] = at_boundary(p, at_boundary(p, h[n] + m[n]) * w.layer_scalar);
  emit(c.trace, pre + "out", {T, H}, h);
  return h;
}

}  // namespace g4::reference
