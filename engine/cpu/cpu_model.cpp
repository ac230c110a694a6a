// The CPU backend's forward pass (spec §2): embedding, decoder layers over a KV cache, final norm, tied LM
// head and softcap, emitting the trace names of docs/ARCHITECTURE.md.
#include "engine/cpu/cpu_model.h"

#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/dtype.h"
#include "core/error.h"
#include "engine/cpu/attention.h"
#include "engine/cpu/kernels.h"
#include "engine/cpu/kv_cache.h"
#include "engine/cpu/matmul.h"
#include "engine/cpu/multimodal.h"

namespace g4::engine::cpu {
namespace {

// Prefill runs in chunks of this many tokens (an image block is never split), bounding work buffers and the
// sliding layers' ring buffers; a traced or hooked prefill runs as one chunk so its trace lines up with the
// reference's.
constexpr int64_t kChunk = 512;

struct Shared {
  ModelConfig cfg;
  EngineWeights w;
  std::vector<std::vector<float>> inv_freq;  // per layer
  float embed_scale = 1.0f;
  std::vector<std::string> layer_prefix;  // "layers.{i}."
  InjectedFaults faults;
};

class CpuSession final : public Session {
 public:
  CpuSession(std::shared_ptr<const Shared> s, int64_t max_context) : s_(std::move(s)), max_ctx_(max_context) {
    const TextConfig& t = s_->cfg.text;
    for (int64_t i = 0; i < t.num_hidden_layers; ++i) {
      caches_.emplace_back(t.layer_kv_heads(i), t.layer_head_dim(i), t.is_full(i) ? 0 : t.sliding_window);
      if (t.is_full(i)) caches_.back().reserve(std::min<int64_t>(max_ctx_, 8192));
    }
  }

  std::vector<float> prefill(const ForwardInput& in, LogitsWanted want, const StepHooks& hooks) override {
    const TextConfig& tc = s_->cfg.text;
    const int64_t T = static_cast<int64_t>(in.ids.size());
    if (T == 0) fail_input("forward input", "no token ids");
    for (const int32_t id : in.ids)
      if (id < 0 || id >= tc.vocab_size)
        fail_input("forward input",
                   "token id " + std::to_string(id) + " outside [0, " + std::to_string(tc.vocab_size) + ")");
    if (len_ + T > max_ctx_)
      fail_input("forward input", std::to_string(len_ + T) + " tokens exceed the context limit of " +
                                      std::to_string(max_ctx_) + " positions");
    // Soft tokens are scattered over the whole input at once, so media inputs run as one chunk.
    const bool one_chunk = hooks.trace != nullptr || hooks.layer_input != nullptr || !in.media.empty();
    const int64_t V = tc.vocab_size;
    std::vector<float> out;
    if (want == LogitsWanted::All) out.resize(static_cast<size_t>(T * V));
    int64_t start = 0;
    while (start < T) {
      int64_t end = one_chunk ? T : std::min(T, start + kChunk);
      while (end < T && is_image(in.ids[static_cast<size_t>(end)]) &&
             is_image(in.ids[static_cast<size_t>(end - 1)]))
        ++end;  // never split an image block
      const bool last = end == T;
      const std::span<const int32_t> ids(in.ids.data() + start, static_cast<size_t>(end - start));
      run_chunk(ids, hooks, in.media.empty() ? nullptr : &in);
      if (want == LogitsWanted::All)
        logits_rows(0, end - start, out.data() + start * V, hooks);
      else if (want == LogitsWanted::Last && last) {
        out.resize(static_cast<size_t>(V));
        logits_rows(end - start - 1, end - start, out.data(), hooks);
      }
      start = end;
    }
    return out;
  }

  std::vector<float> decode(int32_t id, const StepHooks& hooks) override {
    decode_in_.ids.assign(1, id);  // reused: no allocation per token
    return prefill(decode_in_, LogitsWanted::Last, hooks);
  }

  int64_t length() const override { return len_; }

  size_t memory_bytes() const override {
    size_t n = 0;
    for (const auto& c : caches_) n += c.bytes();
    for (const auto* v : {&h_, &x_, &q_, &k_, &v_, &o_, &a_, &g_, &u_, &logits_buf_}) n += v->capacity() * 4;
    return n + mm_.act.capacity() + 2 * mm_.x_bf16.capacity() +
           4 * (att_.partial.capacity() + att_.scores.capacity());
  }

