// The whole reference graph on small random checkpoints: fp32 mode against an independent float64
// evaluation (tests/reference/f64_oracle.cpp), bf16 mode within bf16 rounding of it, KV-cached decoding
// equal to a full forward bit for bit, determinism across runs and thread counts, trace names and shapes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "core/error.h"
#include "reference/model.h"
#include "reference/ops.h"
#include "tests/reference/f64_oracle.h"
#include "tests/reference/tiny_checkpoint.h"

using namespace g4;
using namespace g4::reference;
using namespace g4::test;

namespace {

struct Fixture {
  std::filesystem::path dir;
  ModelConfig cfg;
  WeightSet ws;
  explicit Fixture(const TinySpec& spec, const std::string& name)
      : dir(write_tiny_checkpoint(spec, name)),
        cfg(load_model_config(dir / "config.json")),
        ws(WeightSet::open_dir(dir)) {}
  ~Fixture() { std::filesystem::remove_all(dir); }
};

// 15 tokens: text, an image block of 4 soft tokens (crosses the window 4 with its neighbours), audio of 2.
ForwardInput multimodal_input(const ModelConfig& c) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> px(0.f, 1.f), au(-0.3f, 0.3f);
  ForwardInput in;
  const int32_t img = static_cast<int32_t>(c.image_token_id), aud = static_cast<int32_t>(c.audio_token_id);
  in.ids = {2, 17, 498, img, img, img, img, 499, 40, 503, aud, aud, 504, 301, 9};
  SoftTokenInput image;
  image.kind = SoftTokenInput::Image;
  image.n = 4;
  image.data.resize(static_cast<size_t>(4 * c.vision.patch_dim()));
  for (auto& v : image.data) v = px(rng);
  image.positions = {{0, 0}, {1, 0}, {0, 1}, {15, 15}};
  SoftTokenInput audio;
  audio.kind = SoftTokenInput::Audio;
  audio.n = 2;
  audio.data.resize(static_cast<size_t>(2 * c.audio.audio_embed_dim));
  for (auto& v : audio.data) v = au(rng);
  in.media = {image, audio};
  return in;
}

