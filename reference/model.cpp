#include "reference/model.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "reference/multimodal.h"
#include "reference/ops.h"

namespace g4::reference {

struct Model::State {
  ModelConfig cfg;
  Precision precision;
  ModelWeights w;
  std::vector<std::vector<float>> inv_freq;  // per layer
};

Model Model::from_weights(const ModelConfig& cfg, const WeightSet& ws, Precision p) {
  auto s = std::make_shared<State>();
  s->cfg = cfg;
  s->precision = p;
  s->w = load_weights(cfg, ws, p);
  for (int64_t i = 0; i < cfg.text.num_hidden_layers; ++i)
    s->inv_freq.push_back(rope_inv_freq(cfg.text.layer_rope(i), cfg.text.layer_head_dim(i)));
  return Model(std::move(s));
}

Model Model::load(const std::filesystem::path& dir, Precision p) {
  const ModelConfig cfg = load_model_config(dir / "config.json");
  const WeightSet ws = WeightSet::open_dir(dir);
  return from_weights(cfg, ws, p);
}

std::vector<float> Model::forward(const ForwardInput& in, const TraceFn* trace) const {
  Session s(s_);
  return s.prefill(in, trace);
}

Session Model::session() const { return Session(s_); }
const ModelConfig& Model::config() const { return s_->cfg; }
Precision Model::precision() const { return s_->precision; }

Session::Session(std::shared_ptr<const Model::State> s) : s_(std::move(s)) {
  caches_.resize(static_cast<size_t>(s_->cfg.text.num_hidden_layers));
}

std::vector<float> Session::prefill(const ForwardInput& in, const TraceFn* trace) {
  const ModelConfig& cfg = s_->cfg;
  const TextConfig& tc = cfg.text;
  const Precision p = s_->precision;
  const int64_t T = static_cast<int64_t>(in.ids.size()), H = tc.hidden_size, V = tc.vocab_size;
  if (T == 0) fail_input("forward input", "no token ids");
  for (const int32_t id : in.ids)
    if (id < 0 || id >= V)
      fail_input("forward input",
                 "token id " + std::to_string(id) + " outside [0, " + std::to_string(V) + ")");

  // Embedding × bf16(sqrt(H)) (spec §2.2); HF builds the scale as an fp32 tensor cast to the weight dtype.
  const float scale = at_boundary(p, static_cast<float>(std::sqrt(static_cast<double>(H))));
  std::vector<float> h(static_cast<size_t>(T * H));
  for (int64_t t = 0; t < T; ++t) {
    const float* row = s_->w.embed.data() + static_cast<int64_t>(in.ids[static_cast<size_t>(t)]) * H;
    for (int64_t d = 0; d < H; ++d) h[static_cast<size_t>(t * H + d)] = at_boundary(p, row[d] * scale);
  }
  scatter_media(cfg, s_->w, in, h, p, trace);  // soft tokens replace placeholder rows, not ×scale
  emit(trace, "embed", {T, H}, h);

  const int64_t pos0 = length();
  const std::vector<int64_t> blocks = vision_block_ids(cfg, in.ids, next_block_);
  for (const int64_t b : blocks)
    if (b >= next_block_) next_block_ = b + 1;
  block_of_.insert(block_of_.end(), blocks.begin(), blocks.end());

  for (int64_t i = 0; i < tc.num_hidden_layers; ++i) {
    ChunkContext c;
    c.cfg = &tc;
    c.layer = i;
    c.pos0 = pos0;
    c.block_of = block_of_;
    c.inv_freq = s_->inv_freq[static_cast<size_t>(i)];
    c.precision = p;
    c.trace = trace;
    h = decoder_layer(c, s_->w.layers[static_cast<size_t>(i)], std::move(h), T,
                      caches_[static_cast<size_t>(i)]);
  }
  rmsnorm_rows(h, H, s_->w.final_norm, static_cast<float>(tc.rms_norm_eps), p);
  emit(trace, "final_norm", {T, H}, h);
  std::vector<float> logits = linear(h, T, H, s_->w.embed, V, p);  // tied LM head
  if (tc.final_logit_softcapping > 0.0) {
    const float cap = static_cast<float>(tc.final_logit_softcapping);
    for (float& l : logits) l = softcap(l, cap, p);
  }
  emit(trace, "logits", {T, V}, logits);
  return logits;
}

std::vector<float> Session::decode(int32_t id, const TraceFn* trace) {
  ForwardInput in;
  in.ids = {id};
  return prefill(in, trace);
}

}  // namespace g4::reference