 private:
  bool is_image(int32_t id) const {
    return id == s_->cfg.image_token_id || (s_->cfg.video_token_id != 0 && id == s_->cfg.video_token_id);
  }

  static void grow(std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  }

  // Names and shapes are built only when tracing: an untraced decode step allocates nothing here.
  void emit_layer(const StepHooks& hooks, const std::string& prefix, const char* name,
                  std::initializer_list<int64_t> shape, const float* data) {
    if (hooks.trace == nullptr || !*hooks.trace) return;
    emit_named(hooks, prefix + name, std::vector<int64_t>(shape), data);
  }
  void emit(const StepHooks& hooks, const char* name, std::initializer_list<int64_t> shape,
            const float* data) {
    if (hooks.trace == nullptr || !*hooks.trace) return;
    emit_named(hooks, name, std::vector<int64_t>(shape), data);
  }
  void emit_named(const StepHooks& hooks, const std::string& name, const std::vector<int64_t>& shape,
                  const float* data) {
    int64_t n = 1;
    for (const int64_t d : shape) n *= d;
    (*hooks.trace)(name, shape, std::span<const float>(data, static_cast<size_t>(n)));
  }

  void run_chunk(std::span<const int32_t> ids, const StepHooks& hooks, const ForwardInput* with_media) {
    const ModelConfig& cfg = s_->cfg;
    const TextConfig& tc = cfg.text;
    const EngineWeights& w = s_->w;
    const int64_t T = static_cast<int64_t>(ids.size()), H = tc.hidden_size, I = tc.intermediate_size;
    const int64_t Hq = tc.num_attention_heads, pos0 = len_;
    const float eps = static_cast<float>(tc.rms_norm_eps);

    grow(h_, T * H);
    for (int64_t t = 0; t < T; ++t) {
      float* row = h_.data() + t * H;
      quant::dequantize_row(w.embed.format, w.embed.row(ids[static_cast<size_t>(t)]), row, H);
      for (int64_t d = 0; d < H; ++d) row[d] *= s_->embed_scale;
    }
    if (with_media != nullptr) scatter_media(cfg, w, *with_media, h_.data(), hooks.trace);  // not ×scale
    emit(hooks, "embed", {T, H}, h_.data());

    // Image blocks of this chunk (blocks never span chunks): the [lo, hi] absolute positions of each query's.
    blocks_.assign(static_cast<size_t>(T), {-1, -1});
    for (int64_t t = 0; t < T;) {
      if (!is_image(ids[static_cast<size_t>(t)])) {
        ++t;
        continue;
      }
      int64_t e = t;
      while (e + 1 < T && is_image(ids[static_cast<size_t>(e + 1)])) ++e;
      for (int64_t u = t; u <= e; ++u) blocks_[static_cast<size_t>(u)] = {pos0 + t, pos0 + e};
      t = e + 1;
    }

    for (int64_t li = 0; li < tc.num_hidden_layers; ++li) {
      if (hooks.layer_input != nullptr)
        (*hooks.layer_input)(li, std::span<float>(h_.data(), static_cast<size_t>(T * H)));
      const EngineLayerWeights& L = w.layers[static_cast<size_t>(li)];
      const int64_t D = tc.layer_head_dim(li), Hkv = tc.layer_kv_heads(li);
      const std::string& pre = s_->layer_prefix[static_cast<size_t>(li)];
      LayerKvCache& cache = caches_[static_cast<size_t>(li)];

      grow(x_, T * H);
      std::memcpy(x_.data(), h_.data(), static_cast<size_t>(T * H) * 4);
      rmsnorm(x_.data(), T, H, L.input_norm.data(), eps);
      emit_layer(hooks, pre, "attn_in", {T, H}, x_.data());

      grow(q_, T * Hq * D);
      grow(k_, T * Hkv * D);
      grow(v_, T * Hkv * D);
      if (L.v_proj.rows > 0) {
        const QTensor* Ws[] = {&L.q_proj, &L.k_proj, &L.v_proj};
        float* ys[] = {q_.data(), k_.data(), v_.data()};
        linear_group(Ws, x_.data(), T, ys, mm_);
      } else {
        const QTensor* Ws[] = {&L.q_proj, &L.k_proj};
        float* ys[] = {q_.data(), k_.data()};
        linear_group(Ws, x_.data(), T, ys, mm_);
        std::memcpy(v_.data(), k_.data(), static_cast<size_t>(T * Hkv * D) * 4);  // k_eq_v: raw k_proj output
      }
      rmsnorm(q_.data(), T * Hq, D, L.q_norm.data(), eps);
      rmsnorm(k_.data(), T * Hkv, D, L.k_norm.data(), eps);
      rmsnorm(v_.data(), T * Hkv, D, nullptr, eps);
      const float* inv = s_->inv_freq[static_cast<size_t>(li)].data();
      const auto rope_fn = li == s_->faults.interleaved_rope_layer ? rope_interleaved : rope;
      for (int64_t t = 0; t < T; ++t) {
        rope_fn(q_.data() + t * Hq * D, Hq, D, inv, pos0 + t);
        rope_fn(k_.data() + t * Hkv * D, Hkv, D, inv, pos0 + t);
      }
      emit_layer(hooks, pre, "q", {T, Hq, D}, q_.data());
      emit_layer(hooks, pre, "k", {T, Hkv, D}, k_.data());
      emit_layer(hooks, pre, "v", {T, Hkv, D}, v_.data());

      cache.prepare(T);
      for (int64_t t = 0; t < T; ++t) {
        std::memcpy(cache.k(pos0 + t), k_.data() + t * Hkv * D, static_cast<size_t>(Hkv * D) * 4);
        std::memcpy(cache.v(pos0 + t), v_.data() + t * Hkv * D, static_cast<size_t>(Hkv * D) * 4);
      }
      cache.advance(T);
      grow(o_, T * Hq * D);
      AttentionShape as{T, pos0, Hq, Hkv, D, tc.is_full(li) ? 0 : tc.sliding_window};
      attention(as, q_.data(), cache, blocks_, o_.data(), att_);
      emit_layer(hooks, pre, "attn", {T, Hq * D}, o_.data());

      grow(a_, T * H);
      linear(L.o_proj, o_.data(), T, a_.data(), mm_);
      rmsnorm(a_.data(), T, H, L.post_attn_norm.data(), eps);
      emit_layer(hooks, pre, "attn_out", {T, H}, a_.data());
      for (int64_t n = 0; n < T * H; ++n) h_[static_cast<size_t>(n)] += a_[static_cast<size_t>(n)];
      emit_layer(hooks, pre, "mid", {T, H}, h_.data());

      std::memcpy(x_.data(), h_.data(), static_cast<size_t>(T * H) * 4);
      rmsnorm(x_.data(), T, H, L.pre_ffn_norm.data(), eps);
      emit_layer(hooks, pre, "ffn_in", {T, H}, x_.data());
      grow(g_, T * I);
      grow(u_, T * I);
      {
        const QTensor* Ws[] = {&L.gate_proj, &L.up_proj};
        float* ys[] = {g_.data(), u_.data()};
        linear_group(Ws, x_.data(), T, ys, mm_);
      }
      gelu_tanh_mul(g_.data(), u_.data(), T * I);
      emit_layer(hooks, pre, "ffn_act", {T, I}, g_.data());
      linear(L.down_proj, g_.data(), T, a_.data(), mm_);
      rmsnorm(a_.data(), T, H, L.post_ffn_norm.data(), eps);
      emit_layer(hooks, pre, "ffn_out", {T, H}, a_.data());
      for (int64_t n = 0; n < T * H; ++n)
        h_[static_cast<size_t>(n)] =
            (h_[static_cast<size_t>(n)] + a_[static_cast<size_t>(n)]) * L.layer_scalar;
      emit_layer(hooks, pre, "out", {T, H}, h_.data());
    }
    if (hooks.layer_input != nullptr)
      (*hooks.layer_input)(tc.num_hidden_layers, std::span<float>(h_.data(), static_cast<size_t>(T * H)));
    chunk_T_ = T;
    len_ += T;
  }

