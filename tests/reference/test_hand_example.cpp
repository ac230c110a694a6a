// A hand-worked example of the whole text graph (spec §2.2-§2.8): one full-attention layer with k_eq_v,
// hidden 2, one head of dim 2, intermediate 2, vocab 8, two tokens, fp32. The expected values are the spec's
// equations written out step by step in double, independent of reference/; Model::forward and its trace
// must match them. Variants of the equations that a wrong implementation would compute (1+w norm weight,
// no layer_scalar, no softcap, V after k_norm) are shown to land far outside the tolerance.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "core/config.h"
#include "core/safetensors.h"
#include "reference/model.h"

using namespace g4;
using namespace g4::reference;

namespace {

constexpr double kEps = 1e-6;  // rms_norm_eps

struct V2 {
  double a, b;
};
struct M2 {  // [out, in] as nn.Linear: y.a = a0·x.a + a1·x.b
  double a0, a1, b0, b1;
};

// The weights, chosen exactly representable and asymmetric so that swapped pairs or weights show.
const V2 kEmbed[8] = {{1, 0}, {0, 1}, {0.5, 1.5}, {1, -0.25}, {0.5, 2}, {-1, 0.25}, {2, -0.5}, {-0.75, -1.5}};
const V2 kInputNorm{1, 0.5}, kPostAttnNorm{0.5, 1}, kPreFfnNorm{1.5, 1}, kPostFfnNorm{1, 0.5};
const V2 kQNorm{1.5, 0.5}, kKNorm{1, 2}, kFinalNorm{2, 1};
const M2 kWq{1, 0, 0, 1}, kWk{1, 0.5, -0.5, 1}, kWo{1, 0, 0.5, 1};
const M2 kWgate{1, 0, 0, -1}, kWup{0.5, 0.5, 1, 0}, kWdown{1, 0.5, 0, 1};
constexpr double kLayerScalar = 0.5;
constexpr int32_t kIds[2] = {2, 3};

// rmsnorm (§2.3): x · (mean(x²) + eps)^-0.5 · w; `one_plus` is the Gemma 3 form (1 + w), a wrong variant.
V2 rmsnorm(V2 x, V2 w, bool one_plus = false) {
  const double ms = (x.a * x.a + x.b * x.b) / 2.0;
  const double r = std::pow(ms + kEps, -0.5);
  const double wa = one_plus ? 1 + w.a : w.a, wb = one_plus ? 1 + w.b : w.b;
  return {x.a * r * wa, x.b * r * wb};
}
V2 rmsnorm_noscale(V2 x) { return rmsnorm(x, {1, 1}); }
V2 mul(M2 m, V2 x) { return {m.a0 * x.a + m.a1 * x.b, m.b0 * x.a + m.b1 * x.b}; }
V2 add(V2 x, V2 y) { return {x.a + y.a, x.b + y.b}; }
double dot(V2 x, V2 y) { return x.a * y.a + x.b * y.b; }
double gelu_tanh(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

struct Wrong {  // deliberate spec violations, to show the test can tell them apart
  bool one_plus_norm = false, no_layer_scalar = false, no_softcap = false, v_after_k_norm = false;
};

struct Hand {
  V2 embed[2], q[2], k[2], v[2], attn[2], out[2], final_norm[2];
  double p10 = 0, p11 = 0;  // token 1's attention probabilities over keys 0 and 1
  double logits[2][8];
};

Hand hand_forward(const Wrong& w = {}) {
  Hand h;
  const bool op = w.one_plus_norm;
  for (int t = 0; t < 2; ++t) {
    // §2.2: h0 = E[id] · sqrt(H); sqrt(2) in fp32 mode (no bf16 rounding of the scale).
    h.embed[t] = {kEmbed[kIds[t]].a * std::sqrt(2.0), kEmbed[kIds[t]].b * std::sqrt(2.0)};
    const V2 x = rmsnorm(h.embed[t], kInputNorm, op);
    // §2.5: q = rope(q_norm(x Wqᵀ)); kr = x Wkᵀ; k = rope(k_norm(kr)); V = v_norm(kr) (k_eq_v: RAW k).
    const V2 qn = rmsnorm(mul(kWq, x), kQNorm, op);
    const V2 kr = mul(kWk, x);
    const V2 kn = rmsnorm(kr, kKNorm, op);
    h.v[t] = w.v_after_k_norm ? rmsnorm_noscale(kn) : rmsnorm_noscale(kr);
    // §2.6 with D = 2: one pair (dim 0, dim 1), inv_freq[0] = 1/base^0 = 1, so θ = position t.
    //   out0 = x0·cos θ − x1·sin θ,  out1 = x1·cos θ + x0·sin θ.   Position 0 leaves q, k unchanged.
    const double c = std::cos(double(t)), s = std::sin(double(t));
    h.q[t] = {qn.a * c - qn.b * s, qn.b * c + qn.a * s};
    h.k[t] = {kn.a * c - kn.b * s, kn.b * c + kn.a * s};
  }
  // Scores with scaling 1.0. Token 0 sees only key 0 (p = 1); token 1 sees keys 0 and 1 (causal, full layer).
  h.attn[0] = h.v[0];
  const double s10 = dot(h.q[1], h.k[0]), s11 = dot(h.q[1], h.k[1]);
  h.p10 = std::exp(s10) / (std::exp(s10) + std::exp(s11));
  h.p11 = std::exp(s11) / (std::exp(s10) + std::exp(s11));
  h.attn[1] = {h.p10 * h.v[0].a + h.p11 * h.v[1].a, h.p10 * h.v[0].b + h.p11 * h.v[1].b};
  for (int t = 0; t < 2; ++t) {
    // §2.4 sandwich norms: h = r + post_attn_norm(o_proj(o)); h = r + post_ffn_norm(mlp(pre_ffn_norm(h))).
    const V2 mid = add(h.embed[t], rmsnorm(mul(kWo, h.attn[t]), kPostAttnNorm, op));
    const V2 y = rmsnorm(mid, kPreFfnNorm, op);
    const V2 g = mul(kWgate, y), u = mul(kWup, y);
    const V2 act{gelu_tanh(g.a) * u.a, gelu_tanh(g.b) * u.b};
    const V2 m = rmsnorm(mul(kWdown, act), kPostFfnNorm, op);
    const double scalar = w.no_layer_scalar ? 1.0 : kLayerScalar;
    h.out[t] = {(mid.a + m.a) * scalar, (mid.b + m.b) * scalar};
    // §2.8: final norm, tied LM head, 30·tanh(x/30).
    h.final_norm[t] = rmsnorm(h.out[t], kFinalNorm, op);
    for (int v = 0; v < 8; ++v) {
      const double l = dot(h.final_norm[t], kEmbed[v]);
      h.logits[t][v] = w.no_softcap ? l : 30.0 * std::tanh(l / 30.0);
    }
  }
  return h;
}

ModelConfig hand_config() {
  ModelConfig c = gemma4_12b_config();
  TextConfig& t = c.text;
  t.vocab_size = 8;
  t.hidden_size = 2;
  t.intermediate_size = 2;
  t.num_hidden_layers = 1;
  t.num_attention_heads = 1;
  t.num_key_value_heads = 1;
  t.head_dim = 2;
  t.global_head_dim = 2;
  t.num_global_key_value_heads = 1;
  t.attention_k_eq_v = true;
  t.rms_norm_eps = kEps;
  t.sliding_window = 4;
  t.max_position_embeddings = 16;
  t.layer_types = {LayerType::Full};
  // The 12B's proportional RoPE (factor 0.25) rotates no pair of a dim-2 head; plain RoPE rotates the one.
  t.rope_full = RopeParams{"default", 10000.0, 1.0, 1.0};
  t.final_logit_softcapping = 30.0;
  t.pad_token_id = 0;
  t.eos_token_id = 1;
  t.bos_token_id = 2;
  c.boi_token_id = 4;
  c.eoi_token_id = 5;
  c.image_token_id = 6;
  c.video_token_id = 6;
  c.audio_token_id = 7;
  c.boa_token_id = 4;
  c.eoa_token_index = 5;
  return c;
}

std::filesystem::path write_hand_checkpoint() {
  const auto dir = std::filesystem::temp_directory_path() / ("g4_ref_hand_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  SafetensorsWriter w;
  const auto v2 = [&](const std::string& name, V2 x) {
    const float f[2] = {float(x.a), float(x.b)};
    w.add_f32(name, {2}, f);
  };
  const auto m2 = [&](const std::string& name, M2 m) {
    const float f[4] = {float(m.a0), float(m.a1), float(m.b0), float(m.b1)};
    w.add_f32(name, {2, 2}, f);
  };
  float embed[16];
  for (int v = 0; v < 8; ++v) {
    embed[2 * v] = float(kEmbed[v].a);
    embed[2 * v + 1] = float(kEmbed[v].b);
  }
  w.add_f32("model.language_model.embed_tokens.weight", {8, 2}, embed);
  v2("model.language_model.norm.weight", kFinalNorm);
  const std::string pre = "model.language_model.layers.0.";
  v2(pre + "input_layernorm.weight", kInputNorm);
  v2(pre + "post_attention_layernorm.weight", kPostAttnNorm);
  v2(pre + "pre_feedforward_layernorm.weight", kPreFfnNorm);
  v2(pre + "post_feedforward_layernorm.weight", kPostFfnNorm);
  const float scalar[1] = {float(kLayerScalar)};
  w.add_f32(pre + "layer_scalar", {1}, scalar);
  m2(pre + "self_attn.q_proj.weight", kWq);
  m2(pre + "self_attn.k_proj.weight", kWk);
  m2(pre + "self_attn.o_proj.weight", kWo);
  v2(pre + "self_attn.q_norm.weight", kQNorm);
  v2(pre + "self_attn.k_norm.weight", kKNorm);
  m2(pre + "mlp.gate_proj.weight", kWgate);
  m2(pre + "mlp.up_proj.weight", kWup);
  m2(pre + "mlp.down_proj.weight", kWdown);
  w.write(dir / "model.safetensors");
  return dir;
}

// fp32 rounds each op to 2^-24 ≈ 6e-8 relative; the longest chain here (embed → logits) is ~40 ops on
// well-conditioned O(1) values, so the accumulated error stays below 1e-6 of max(|x|, 1). The wrong variants
// below differ by 1e-3 or more.
constexpr double kTol = 1e-6;
bool close(double got, double want) { return std::abs(got - want) <= kTol * std::max(std::abs(want), 1.0); }

void check_pair(const std::map<std::string, std::vector<float>>& tr, const std::string& name,
                const V2 (&x)[2]) {
  INFO(name);
  REQUIRE(tr.count(name) == 1);
  const std::vector<float>& v = tr.at(name);
  REQUIRE(v.size() == 4);
  for (int t = 0; t < 2; ++t) {
    INFO("token " << t << ": got (" << v[2 * t] << ", " << v[2 * t + 1] << ") want (" << x[t].a << ", "
                  << x[t].b << ")");
    CHECK(close(v[2 * t], x[t].a));
    CHECK(close(v[2 * t + 1], x[t].b));
  }
}

// Largest difference over layers.0.out and the logits. With one layer, ×layer_scalar only shows in
// layers.0.out: the final RMSNorm undoes a uniform scale of the stream (up to eps).
double max_diff(const Hand& a, const Hand& b) {
  double d = 0;
  for (int t = 0; t < 2; ++t) {
    d = std::max({d, std::abs(a.out[t].a - b.out[t].a), std::abs(a.out[t].b - b.out[t].b)});
    for (int v = 0; v < 8; ++v) d = std::max(d, std::abs(a.logits[t][v] - b.logits[t][v]));
  }
  return d;
}

}  // namespace

TEST_CASE("reference forward matches a hand-derived 1-layer 2-token example", "[reference][hand]") {
  const ModelConfig cfg = hand_config();
  // The config is a legal gemma4_unified config: it survives the validator.
  REQUIRE(parse_model_config(to_json(cfg), "hand config") == cfg);
  const auto dir = write_hand_checkpoint();
  const WeightSet ws = WeightSet::open_dir(dir);
  const Model model = Model::from_weights(cfg, ws, Precision::FP32);

  std::map<std::string, std::vector<float>> tr;
  const TraceFn trace = [&](const std::string& n, const std::vector<int64_t>&, std::span<const float> v) {
    tr[n].assign(v.begin(), v.end());
  };
  ForwardInput in;
  in.ids = {kIds[0], kIds[1]};
  const std::vector<float> logits = model.forward(in, &trace);
  const Hand want = hand_forward();

  // Token 1 really attends to both keys, neither probability near 0 or 1.
  CHECK(want.p10 > 0.05);
  CHECK(want.p11 > 0.05);
  check_pair(tr, "embed", want.embed);
  check_pair(tr, "layers.0.q", want.q);
  check_pair(tr, "layers.0.k", want.k);
  check_pair(tr, "layers.0.v", want.v);
  check_pair(tr, "layers.0.attn", want.attn);
  check_pair(tr, "layers.0.out", want.out);
  check_pair(tr, "final_norm", want.final_norm);
  REQUIRE(logits.size() == 16);
  REQUIRE(tr["logits"] == logits);
  for (int t = 0; t < 2; ++t)
    for (int v = 0; v < 8; ++v) {
      INFO("logit [" << t << ", " << v << "] got " << logits[size_t(t * 8 + v)] << " want "
                     << want.logits[t][v]);
      CHECK(close(logits[size_t(t * 8 + v)], want.logits[t][v]));
    }

  // Each spec pitfall moves layers.0.out or the logits by far more than the tolerance, so the checks above
  // catch it.
  for (const Wrong& w : {Wrong{true, false, false, false}, Wrong{false, true, false, false},
                         Wrong{false, false, true, false}, Wrong{false, false, false, true}})
    CHECK(max_diff(hand_forward(w), want) > 1e3 * kTol);
  std::filesystem::remove_all(dir);
}
