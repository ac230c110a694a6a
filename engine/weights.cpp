// Engine weights: loading (quantizing on the fly or reading a quantized checkpoint) and shape-only weights.
#include "engine/weights.h"

#include <omp.h>

#include <cstring>
#include <random>
#include <string>

#include "core/dtype.h"
#include "core/error.h"

namespace g4::engine {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::shared_ptr<uint8_t[]> alloc_bytes(size_t n) { return std::shared_ptr<uint8_t[]>(new uint8_t[n]); }

// Per-tensor format of a quantized checkpoint: metadata "g4.format.NAME" in the file holding NAME.
std::optional<quant::Format> stored_format(const WeightSet& ws, const std::string& name) {
  for (const auto& f : ws.files()) {
    if (f->find(name) == nullptr) continue;
    const auto it = f->metadata().find("g4.format." + name);
    if (it == f->metadata().end()) return std::nullopt;
    const auto fmt = quant::parse_format(it->second);
    if (!fmt)
      fail_input(f->path(), "metadata g4.format." + name + " names unknown format '" + it->second + "'");
    return fmt;
  }
  return std::nullopt;
}

class Loader {
 public:
  explicit Loader(const WeightSet& ws) : ws_(ws) {}

  std::vector<float> vec(const std::string& name, const std::vector<int64_t>& shape) const {
    const TensorView& t = ws_.get(name);
    if (t.shape != shape)
      fail_input(ws_.dir().string(), "tensor " + name + " has shape " + shape_str(t.shape) + ", expected " +
                                         shape_str(shape) + " from config.json");
    return to_f32(t);
  }
  bool has(const std::string& name) const { return ws_.find(name) != nullptr; }

  QTensor matrix(const std::string& name, int64_t rows, int64_t cols, quant::Format want) const {
    const TensorView& t = ws_.get(name);
    // A quantized checkpoint stores block/i8 matrices as U8 rows (bf16/f32 ones stay float tensors).
    const auto stored = stored_format(ws_, name);
    if (stored && (quant::is_block_format(*stored) || *stored == quant::Format::I8)) {
      if (*stored != want)
        fail_input(ws_.dir().string(),
                   "tensor " + name + " is stored as " + std::string(quant::info(*stored).name) +
                       " but the weight plan asks for " + std::string(quant::info(want).name));
      if (cols % quant::info(want).block_elems != 0)
        fail_input(ws_.dir().string(), "tensor " + name + ": " + std::to_string(cols) +
                                           " columns are not a whole number of " +
                                           std::string(quant::info(want).name) + " blocks");
      const int64_t rb = static_cast<int64_t>(quant::row_bytes(want, cols));
      if (t.dtype != DType::U8 || t.shape != std::vector<int64_t>{rows, rb})
        fail_input(ws_.dir().string(), "tensor " + name + " has " + std::string(dtype_name(t.dtype)) + " " +
                                           shape_str(t.shape) + ", a " + std::string(quant::info(want).name) +
                                           " matrix of [" + std::to_string(rows) + ", " +
                                           std::to_string(cols) + "] must be U8 [" + std::to_string(rows) +
                                           ", " + std::to_string(rb) + "] (wrong block size?)");
      auto buf = alloc_bytes(t.bytes.size());
      std::memcpy(buf.get(), t.bytes.data(), t.bytes.size());
      return QTensor{want, rows, cols, buf, buf.get()};
    }
    if (t.shape != std::vector<int64_t>{rows, cols})
      fail_input(ws_.dir().string(), "tensor " + name + " has shape " + shape_str(t.shape) + ", expected " +
                                         shape_str({rows, cols}) + " from config.json");
    if (cols % quant::info(want).block_elems != 0)
      fail_input(ws_.dir().string(), "tensor " + name + ": " + std::to_string(cols) +
                                         " columns cannot be stored as " +
                                         std::string(quant::info(want).name) + " (block of " +
                                         std::to_string(quant::info(want).block_elems) + ")");
    const std::vector<float> v = to_f32(t);
    return quantize_matrix(want, v, rows, cols);
  }