ForwardInput text_input(int n) {
  ForwardInput in;
  for (int i = 0; i < n; ++i) in.ids.push_back(static_cast<int32_t>((i * 37 + 11) % 490));
  return in;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("reference fp32 agrees with a float64 evaluation of the graph", "[reference]") {
  Fixture f(TinySpec{}, "oracle");
  const Model m = Model::from_weights(f.cfg, f.ws, Precision::FP32);
  std::map<std::string, std::vector<float>> tr;
  const TraceFn trace = [&](const std::string& n, const std::vector<int64_t>&, std::span<const float> v) {
    tr[n].assign(v.begin(), v.end());
  };
  for (const ForwardInput& in : {text_input(11), multimodal_input(f.cfg)}) {
    tr.clear();
    const auto logits = m.forward(in, &trace);
    const OracleResult o = oracle_forward(f.cfg, f.ws, in);
    // fp32 carries ~2^-24 relative error per op; a few hundred ops keep the NMSE near 1e-13. A wrong
    // equation (mask, RoPE pairing, norm form) gives NMSE of order 1e-3..1.
    for (const auto& [name, want] : o.trace) {
      INFO(name);
      REQUIRE(tr.count(name) == 1);
      CHECK(nmse(want, tr[name]) < 1e-10);
    }
    const double e = nmse(o.logits, logits);
    INFO("logits NMSE " << e);
    CHECK(e < 1e-10);
    // The check has teeth: the logits are not trivially small and differ across positions.
    double ss = 0;
    for (double z : o.logits) ss += z * z;
    CHECK(ss / static_cast<double>(o.logits.size()) > 1e-4);
  }
}

TEST_CASE("reference fp32 agrees with float64 on a 1-layer 2-token model", "[reference]") {
  TinySpec spec;
  spec.layers = 1;
  spec.multimodal = false;
  spec.seed = 9;
  Fixture f(spec, "one_layer");
  const Model m = Model::from_weights(f.cfg, f.ws, Precision::FP32);
  ForwardInput in;
  in.ids = {2, 77};
  CHECK(nmse(oracle_forward(f.cfg, f.ws, in).logits, m.forward(in)) < 1e-10);
}

TEST_CASE("reference bf16 stays within bf16 rounding of float64", "[reference]") {
  Fixture f(TinySpec{}, "bf16");
  const Model m = Model::from_weights(f.cfg, f.ws, Precision::BF16);
  const ForwardInput in = multimodal_input(f.cfg);
  const double e = nmse(oracle_forward(f.cfg, f.ws, in).logits, m.forward(in));
  INFO("bf16 logits NMSE " << e);
  // One bf16 rounding has relative error <= 2^-9 (rms ~2^-9/sqrt(3) ~ 1.1e-3, NMSE ~1.3e-6 per op); most
  // ops add little. The attention scores dominate: with scale 1.0 they reach |s| ~ 8..16, where a bf16
  // step is 2^-4, so each score moves by up to 0.03 and the softmax weights by ~2% (NMSE ~2e-4 per
  // attention layer, measured 4e-4 over 3 layers). 3e-3 leaves a margin and still catches a wrong graph
  // (an off-by-one window gives 0.36). The lower bound proves that rounding happens (fp32 mode: ~1e-12).
  CHECK(e < 3e-3);
  CHECK(e > 1e-8);
}

TEST_CASE("KV-cached decoding gives the same bits as one full forward", "[reference]") {
  Fixture f(TinySpec{}, "decode");
  for (Precision p : {Precision::BF16, Precision::FP32}) {
    const Model m = Model::from_weights(f.cfg, f.ws, p);
    ForwardInput full = multimodal_input(f.cfg);
    const int64_t V = f.cfg.text.vocab_size;
    const std::vector<int32_t> tail = {5, 88, 123, 400, 7, 6, 99};  // 7 decode steps cross the window of 4
    ForwardInput prefix = full;
    full.ids.insert(full.ids.end(), tail.begin(), tail.end());
    const auto want = m.forward(full);
    Session s = m.session();
    auto got = s.prefill(prefix);
    for (int32_t id : tail) {
      const auto row = s.decode(id);
      got.insert(got.end(), row.begin(), row.end());
    }
    REQUIRE(got.size() == want.size());
    CHECK(s.length() == static_cast<int64_t>(full.ids.size()));
    for (size_t t = 0; t < full.ids.size(); ++t) {
      INFO("position " << t);
      CHECK(std::memcmp(got.data() + t * V, want.data() + t * V, static_cast<size_t>(V) * 4) == 0);
    }
  }
}

TEST_CASE("reference is deterministic across runs and thread counts", "[reference]") {
  Fixture f(TinySpec{}, "threads");
  const Model m = Model::from_weights(f.cfg, f.ws, Precision::BF16);
  const ForwardInput in = multimodal_input(f.cfg);
  set_num_threads(1);
  const auto a = m.forward(in);
  const auto b = m.forward(in);
  set_num_threads(4);
  const auto c = m.forward(in);
  set_num_threads(1);
  CHECK(same_bits(a, b));
  CHECK(same_bits(a, c));
  // And a reload from disk gives the same bits.
  CHECK(same_bits(a, Model::load(f.dir, Precision::BF16).forward(in)));
}

TEST_CASE("trace names / shapes / and k_eq_v: V is v_norm of the raw k_proj output", "[reference]") {
  Fixture f(TinySpec{}, "trace");
  const Model m = Model::from_weights(f.cfg, f.ws, Precision::FP32);
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tr;
  const TraceFn trace = [&](const std::string& n, const std::vector<int64_t>& s, std::span<const float> v) {
    tr[n] = {s, std::vector<float>(v.begin(), v.end())};
  };
  const ForwardInput in = multimodal_input(f.cfg);
  const auto logits = m.forward(in, &trace);
  const int64_t T = 15, H = 64, I = 128, V = 512;
  const std::map<std::string, std::vector<int64_t>> want = {{"embed", {T, H}},
                                                            {"vision.tokens", {4, H}},
                                                            {"audio.tokens", {2, H}},
                                                            {"final_norm", {T, H}},
                                                            {"logits", {T, V}},
                                                            {"layers.0.attn_in", {T, H}},
                                                            {"layers.0.q", {T, 4, 16}},
                                                            {"layers.0.k", {T, 2, 16}},
                                                            {"layers.0.v", {T, 2, 16}},
                                                            {"layers.0.attn", {T, 64}},
                                                            {"layers.0.attn_out", {T, H}},
                                                            {"layers.0.mid", {T, H}},
                                                            {"layers.0.ffn_in", {T, H}},
                                                            {"layers.0.ffn_act", {T, I}},
                                                            {"layers.0.ffn_out", {T, H}},
                                                            {"layers.0.out", {T, H}},
                                                            {"layers.2.q", {T, 4, 32}},
                                                            {"layers.2.k", {T, 1, 32}},
                                                            {"layers.2.v", {T, 1, 32}},
                                                            {"layers.2.attn", {T, 128}}};
  for (const auto& [name, shape] : want) {
    INFO(name);
    REQUIRE(tr.count(name) == 1);
    CHECK(tr[name].first == shape);
  }
  CHECK(same_bits(tr["logits"].second, logits));
  // k_eq_v on the full layer 2: V = rmsnorm_noscale(attn_in @ Wkᵀ) per head, before k_norm and RoPE.
  const std::vector<float> Wk = to_f32(f.ws.get("model.language_model.layers.2.self_attn.k_proj.weight"));
  const auto& x = tr["layers.2.attn_in"].second;
  const auto& v = tr["layers.2.v"].second;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> k(32);
    double ms = 0;
    for (int64_t o = 0; o < 32; ++o) {
      for (int64_t i = 0; i < H; ++i) k[o] += double(x[t * H + i]) * Wk[o * H + i];
      ms += k[o] * k[o] / 32;
    }
    for (int64_t o = 0; o < 32; ++o) CHECK(v[t * 32 + o] == Approx(k[o] / std::sqrt(ms + 1e-6)).margin(1e-5));
  }
}

TEST_CASE("reference rejects bad input with an InputError", "[reference]") {
  Fixture f(TinySpec{}, "bad");
  const Model m = Model::from_weights(f.cfg, f.ws, Precision::FP32);
  ForwardInput in;
  in.ids = {2, 512};
  CHECK_THROWS_AS(m.forward(in), InputError);
  in.ids = {};
  CHECK_THROWS_AS(m.forward(in), InputError);
  ForwardInput mm = multimodal_input(f.cfg);
  mm.media[0].n = 3;  // data no longer matches n
  CHECK_THROWS_AS(m.forward(mm), InputError);
  mm = multimodal_input(f.cfg);
  mm.ids.push_back(static_cast<int32_t>(f.cfg.image_token_id));  // one placeholder more than soft tokens
  CHECK_THROWS_AS(m.forward(mm), InputError);
  mm = multimodal_input(f.cfg);
  mm.media[0].positions[0] = {16, 0};  // outside the 16-entry position table
  CHECK_THROWS_AS(m.forward(mm), InputError);
}
