// The CPU engine against the reference on the small test checkpoint (window 4, so short prompts cross it).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "core/config.h"
#include "core/error.h"
#include "engine/backend.h"
#include "engine/cpu/attention.h"
#include "engine/cpu/cpu_model.h"
#include "engine/quantize_checkpoint.h"
#include "engine/weights.h"
#include "evals/backends.h"
#include "evals/check.h"
#include "reference/decoder.h"
#include "tests/reference/tiny_checkpoint.h"

using namespace g4;

namespace {

std::filesystem::path checkpoint() {
  static const std::filesystem::path dir = [] {
    test::TinySpec spec;
    spec.multimodal = false;
    spec.layers = 3;
    return test::write_tiny_checkpoint(spec, "engine");
  }();
  return dir;
}

std::unique_ptr<engine::Model> open(const std::string& backend, const std::string& quant, int threads = 0) {
  evals::BackendOptions o;
  o.backend = backend;
  o.quant = quant;
  o.precision = backend == "reference" ? "fp32" : "bf16";
  o.threads = threads;
  return evals::open_model(checkpoint(), o);
}

ForwardInput prompt(size_t n) {
  ForwardInput in;
  in.ids = {2};
  for (size_t i = 1; i < n; ++i) in.ids.push_back(static_cast<int32_t>(10 + (i * 37) % 480));
  return in;
}

double nmse(const std::vector<float>& a, const std::vector<float>& b) {
  return evals::compare_tensors(a, b).nmse;
}

}  // namespace

TEST_CASE("cpu engine with f32 weights matches the fp32 reference", "[engine][cpu]") {
  const auto ref = open("reference", "f32");
  const auto eng = open("cpu", "f32");
  const ForwardInput in = prompt(13);  // crosses the window of 4 three times
  const auto want = ref->session()->prefill(in, engine::LogitsWanted::All);
  const auto got = eng->session()->prefill(in, engine::LogitsWanted::All);
  REQUIRE(got.size() == want.size());
  // Same graph in f32, only the summation order differs: f32 rounding noise (~1e-7 relative per op).
  CHECK(nmse(want, got) < 1e-10);
}

TEST_CASE("cpu engine decode steps agree with one prefill over the whole sequence", "[engine][cpu]") {
  const auto eng = open("cpu", "f32");
  const ForwardInput in = prompt(14);
  const auto full = eng->session()->prefill(in, engine::LogitsWanted::All);
  const int64_t V = eng->config().text.vocab_size;
  auto s = eng->session();
  ForwardInput head;
  head.ids.assign(in.ids.begin(), in.ids.begin() + 6);
  s->prefill(head, engine::LogitsWanted::None);
  for (size_t t = 6; t < in.ids.size(); ++t) {
    const auto row = s->decode(in.ids[t]);
    const std::vector<float> want(full.begin() + static_cast<int64_t>(t) * V,
                                  full.begin() + static_cast<int64_t>(t + 1) * V);
    CHECK(nmse(want, row) < 1e-10);  // ring cache slots and the window mask line up with the one-shot prefill
  }
  CHECK(s->length() == 14);
}

TEST_CASE("cpu engine logits do not depend on the thread count", "[engine][cpu]") {
  const ForwardInput in = prompt(9);
  std::vector<std::vector<float>> pre, dec;
  for (const int threads : {1, 2}) {
    const auto eng = open("cpu", "q8_0", threads);
    auto s = eng->session();
    pre.push_back(s->prefill(in, engine::LogitsWanted::Last));
    dec.push_back(s->decode(77));
  }
  engine::cpu::set_threads(0);
  CHECK(std::memcmp(dec[0].data(), dec[1].data(), dec[0].size() * 4) == 0);
  CHECK(std::memcmp(pre[0].data(), pre[1].data(), pre[0].size() * 4) == 0);
}

TEST_CASE("visible key ranges equal the reference mask", "[engine][cpu]") {
  // Blocks: positions 5..9 form an image block; windows 0 (full), 3 and 8.
  std::vector<int64_t> block_of(16, -1);
  for (int i = 5; i <= 9; ++i) block_of[static_cast<size_t>(i)] = 0;
  for (const int64_t window : {0, 3, 8})
    for (int64_t i = 0; i < 16; ++i) {
      const bool in_block = block_of[static_cast<size_t>(i)] >= 0;
      const auto r = engine::cpu::visible_keys(i, window, in_block ? 5 : -1, in_block ? 9 : -1);
      for (int64_t j = 0; j < 16; ++j) {
        const bool want = reference::key_visible(i, j, window > 0, window > 0 ? window : 1 << 30, block_of);
        CHECK((j >= r.lo && j <= r.hi) == want);
      }
    }
}

