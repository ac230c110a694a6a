// The CUDA backend as a whole on the make-tiny architecture (hidden 256, 5 sliding layers of head dim 64 with
// a window of 32 and 1 full layer of head dim 128 with k_eq_v, the real vocabulary, vision and audio): every
// trace tensor against the bf16 reference (reference/model.h), for every weight plan; KV-cached decoding
// (CUDA graph) against a full prefill; prefill in chunks against one chunk; the isolated mode's layer-input
// hook; shape-only models. Skips, saying why, without a GPU.
#include <catch2/catch.hpp>

#ifdef G4_HAVE_CUDA

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/tiny_checkpoint.h"
#include "engine/backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_info.h"
#include "engine/gpu.h"
#include "reference/model.h"
#include "tests/test_util.h"

namespace {

bool have_gpu(const char* what) {
  const g4::GpuStatus s = g4::probe_gpu();
  if (!s.available) std::printf("SKIP %s: %s\n", what, s.reason.c_str());
  return s.available;
}

struct Traced {
  std::vector<int64_t> shape;
  std::vector<float> values;
};
using TraceMap = std::map<std::string, Traced>;

g4::TraceFn recorder(TraceMap& out) {
  return [&out](const std::string& name, const std::vector<int64_t>& shape, std::span<const float> v) {
    out[name] = {shape, std::vector<float>(v.begin(), v.end())};
  };
}

double nmse(std::span<const float> got, std::span<const float> want) {
  double e = 0, s = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    e += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    s += static_cast<double>(want[i]) * want[i];
  }
  return s > 0 ? e / s : e;
}

// One tiny checkpoint for the whole file (writing 67M parameters takes a moment).
struct Tiny {
  g4::testing::TempDir dir{"cuda_tiny"};
  g4::ModelConfig cfg = g4::tiny_model_config();
  Tiny() {
    std::ofstream(dir.path / "config.json") << g4::to_json(cfg).dump(2) << "\n";
    g4::write_tiny_weights(cfg, 7, dir.path / "model.safetensors");
  }
};
Tiny& tiny() {
  static Tiny t;
  return t;
}

// 90 tokens: text, an image of 6 soft tokens, text, audio of 4 frames, text. Crosses the window of 32.
g4::ForwardInput tiny_input(const g4::ModelConfig& c) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> text(10, 5000);
  std::uniform_real_distribution<float> px(0.f, 1.f), au(-0.3f, 0.3f);
  g4::ForwardInput in;
  const int32_t img = static_cast<int32_t>(c.image_token_id), aud = static_cast<int32_t>(c.audio_token_id);
  in.ids.push_back(2);
  for (int i = 0; i < 20; ++i) in.ids.push_back(text(rng));
  in.ids.push_back(static_cast<int32_t>(c.boi_token_id));
  for (int i = 0; i < 6; ++i) in.ids.push_back(img);
  in.ids.push_back(static_cast<int32_t>(c.eoi_token_id));
  for (int i = 0; i < 25; ++i) in.ids.push_back(text(rng));
  in.ids.push_back(static_cast<int32_t>(c.boa_token_id));
  for (int i = 0; i < 4; ++i) in.ids.push_back(aud);
  in.ids.push_back(static_cast<int32_t>(c.eoa_token_index));
  while (in.ids.size() < 90) in.ids.push_back(text(rng));
  g4::SoftTokenInput image;
  image.kind = g4::SoftTokenInput::Image;
  image.n = 6;
  for (int64_t i = 0; i < 6 * c.vision.patch_dim(); ++i) image.data.push_back(px(rng));
  for (int i = 0; i < 6; ++i) image.positions.emplace_back(i % 3, i / 3);
  g4::SoftTokenInput audio;
  audio.kind = g4::SoftTokenInput::Audio;
  audio.n = 4;
  for (int64_t i = 0; i < 4 * c.audio.audio_embed_dim; ++i) audio.data.push_back(au(rng));
  in.media = {image, audio};
  return in;
}

std::unique_ptr<g4::engine::Model> cuda_model(const std::string& quant) {
  g4::engine::EngineOptions opt;
  opt.backend = "cuda";
  opt.quant = quant;
  return g4::engine::load_model(tiny().dir.path, opt);
}

