#include "tests/reference/tiny_checkpoint.h"

#include <cmath>
#include <fstream>
#include <random>
#include <string>

#include <unistd.h>

#include "core/dtype.h"
#include "core/safetensors.h"

namespace g4::test {

ModelConfig tiny_config(const TinySpec& spec) {
  ModelConfig c = gemma4_12b_config();
  TextConfig& t = c.text;
  t.vocab_size = 512;
  t.hidden_size = 64;
  t.intermediate_size = 128;
  t.num_hidden_layers = spec.layers;
  t.num_attention_heads = 4;
  t.num_key_value_heads = 2;
  t.head_dim = 16;
  t.global_head_dim = 32;
  t.num_global_key_value_heads = 1;
  t.attention_k_eq_v = true;
  t.max_position_embeddings = 4096;
  t.sliding_window = spec.window;
  t.layer_types.assign(static_cast<size_t>(spec.layers), LayerType::Sliding);
  t.layer_types.back() = LayerType::Full;
  c.boi_token_id = 498;
  c.eoi_token_id = 499;
  c.image_token_id = 500;
  c.audio_token_id = 501;
  c.video_token_id = 502;
  c.boa_token_id = 503;
  c.eoa_token_index = 504;
  c.vision.patch_size = 2;
  c.vision.pooling_kernel_size = 3;
  c.vision.mm_embed_dim = 48;
  c.vision.mm_posemb_size = 16;
  c.vision.output_proj_dims = 64;
  c.audio.audio_embed_dim = 40;
  return c;
}

namespace {

class RandomWriter {
 public:
  explicit RandomWriter(uint32_t seed) : rng_(seed) {}
  // Normal(mean, stddev) values stored as bf16.
  void add(const std::string& name, std::vector<int64_t> shape, double mean, double stddev) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::normal_distribution<double> dist(mean, stddev);
    std::vector<uint16_t> v(static_cast<size_t>(n));
    for (auto& x : v) x = f32_to_bf16(static_cast<float>(dist(rng_)));
    w_.add(name, DType::BF16, std::move(shape),
           std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size() * 2));
  }
  void write(const std::filesystem::path& p) const { w_.write(p); }

 private:
  std::mt19937 rng_;
  SafetensorsWriter w_;
};

}  // namespace

std::filesystem::path write_tiny_checkpoint(const TinySpec& spec, const std::string& name) {
  const ModelConfig c = tiny_config(spec);
  const TextConfig& t = c.text;
  const auto dir =
      std::filesystem::temp_directory_path() / ("g4_ref_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << to_json(c).dump(2);

  RandomWriter w(spec.seed);
  const int64_t H = t.hidden_size, I = t.intermediate_size;
  // Scales keep activations in realistic ranges (DESIGN.md "Random weights need care").
  w.add("model.language_model.embed_tokens.weight", {t.vocab_size, H}, 0.0, 0.05);
  w.add("model.language_model.norm.weight", {H}, 1.0, 0.1);
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) {
    const std::string pre = "model.language_model.layers." + std::to_string(i) + ".";
    const int64_t D = t.layer_head_dim(i), Hkv = t.layer_kv_heads(i), Hq = t.num_attention_heads;
    w.add(pre + "input_layernorm.weight", {H}, 1.0, 0.1);
    w.add(pre + "post_attention_layernorm.weight", {H}, 0.5, 0.1);
    w.add(pre + "pre_feedforward_layernorm.weight", {H}, 1.0, 0.1);
    w.add(pre + "post_feedforward_layernorm.weight", {H}, 0.5, 0.1);
    w.add(pre + "layer_scalar", {1}, 0.8, 0.2);
    w.add(pre + "self_attn.q_proj.weight", {Hq * D, H}, 0.0, 1.0 / std::sqrt(double(H)));
    w.add(pre + "self_attn.k_proj.weight", {Hkv * D, H}, 0.0, 1.0 / std::sqrt(double(H)));
    if (t.layer_has_v_proj(i))
      w.add(pre + "self_attn.v_proj.weight", {Hkv * D, H}, 0.0, 1.0 / std::sqrt(double(H)));
    w.add(pre + "self_attn.o_proj.weight", {H, Hq * D}, 0.0, 1.0 / std::sqrt(double(Hq * D)));
    w.add(pre + "self_attn.q_norm.weight", {D}, std::pow(double(D), -0.25) * 1.5, 0.05);
    w.add(pre + "self_attn.k_norm.weight", {D}, std::pow(double(D), -0.25) * 1.5, 0.05);
    w.add(pre + "mlp.gate_proj.weight", {I, H}, 0.0, 1.0 / std::sqrt(double(H)));
    w.add(pre + "mlp.up_proj.weight", {I, H}, 0.0, 1.0 / std::sqrt(double(H)));
    w.add(pre + "mlp.down_proj.weight", {H, I}, 0.0, 1.0 / std::sqrt(double(I)));
  }
  if (spec.multimodal) {
    const int64_t P = c.vision.patch_dim(), E = c.vision.mm_embed_dim;
    w.add("model.vision_embedder.patch_ln1.weight", {P}, 1.0, 0.1);
    w.add("model.vision_embedder.patch_ln1.bias", {P}, 0.0, 0.1);
    w.add("model.vision_embedder.patch_dense.weight", {E, P}, 0.0, 1.0 / std::sqrt(double(P)));
    w.add("model.vision_embedder.patch_dense.bias", {E}, 0.0, 0.1);
    w.add("model.vision_embedder.patch_ln2.weight", {E}, 1.0, 0.1);
    w.add("model.vision_embedder.patch_ln2.bias", {E}, 0.0, 0.1);
    w.add("model.vision_embedder.pos_norm.weight", {E}, 1.0, 0.1);
    w.add("model.vision_embedder.pos_norm.bias", {E}, 0.0, 0.1);
    w.add("model.vision_embedder.pos_embedding", {c.vision.mm_posemb_size, 2, E}, 0.0, 0.5);
    w.add("model.embed_vision.embedding_projection.weight", {H, E}, 0.0, 0.05);
    w.add("model.embed_audio.embedding_projection.weight", {H, c.audio.audio_embed_dim}, 0.0, 0.05);
  }
  w.write(dir / "model.safetensors");
  return dir;
}

}  // namespace g4::test