 private:
  const WeightSet& ws_;
};

EngineLayerWeights load_layer(const ModelConfig& cfg, const Loader& L, const WeightPlan& plan, int64_t i) {
  const TextConfig& t = cfg.text;
  const int64_t H = t.hidden_size, I = t.intermediate_size, Hq = t.num_attention_heads;
  const int64_t D = t.layer_head_dim(i), Hkv = t.layer_kv_heads(i);
  const std::string pre = "model.language_model.layers." + std::to_string(i) + ".";
  EngineLayerWeights w;
  w.input_norm = L.vec(pre + "input_layernorm.weight", {H});
  w.post_attn_norm = L.vec(pre + "post_attention_layernorm.weight", {H});
  w.pre_ffn_norm = L.vec(pre + "pre_feedforward_layernorm.weight", {H});
  w.post_ffn_norm = L.vec(pre + "post_feedforward_layernorm.weight", {H});
  w.layer_scalar = L.vec(pre + "layer_scalar", {1})[0];
  w.q_proj = L.matrix(pre + "self_attn.q_proj.weight", Hq * D, H, plan.attn);
  w.k_proj = L.matrix(pre + "self_attn.k_proj.weight", Hkv * D, H, plan.attn);
  if (t.layer_has_v_proj(i)) w.v_proj = L.matrix(pre + "self_attn.v_proj.weight", Hkv * D, H, plan.attn);
  w.o_proj = L.matrix(pre + "self_attn.o_proj.weight", H, Hq * D, plan.attn);
  w.q_norm = L.vec(pre + "self_attn.q_norm.weight", {D});
  w.k_norm = L.vec(pre + "self_attn.k_norm.weight", {D});
  w.gate_proj = L.matrix(pre + "mlp.gate_proj.weight", I, H, plan.ffn);
  w.up_proj = L.matrix(pre + "mlp.up_proj.weight", I, H, plan.ffn);
  w.down_proj = L.matrix(pre + "mlp.down_proj.weight", H, I, plan.ffn);
  return w;
}

void load_multimodal(const ModelConfig& cfg, const Loader& L, EngineWeights& w) {
  const int64_t H = cfg.text.hidden_size;
  const std::string dense = "model.vision_embedder.patch_dense.weight";
  if (L.has(dense)) {
    const int64_t P = cfg.vision.patch_dim(), E = cfg.vision.mm_embed_dim, N = cfg.vision.mm_posemb_size;
    const std::string pre = "model.vision_embedder.";
    EngineVisionWeights& v = w.vision;
    v.present = true;
    v.ln1_w = L.vec(pre + "patch_ln1.weight", {P});
    v.ln1_b = L.vec(pre + "patch_ln1.bias", {P});
    v.dense_w = L.vec(dense, {E, P});
    v.dense_b = L.vec(pre + "patch_dense.bias", {E});
    v.ln2_w = L.vec(pre + "patch_ln2.weight", {E});
    v.ln2_b = L.vec(pre + "patch_ln2.bias", {E});
    v.pos_norm_w = L.vec(pre + "pos_norm.weight", {E});
    v.pos_norm_b = L.vec(pre + "pos_norm.bias", {E});
    v.pos_embedding = L.vec(pre + "pos_embedding", {N, 2, E});
    v.projection = L.vec("model.embed_vision.embedding_projection.weight", {H, E});
  }
  const std::string audio = "model.embed_audio.embedding_projection.weight";
  if (L.has(audio)) {
    w.audio.present = true;
    w.audio.projection = L.vec(audio, {H, cfg.audio.audio_embed_dim});
  }
}

// A shape-only matrix: rows copied from a small pool of distinct random rows (values ~ N(0, 0.02), then
// quantized), so a 12B-sized tensor is filled at memory speed while its bytes still look like real weights.
QTensor random_matrix(quant::Format f, int64_t rows, int64_t cols, uint64_t seed) {
  constexpr int64_t kPool = 64;
  const size_t rb = quant::row_bytes(f, cols);
  std::vector<uint8_t> pool(rb * kPool);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 0.02f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < kPool; ++r) {
    for (float& x : row) x = normal(rng);
    quant::quantize_row(f, row.data(), pool.data() + static_cast<size_t>(r) * rb, cols);
  }
  auto buf = alloc_bytes(rb * static_cast<size_t>(rows));
  std::vector<uint32_t> pick(static_cast<size_t>(rows));
  for (auto& p : pick) p = static_cast<uint32_t>(rng() % kPool);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(buf.get() + static_cast<size_t>(r) * rb, pool.data() + pick[static_cast<size_t>(r)] * rb, rb);
  return QTensor{f, rows, cols, buf, buf.get()};
}

}  // namespace