const TraceMap& reference_trace() {
  static const TraceMap t = [] {
    TraceMap m;
    const auto ref = g4::reference::Model::load(tiny().dir.path, g4::reference::Precision::BF16);
    const g4::TraceFn fn = recorder(m);
    ref.forward(tiny_input(tiny().cfg), &fn);
    return m;
  }();
  return t;
}

}  // namespace

TEST_CASE("cuda backend traces match the bf16 reference for every weight plan", "[cuda]") {
  if (!have_gpu("cuda vs reference")) return;
  const TraceMap& ref = reference_trace();
  // Logits NMSE budgets: bf16 differs from the reference only in summation order and the online softmax;
  // the quantized plans add their weight error (random tiny weights are harder to quantize than trained
  // ones).
  const std::map<std::string, double> budget = {{"bf16", 2e-3}, {"q8_0", 5e-3}, {"i8", 5e-3},
                                                {"q6_k", 2e-2}, {"q4_k", 3e-1}, {"q4_0", 3e-1}};
  for (const auto& [plan, limit] : budget) {
    auto model = cuda_model(plan);
    auto s = model->session();
    TraceMap got;
    const g4::TraceFn fn = recorder(got);
    g4::engine::StepHooks hooks;
    hooks.trace = &fn;
    const auto logits = s->prefill(tiny_input(tiny().cfg), g4::engine::LogitsWanted::All, hooks);
    REQUIRE(got.size() == ref.size());
    std::string worst;
    double worst_e = -1;
    for (const auto& [name, r] : ref) {
      INFO(plan << " " << name);
      REQUIRE(got.count(name) == 1);
      REQUIRE(got.at(name).shape == r.shape);
      const double e = nmse(got.at(name).values, r.values);
      for (float v : got.at(name).values) REQUIRE(std::isfinite(v));
      if (e > worst_e) worst_e = e, worst = name;
    }
    const double el = nmse(logits, ref.at("logits").values);
    std::printf("cuda %-5s vs reference: logits NMSE %.3g, layers.0.attn NMSE %.3g, worst %s %.3g\n",
                plan.c_str(), el, nmse(got.at("layers.0.attn").values, ref.at("layers.0.attn").values),
                worst.c_str(), worst_e);
    CHECK(el < limit);
    if (plan == "bf16") {
      // Before any product the two agree exactly; the first layer's tensors differ by summation order only.
      CHECK(nmse(got.at("layers.0.attn_in").values, ref.at("layers.0.attn_in").values) < 1e-5);
      CHECK(nmse(got.at("layers.0.q").values, ref.at("layers.0.q").values) < 1e-4);
      CHECK(nmse(got.at("layers.0.attn").values, ref.at("layers.0.attn").values) < 1e-3);
      CHECK(nmse(got.at("vision.tokens").values, ref.at("vision.tokens").values) < 1e-4);
      CHECK(nmse(got.at("audio.tokens").values, ref.at("audio.tokens").values) < 1e-4);
    }
  }
}

TEST_CASE("cuda backend decode steps match a full prefill", "[cuda]") {
  if (!have_gpu("cuda decode")) return;
  for (const std::string plan : {"bf16", "q4_0"}) {
    auto model = cuda_model(plan);
    const g4::ForwardInput in = tiny_input(tiny().cfg);
    const int64_t T = static_cast<int64_t>(in.ids.size()), V = tiny().cfg.text.vocab_size, P = 60;
    const auto all = model->session()->prefill(in, g4::engine::LogitsWanted::All);
    auto s = model->session();
    g4::ForwardInput head = in;
    head.ids.resize(static_cast<size_t>(P));
    const auto last = s->prefill(head, g4::engine::LogitsWanted::Last);
    CHECK(nmse(last, std::span<const float>(all).subspan(static_cast<size_t>((P - 1) * V),
                                                         static_cast<size_t>(V))) < 1e-3);
    double worst = 0;
    for (int64_t t = P; t < T; ++t) {  // past the window of 32: the ring wraps
      const auto row = s->decode(in.ids[static_cast<size_t>(t)]);
      worst = std::max(worst, nmse(row, std::span<const float>(all).subspan(static_cast<size_t>(t * V),
                                                                            static_cast<size_t>(V))));
    }
    std::printf("cuda %s decode vs prefill: worst step NMSE %.3g\n", plan.c_str(), worst);
    CHECK(worst < 1e-3);
    CHECK(s->length() == T);
  }
}

