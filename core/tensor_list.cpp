// Derived tensor list (spec §4.2). Shapes are PyTorch nn.Linear [out, in]; no lm_head (tied embeddings) and
// no v_norm weight (v is normalized without a scale).
#include "core/tensor_list.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace g4 {

std::string_view model_part_name(ModelPart p) {
  switch (p) {
    case ModelPart::Text:
      return "text";
    case ModelPart::Vision:
      return "vision";
    case ModelPart::Audio:
      return "audio";
    case ModelPart::kSentinel:
      break;
  }
  return "invalid";
}

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
  const TextConfig& t = c.text;
  const int64_t H = t.hidden_size, I = t.intermediate_size, Hq = t.num_attention_heads;
  std::vector<TensorSpec> out;
  auto text = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({std::move(name), std::move(shape), ModelPart::Text});
  };
  text("model.language_model.embed_tokens.weight", {t.vocab_size, H});
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) {
    const std::string p = "model.language_model.layers." + std::to_string(i) + ".";
    const int64_t D = t.layer_head_dim(i), Hkv = t.layer_kv_heads(i);
    text(p + "input_layernorm.weight", {H});
    text(p + "post_attention_layernorm.weight", {H});
    text(p + "pre_feedforward_layernorm.weight", {H});
    text(p + "post_feedforward_layernorm.weight", {H});
    text(p + "layer_scalar", {1});
    text(p + "mlp.gate_proj.weight", {I, H});
    text(p + "mlp.up_proj.weight", {I, H});
    text(p + "mlp.down_proj.weight", {H, I});
    text(p + "self_attn.q_proj.weight", {Hq * D, H});
    text(p + "self_attn.k_proj.weight", {Hkv * D, H});
    if (t.layer_has_v_proj(i)) text(p + "self_attn.v_proj.weight", {Hkv * D, H});
    text(p + "self_attn.o_proj.weight", {H, Hq * D});
    text(p + "self_attn.q_norm.weight", {D});
    text(p + "self_attn.k_norm.weight", {D});
  }
  text("model.language_model.norm.weight", {H});

  const int64_t P = c.vision.patch_dim(), mm = c.vision.mm_embed_dim;
  auto vision = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({std::move(name), std::move(shape), ModelPart::Vision});
  };
  const std::string ve = "model.vision_embedder.";
  vision(ve + "patch_ln1.weight", {P});
  vision(ve + "patch_ln1.bias", {P});
  vision(ve + "patch_dense.weight", {mm, P});
  vision(ve + "patch_dense.bias", {mm});
  vision(ve + "patch_ln2.weight", {mm});
  vision(ve + "patch_ln2.bias", {mm});
  vision(ve + "pos_embedding", {c.vision.mm_posemb_size, 2, mm});
  vision(ve + "pos_norm.weight", {mm});
  vision(ve + "pos_norm.bias", {mm});
  vision("model.embed_vision.embedding_projection.weight", {H, mm});
  out.push_back(
      {"model.embed_audio.embedding_projection.weight", {H, c.audio.audio_embed_dim}, ModelPart::Audio});
  return out;
}

ParamCount count_parameters(const ModelConfig& c) {
  ParamCount n;
  for (const TensorSpec& s : expected_tensors(c)) {
    switch (s.part) {
      case ModelPart::Text:
        n.text += s.numel();
        break;
      case ModelPart::Vision:
        n.vision += s.numel();
        break;
      case ModelPart::Audio:
        n.audio += s.numel();
        break;
      case ModelPart::kSentinel:
        G4_CHECK(false, "invalid ModelPart");
    }
  }
  return n;
}

WeightCheck validate_weights(const ModelConfig& c, const WeightSet& w) {
  const std::string dir = w.dir().string();
  std::set<std::string> expected;
  for (const TensorSpec& s : expected_tensors(c)) {
    expected.insert(s.name);
    const TensorView* v = w.find(s.name);
    if (!v) fail_input(dir, "missing tensor '" + s.name + "' (config needs " + format_shape(s.shape) + ")");
    if (v->shape != s.shape)
      fail_input(dir, "tensor '" + s.name + "' has shape " + format_shape(v->shape) + ", config needs " +
                          format_shape(s.shape));
    if (v->dtype != DType::BF16 && v->dtype != DType::F16 && v->dtype != DType::F32)
      fail_input(dir, "tensor '" + s.name + "' has dtype " + std::string(dtype_name(v->dtype)) +
                          ", expected BF16, F16 or F32");
  }
  WeightCheck check;
  for (const TensorView* v : w.all())
    if (!expected.count(v->name)) check.unknown.push_back(v->name);
  std::sort(check.unknown.begin(), check.unknown.end());
  return check;
}

}  // namespace g4