  // Final norm + LM head + softcap for rows [r0, r1) of the last chunk into out. When tracing, every row is
  // computed (the trace holds final_norm and logits for the whole chunk) and the asked rows copied out.
  void logits_rows(int64_t r0, int64_t r1, float* out, const StepHooks& hooks) {
    const TextConfig& tc = s_->cfg.text;
    const int64_t H = tc.hidden_size, V = tc.vocab_size;
    const bool tracing = hooks.trace != nullptr && *hooks.trace;
    const int64_t c0 = tracing ? 0 : r0, c1 = tracing ? chunk_T_ : r1, n = c1 - c0;
    grow(x_, n * H);
    std::memcpy(x_.data(), h_.data() + c0 * H, static_cast<size_t>(n * H) * 4);
    rmsnorm(x_.data(), n, H, s_->w.final_norm.data(), static_cast<float>(tc.rms_norm_eps));
    emit(hooks, "final_norm", {n, H}, x_.data());
    float* dst = out;
    if (tracing) {
      grow(logits_buf_, n * V);
      dst = logits_buf_.data();
    }
    linear(s_->w.embed, x_.data(), n, dst, mm_);  // tied LM head
    if (tc.final_logit_softcapping > 0.0) softcap(dst, n * V, static_cast<float>(tc.final_logit_softcapping));
    emit(hooks, "logits", {n, V}, dst);
    if (tracing) std::memcpy(out, dst + r0 * V, static_cast<size_t>((r1 - r0) * V) * 4);
  }