TEST_CASE("cuda backend prefill in chunks matches one chunk", "[cuda]") {
  if (!have_gpu("cuda chunks")) return;
  auto model = cuda_model("bf16");
  const g4::ForwardInput in = tiny_input(tiny().cfg);
  const auto one = model->session()->prefill(in, g4::engine::LogitsWanted::All);
  // Chunks of 24: the first cut moves back to 22, where the image block starts; later ones wrap the rings.
  setenv("G4_CUDA_CHUNK_TOKENS", "24", 1);
  std::vector<float> chunked;
  try {
    chunked = model->session()->prefill(in, g4::engine::LogitsWanted::All);
  } catch (...) {
    unsetenv("G4_CUDA_CHUNK_TOKENS");
    throw;
  }
  unsetenv("G4_CUDA_CHUNK_TOKENS");
  const double e = nmse(chunked, one);
  std::printf("cuda chunked prefill vs one chunk: logits NMSE %.3g\n", e);
  CHECK(e < 1e-3);
}

TEST_CASE("cuda backend layer input hook isolates each layer", "[cuda]") {
  if (!have_gpu("cuda isolated mode")) return;
  const TraceMap& ref = reference_trace();
  const int64_t L = tiny().cfg.text.num_hidden_layers;
  auto model = cuda_model("bf16");
  auto s = model->session();
  std::vector<int64_t> seen;
  const g4::engine::LayerInputFn feed = [&](int64_t layer, std::span<float> h) {
    seen.push_back(layer);
    const std::string src = layer == 0 ? "embed" : "layers." + std::to_string(layer - 1) + ".out";
    const auto& v = ref.at(src).values;
    REQUIRE(h.size() == v.size());
    std::copy(v.begin(), v.end(), h.begin());
  };
  TraceMap got;
  const g4::TraceFn fn = recorder(got);
  g4::engine::StepHooks hooks;
  hooks.trace = &fn;
  hooks.layer_input = &feed;
  s->prefill(tiny_input(tiny().cfg), g4::engine::LogitsWanted::Last, hooks);
  std::vector<int64_t> want(static_cast<size_t>(L + 1));
  for (int64_t i = 0; i <= L; ++i) want[static_cast<size_t>(i)] = i;
  CHECK(seen == want);
  for (int64_t i = 0; i < L; ++i) {
    const std::string name = "layers." + std::to_string(i) + ".out";
    const double e = nmse(got.at(name).values, ref.at(name).values);
    INFO(name << " NMSE " << e);
    CHECK(e < 1e-4);  // one layer's worth of difference, not an accumulation
  }
}

TEST_CASE("cuda shape-only models run prefill and decode", "[cuda]") {
  if (!have_gpu("cuda shape-only")) return;
  for (const char* plan : {"bf16", "q4_0", "q4_k,embed=q8_0", "i8"}) {
    auto m = g4::engine::cuda::make_cuda_shape_only_model(g4::tiny_model_config(),
                                                          g4::engine::parse_weight_plan(plan), 3);
    CHECK(m->backend() == "cuda");
    CHECK(m->memory().weight_bytes > 0);
    auto s = m->session(128);
    g4::ForwardInput in;
    for (int i = 0; i < 40; ++i) in.ids.push_back(10 + i);
    auto logits = s->prefill(in);
    for (int i = 0; i < 3; ++i) logits = s->decode(7);
    for (float v : logits) REQUIRE(std::isfinite(v));
    CHECK(s->length() == 43);
    CHECK(s->memory_bytes() > 0);
  }
}