size_t EngineWeights::bytes() const {
  size_t n = embed.bytes() + final_norm.size() * 4;
  for (const auto& l : layers)
    n += l.q_proj.bytes() + l.k_proj.bytes() + l.v_proj.bytes() + l.o_proj.bytes() + l.gate_proj.bytes() +
         l.up_proj.bytes() + l.down_proj.bytes() +
         4 * (l.input_norm.size() * 4 + l.q_norm.size() + l.k_norm.size() + 1);
  const auto& v = vision;
  n += 4 * (v.ln1_w.size() + v.ln1_b.size() + v.dense_w.size() + v.dense_b.size() + v.ln2_w.size() +
            v.ln2_b.size() + v.pos_norm_w.size() + v.pos_norm_b.size() + v.pos_embedding.size() +
            v.projection.size() + audio.projection.size());
  return n;
}

QTensor quantize_matrix(quant::Format f, std::span<const float> values, int64_t rows, int64_t cols) {
  G4_CHECK(static_cast<int64_t>(values.size()) == rows * cols, "quantize_matrix: size");
  const size_t rb = quant::row_bytes(f, cols);
  auto buf = alloc_bytes(rb * static_cast<size_t>(rows));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    quant::quantize_row(f, values.data() + r * cols, buf.get() + static_cast<size_t>(r) * rb, cols);
  return QTensor{f, rows, cols, buf, buf.get()};
}

std::optional<WeightPlan> checkpoint_plan(const WeightSet& ws) {
  for (const auto& f : ws.files()) {
    const auto it = f->metadata().find("g4.plan");
    if (it != f->metadata().end()) return parse_weight_plan(it->second);
  }
  return std::nullopt;
}

EngineWeights load_engine_weights(const ModelConfig& cfg, const WeightSet& ws, const WeightPlan& requested,
                                  bool plan_from_checkpoint) {
  WeightPlan plan = requested;
  if (const auto stored = checkpoint_plan(ws)) {
    if (plan_from_checkpoint)
      plan = *stored;
    else if (!(*stored == requested))
      fail_input(ws.dir().string(), "checkpoint was quantized as '" + stored->describe() + "', not '" +
                                        requested.describe() + "' (omit --quant to use its own plan)");
  }
  const Loader L(ws);
  const TextConfig& t = cfg.text;
  EngineWeights w;
  w.plan = plan;
  w.embed = L.matrix("model.language_model.embed_tokens.weight", t.vocab_size, t.hidden_size, plan.embed);
  w.final_norm = L.vec("model.language_model.norm.weight", {t.hidden_size});
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) w.layers.push_back(load_layer(cfg, L, plan, i));
  load_multimodal(cfg, L, w);
  return w;
}

EngineWeights shape_only_weights(const ModelConfig& cfg, const WeightPlan& plan, uint64_t seed) {
  const TextConfig& t = cfg.text;
  const int64_t H = t.hidden_size, I = t.intermediate_size, Hq = t.num_attention_heads;
  EngineWeights w;
  w.plan = plan;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull;
  w.embed = random_matrix(plan.embed, t.vocab_size, H, ++s);
  w.final_norm.assign(static_cast<size_t>(H), 1.0f);
  for (int64_t i = 0; i < t.num_hidden_layers; ++i) {
    const int64_t D = t.layer_head_dim(i), Hkv = t.layer_kv_heads(i);
    EngineLayerWeights l;
    l.input_norm = l.post_attn_norm = l.pre_ffn_norm = l.post_ffn_norm =
        std::vector<float>(static_cast<size_t>(H), 1.f);
    // q/k norm weights near D^(-1/4) keep attention scores O(1), as in a trained model (DESIGN.md).
    l.q_norm = l.k_norm =
        std::vector<float>(static_cast<size_t>(D), static_cast<float>(std::pow(double(D), -0.25)));
    l.q_proj = random_matrix(plan.attn, Hq * D, H, ++s);
    l.k_proj = random_matrix(plan.attn, Hkv * D, H, ++s);
    if (t.layer_has_v_proj(i)) l.v_proj = random_matrix(plan.attn, Hkv * D, H, ++s);
    l.o_proj = random_matrix(plan.attn, H, Hq * D, ++s);
    l.gate_proj = random_matrix(plan.ffn, I, H, ++s);
    l.up_proj = random_matrix(plan.ffn, I, H, ++s);
    l.down_proj = random_matrix(plan.ffn, H, I, ++s);
    w.layers.push_back(std::move(l));
  }
  return w;
}

}  // namespace g4::engine