  std::shared_ptr<const Shared> s_;
  int64_t max_ctx_;
  int64_t len_ = 0, chunk_T_ = 0;
  std::vector<LayerKvCache> caches_;
  std::vector<float> h_, x_, q_, k_, v_, o_, a_, g_, u_, logits_buf_;
  std::vector<std::pair<int64_t, int64_t>> blocks_;
  ForwardInput decode_in_;
  MatmulScratch mm_;
  AttentionScratch att_;
};

class CpuModel final : public Model {
 public:
  explicit CpuModel(std::shared_ptr<const Shared> s) : s_(std::move(s)) {}
  std::string backend() const override { return "cpu"; }
  std::string plan() const override { return s_->w.plan.describe(); }
  const ModelConfig& config() const override { return s_->cfg; }
  std::unique_ptr<Session> session(int64_t max_context) const override {
    const int64_t limit = s_->cfg.text.max_position_embeddings;
    if (max_context <= 0) max_context = limit;
    if (max_context > limit)
      fail_input("--ctx",
                 std::to_string(max_context) + " exceeds max_position_embeddings " + std::to_string(limit));
    return std::make_unique<CpuSession>(s_, max_context);
  }
  MemoryUse memory() const override { return {s_->w.bytes(), 0}; }

 private:
  std::shared_ptr<const Shared> s_;
};

}  // namespace

void set_threads(int n) {
  if (n <= 0) {
    if (const char* e = std::getenv("G4_THREADS")) n = std::atoi(e);
  }
  if (n > 0) omp_set_num_threads(n);
}

std::unique_ptr<Model> make_cpu_model(const ModelConfig& cfg, EngineWeights weights,
                                      const EngineOptions& opt) {
  return make_cpu_model_with_faults(cfg, std::move(weights), opt, {});
}

std::unique_ptr<Model> make_cpu_model_with_faults(const ModelConfig& cfg, EngineWeights weights,
                                                  const EngineOptions& opt, const InjectedFaults& faults) {
  set_threads(opt.threads);
  auto s = std::make_shared<Shared>();
  s->faults = faults;
  s->cfg = cfg;
  s->w = std::move(weights);
  for (int64_t i = 0; i < cfg.text.num_hidden_layers; ++i) {
    s->inv_freq.push_back(rope_inv_freq(cfg.text.layer_rope(i), cfg.text.layer_head_dim(i)));
    s->layer_prefix.push_back("layers." + std::to_string(i) + ".");
  }
  // As the reference: the normalizer sqrt(H) is a bf16 constant in the public implementation.
  s->embed_scale = round_bf16(static_cast<float>(std::sqrt(static_cast<double>(cfg.text.hidden_size))));
  return std::make_unique<CpuModel>(std::move(s));
}

}  // namespace g4::engine::cpu