// Speed on the real 12B shapes (shape-only weights): decode bytes per token over the measured copy bandwidth,
// prefill FLOPs over the bf16 tensor-core peak. Hidden tag: run with "[cudabench]" (scripts/gpu-check.sh
// does).
TEST_CASE("cuda 12b decode and prefill speed", "[.][cudabench]") {
  if (!have_gpu("cuda 12b speed")) return;
  const g4::engine::cuda::DeviceInfo dev = g4::engine::cuda::measure_device();
  const g4::ModelConfig cfg = g4::gemma4_12b_config();
  const g4::TextConfig& tc = cfg.text;
  const int64_t H = tc.hidden_size, I = tc.intermediate_size, Hq = tc.num_attention_heads;
  int64_t layer_params = 0;
  for (int64_t i = 0; i < tc.num_hidden_layers; ++i) {
    const int64_t D = tc.layer_head_dim(i), kv = tc.layer_kv_heads(i) * D * (tc.layer_has_v_proj(i) ? 2 : 1);
    layer_params += (Hq * D + kv) * H + H * Hq * D + 3 * H * I;
  }
  auto kv_bytes = [&](int64_t depth) {
    double b = 0;
    for (int64_t i = 0; i < tc.num_hidden_layers; ++i) {
      const int64_t keys = tc.is_full(i) ? depth + 1 : std::min<int64_t>(depth + 1, tc.sliding_window);
      b += static_cast<double>(keys * tc.layer_kv_heads(i) * tc.layer_head_dim(i) * 2 * 2);
    }
    return b;
  };
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  for (const char* plan : {"bf16", "q4_0"}) {
    auto m = g4::engine::cuda::make_cuda_shape_only_model(cfg, g4::engine::parse_weight_plan(plan), 1);
    const double wbytes = static_cast<double>(m->memory().weight_bytes);
    for (int64_t depth : {int64_t{0}, int64_t{4096}}) {
      auto s = m->session(depth + 64 + 1);
      g4::ForwardInput in;
      for (int64_t i = 0; i < std::max<int64_t>(depth, 1); ++i)
        in.ids.push_back(static_cast<int32_t>(1000 + i % 5000));
      s->prefill(in, g4::engine::LogitsWanted::Last);  // warm-up (and the context)
      for (int i = 0; i < 3; ++i) s->decode(7);        // graph capture
      const int n = 32;
      const auto t0 = clock::now();
      for (int i = 0; i < n; ++i) s->decode(7);
      const double per = secs(t0, clock::now()) / n;
      const double gbs = (wbytes + kv_bytes(depth)) / per / 1e9;
      std::printf(
          "cuda bench %-5s tg @ d%-5lld %7.2f ms/token %7.1f t/s  %6.0f GB/s = %3.0f%% of copy %.0f GB/s\n",
          plan, static_cast<long long>(depth), per * 1e3, 1 / per, gbs, 100 * gbs / dev.copy_gbs,
          dev.copy_gbs);
    }
    for (int64_t T : {int64_t{512}, int64_t{4096}}) {
      auto s = m->session(T + 1);
      g4::ForwardInput in;
      for (int64_t i = 0; i < T; ++i) in.ids.push_back(static_cast<int32_t>(1000 + i % 5000));
      s->prefill(in, g4::engine::LogitsWanted::Last);  // warm-up
      auto s2 = m->session(T + 1);
      const auto t0 = clock::now();
      s2->prefill(in, g4::engine::LogitsWanted::Last);
      const double sec = secs(t0, clock::now());
      double attn = 0;  // 4·Hq·D FLOPs per visible key, summed over the prompt's queries
      for (int64_t i = 0; i < tc.num_hidden_layers; ++i)
        for (int64_t t = 0; t < T; ++t)
          attn += 4.0 * static_cast<double>(Hq * tc.layer_head_dim(i)) *
                  static_cast<double>(tc.is_full(i) ? t + 1 : std::min<int64_t>(t + 1, tc.sliding_window));
      const double flops = 2.0 * static_cast<double>(layer_params) * static_cast<double>(T) + attn;
      std::printf(
          "cuda bench %-5s pp%-5lld %8.1f ms %8.0f t/s  %6.0f TFLOP/s = %3.0f%% of 989, %3.0f%% of cuBLAS "
          "%.0f\n",
          plan, static_cast<long long>(T), sec * 1e3, static_cast<double>(T) / sec, flops / sec / 1e12,
          100 * flops / sec / 1e12 / 989.4, 100 * flops / sec / 1e12 / dev.bf16_tflops, dev.bf16_tflops);
    }
  }
}

#endif  // G4_HAVE_CUDA