TEST_CASE("a quantized checkpoint reproduces the logits of quantizing on the fly",
          "[engine][cpu][quantize]") {
  const auto out = checkpoint().parent_path() / (checkpoint().filename().string() + "-q4_0");
  const auto sum =
      engine::write_quantized_checkpoint(checkpoint(), engine::parse_weight_plan("q4_0,embed=q8_0"), out);
  CHECK(sum.quantized ==
        1 + 3 * 7 - 1);  // embed + 7 matrices per layer, minus v_proj of the k_eq_v full layer
  CHECK(sum.bytes_out < sum.bytes_in);
  const ForwardInput in = prompt(7);
  const auto on_the_fly = open("cpu", "q4_0,embed=q8_0")->session()->prefill(in, engine::LogitsWanted::All);
  evals::BackendOptions o;
  o.backend = "cpu";
  o.quant = "";  // the checkpoint's own plan
  const auto stored = evals::open_model(out, o);
  CHECK(stored->plan() == "q4_0,embed=q8_0");
  const auto loaded = stored->session()->prefill(in, engine::LogitsWanted::All);
  REQUIRE(loaded.size() == on_the_fly.size());
  CHECK(std::memcmp(loaded.data(), on_the_fly.data(), loaded.size() * 4) == 0);
  o.quant = "q8_0";  // asking for another plan than the checkpoint's is an error, not a silent requantization
  CHECK_THROWS_AS(evals::open_model(out, o), InputError);
  std::filesystem::remove_all(out);
}

TEST_CASE("check passes for every CPU weight plan on the test checkpoint", "[engine][check]") {
  evals::BackendOptions ro;
  ro.backend = "reference";
  const auto ref_bf16 = evals::open_model(checkpoint(), ro);
  // Hidden 64 takes no k-quants. This 3-layer random checkpoint amplifies errors about 3x per layer, faster
  // than the linear growth the cumulative budgets assume (docs/checking.md), so 4-bit is checked isolated.
  for (const std::string plan : {"bf16", "f32", "i8", "q8_0", "q4_0,embed=q8_0"})
    for (const auto mode : {evals::CheckMode::Cumulative, evals::CheckMode::Isolated}) {
      if (plan.rfind("q4", 0) == 0 && mode == evals::CheckMode::Cumulative) continue;
      evals::CheckOptions opt;
      opt.mode = mode;
      opt.decode_steps = 2;
      opt.prompt = prompt(11).ids;
      const auto r = evals::run_check(*ref_bf16, *open("cpu", plan), opt);
      INFO(plan << " " << r.mode
                << " first failure: " << (r.first_failure ? r.tensors[*r.first_failure].name : ""));
      CHECK(r.passed());
      CHECK(r.decoded.size() == 2);
      CHECK(r.tensors.size() == 3 * (1 + 3 * 11 + 2));  // per step: embed, 11 per layer, final_norm, logits
    }
}

TEST_CASE("cpu engine runs images and audio like the reference", "[engine][check]") {
  test::TinySpec
      spec;  // multimodal: image placeholder 500, audio 501, 6x6-px patches (108 values), 40-sample frames
  spec.layers = 3;
  const auto dir = test::write_tiny_checkpoint(spec, "engine_mm");
  evals::BackendOptions ro, eo;
  ro.backend = "reference";
  eo.backend = "cpu";
  const auto ref = evals::open_model(dir, ro);
  const auto eng = evals::open_model(dir, eo);
  evals::CheckOptions opt;
  opt.decode_steps = 1;
  // An image block of 6 (longer than the window of 4: the bidirectional block mask reaches past it) and 2
  // audio frames.
  opt.prompt = {2, 10, 20, 500, 500, 500, 500, 500, 500, 30, 501, 501, 40};
  SoftTokenInput img, aud;
  img.kind = SoftTokenInput::Image;
  img.n = 6;
  for (int i = 0; i < 6 * 108; ++i) img.data.push_back(static_cast<float>((i * 37) % 101) / 100.0f);
  img.positions = {{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}, {2, 1}};
  aud.kind = SoftTokenInput::Audio;
  aud.n = 2;
  for (int i = 0; i < 2 * 40; ++i) aud.data.push_back(0.3f * static_cast<float>(std::sin(i * 0.7)));
  opt.media = {img, aud};
  for (const auto mode : {evals::CheckMode::Cumulative, evals::CheckMode::Isolated}) {
    opt.mode = mode;
    const auto r = evals::run_check(*ref, *eng, opt);
    INFO(r.mode << " first failure: " << (r.first_failure ? r.tensors[*r.first_failure].name : ""));
    CHECK(r.passed());
    bool vision = false, audio = false;
    for (const auto& t : r.tensors) {
      vision = vision || t.name == "vision.tokens";
      audio = audio || t.name == "audio.tokens";
    }
    CHECK(vision);
    CHECK(audio);
  }
  std::filesystem::remove_all(dir);
}
