#include "reference/weights.h"

#include <string>

#include "core/error.h"

namespace g4::reference {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

class Loader {
 public:
  Loader(const WeightSet& ws, Precision p) : ws_(ws), p_(p) {}

  std::vector<float> get(const std::string& name, const std::vector<int64_t>& shape) const {
    const TensorView& t = ws_.get(name);
    if (t.shape != shape)
      fail_input(ws_.dir().string(), "tensor " + name + " has shape " + shape_str(t.shape) + ", expected " +
                                         shape_str(shape) + " from config.json");
    std::vector<float> v = to_f32(t);
    for (float& x : v) x = at_boundary(p_, x);
    return v;
  }
  bool has(const std::string& name) const { return ws_.find(name) != nullptr; }
  const TensorView& view(const std::string& name) const { return ws_.get(name); }

 private:
  const WeightSet& ws_;
  Precision p_;
};

LayerWeights load_layer(const ModelConfig& cfg, const Loader& L, int64_t i) {
  const TextConfig& t = cfg.text;
  const int64_t H = t.hidden_size, I = t.intermediate_size, Hq = t.num_attention_heads;
  const int64_t D = t.layer_head_dim(i), Hkv = t.layer_kv_heads(i);
  const std::string pre = "model.language_model.layers." + std::to_string(i) + ".";
  LayerWeights w;
  w.input_norm = L.get(pre + "input_layernorm.weight", {H});
  w.post_attn_norm = L.get(pre + "post_attention_layernorm.weight", {H});
  w.pre_ffn_norm = L.get(pre + "pre_feedforward_layernorm.weight", {H});
  w.post_ffn_norm = L.get(pre + "post_feedforward_layernorm.weight", {H});
  w.layer_scalar = L.get(pre + "layer_scalar", {1})[0];
  w.q_proj = L.get(pre + "self_attn.q_proj.weight", {Hq * D, H});
  w.k_proj = L.get(pre + "self_attn.k_proj.weight", {Hkv * D, H});
  if (t.layer_has_v_proj(i)) w.v_proj = L.get(pre + "self_attn.v_proj.weight", {Hkv * D, H});
  w.o_proj = L.get(pre + "self_attn.o_proj.weight", {H, Hq * D});
  w.q_norm = L.get(pre + "self_attn.q_norm.weight", {D});
  w.k_norm = L.get(pre + "self_attn.k_norm.weight", {D});
  w.gate_proj = L.get(pre + "mlp.gate_proj.weight", {I, H});
  w.up_proj = L.get(pre + "mlp.up_proj.weight", {I, H});
  w.down_proj = L.get(pre + "mlp.down_proj.weight", {H, I});
  return w;
}

VisionWeights load_vision(const ModelConfig& cfg, const Loader& L) {
  VisionWeights v;
  const std::string dense = "model.vision_embedder.patch_dense.weight";
  if (!L.has(dense)) return v;
  const int64_t H = cfg.text.hidden_size, P = cfg.vision.patch_dim(), E = cfg.vision.mm_embed_dim;
  const int64_t N = cfg.vision.mm_posemb_size;
  const std::string pre = "model.vision_embedder.";
  v.present = true;
  v.embed_dim = E;
  v.ln1_w = L.get(pre + "patch_ln1.weight", {P});
  v.ln1_b = L.get(pre + "patch_ln1.bias", {P});
  v.dense_w = L.get(dense, {E, P});
  v.dense_b = L.get(pre + "patch_dense.bias", {E});
  v.ln2_w = L.get(pre + "patch_ln2.weight", {E});
  v.ln2_b = L.get(pre + "patch_ln2.bias", {E});
  v.pos_norm_w = L.get(pre + "pos_norm.weight", {E});
  v.pos_norm_b = L.get(pre + "pos_norm.bias", {E});
  v.pos_embedding = L.get(pre + "pos_embedding", {N, 2, E});
  v.projection = L.get("model.embed_vision.embedding_projection.weight", {H, E});
  return v;
}

}  // namespace

ModelWeights load_weights(const ModelConfig& cfg, const WeightSet& ws, Precision p) {
  const Loader L(ws, p);
  const TextConfig& t = cfg.text;
  ModelWeights w;
  w.embed = L.get("model.language_model.embed_tokens.weight", {t.vocab_size, t.hidden_size});
  w.final_norm = L.get("model.language_model.norm.weight", {t.hidden_size});
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) w.layers.push_back(load_layer(cfg, L, i));
  w.vision = load_vision(cfg, L);
  const std::string audio = "model.embed_audio.embedding_projection.weight";
  if (L.has(audio)) {
    w.audio.present = true;
    w.audio.projection = L.get(audio, {t.hidden_size, cfg.audio.audio_embed_dim});
  }
  return w;
}

}  // namespace g4::reference
