#include "evals/check.h"

#include <cmath>
#include <map>
#include <random>

#include "core/error.h"
#include "core/special_tokens.h"

namespace g4::evals {
namespace {

using TensorMap = std::map<std::string, std::vector<float>>;

struct Recorder {
  TensorMap values;
  std::vector<std::pair<std::string, std::vector<int64_t>>> order;
  TraceFn fn() {
    return [this](const std::string& name, const std::vector<int64_t>& shape, std::span<const float> v) {
      values[name].assign(v.begin(), v.end());
      order.emplace_back(name, shape);
    };
  }
};

// Expected NMSE that one matrix product's output picks up from a storage format: the variance of the
// weights' quantization noise (step²/12 for Gaussian-like rows, step from the format's block scale) plus that
// of the activations' conversion (q8_0 / q8_K), relative to the signal (docs/checking.md, "Budgets").
double format_noise(quant::Format f) {
  switch (f) {
    case quant::Format::F32:
      return 0.0;
    case quant::Format::BF16:
      return 2e-6;  // activations rounded to bf16 for the bf16 GEMM
    case quant::Format::Q8_0:
      return 5e-5;  // step amax/127, amax ≈ 2.1σ over 32 values; ×2 with q8_0 activations
    case quant::Format::I8:
      return 1.3e-4;  // step amax/127 with amax ≈ 4.5σ over a whole row
    case quant::Format::Q6_K:
      return 4e-4;  // 6-bit, one scale per 16 values
    case quant::Format::Q4_0:
      return 6e-3;  // step amax/8
    case quant::Format::Q4_K:
      return 7e-3;  // step (max - min)/15 per 32 values
    default:
      return 1e-2;
  }
}

// The bf16 reference's own rounding noise within one layer: the engine keeps f32 activations where the
// reference rounds every op's output to bf16, so even an f32 engine differs by this much (measured on the
// make-tiny checkpoint: at most 9.2e-5 for any tensor in isolated mode with f32 weights).
constexpr double kBf16Floor = 1e-4;
// Products along the longest path inside a layer (q/k -> scores -> v -> o_proj; gate/up -> down).
constexpr double kProductsPerLayer = 4.0;
// Headroom over the expected noise: the measured worst tensor sits 2.7-5x under the budget for every format.
constexpr double kHeadroom = 6.0;
constexpr double kDecodeFactor = 4.0;
// Above this NMSE (cosine ~0.7) agreement means nothing; no budget is looser.
constexpr double kMaxBudget = 0.5;

int64_t layer_of(const std::string& name) {
  if (name.rfind("layers.", 0) != 0) return -1;
  return std::stoll(name.substr(7, name.find('.', 7) - 7));
}

}  // namespace

CheckMode parse_check_mode(const std::string& s) {
  if (s == "cumulative") return CheckMode::Cumulative;
  if (s == "isolated") return CheckMode::Isolated;
  fail_input("--mode", "'" + s + "' is not cumulative or isolated");
}

double nmse_budget(const engine::WeightPlan& plan, CheckMode mode, const std::string& tensor,
                   int64_t num_layers, int64_t step) {
  const double q = std::max({format_noise(plan.embed), format_noise(plan.attn), format_noise(plan.ffn)});
  double budget = kHeadroom * (kBf16Floor + kProductsPerLayer * q);
  if (mode == CheckMode::Cumulative) {
    // Independent errors of successive layers add in variance, so the residual stream's NMSE grows about
    // linearly with depth (measured: x5 after 6 layers in bf16, x2.5 in q4_0 where it starts to saturate).
    const int64_t l = layer_of(tensor);
    const bool input_side =
        tensor == "embed" || tensor.rfind("vision", 0) == 0 || tensor.rfind("audio", 0) == 0;
    budget *= static_cast<double>(l >= 0 ? l + 1 : (input_side ? 1 : num_layers));
  }
  // A decode step is one row (no averaging over tokens) whose attention reads the whole KV cache, which
  // holds every earlier position's error: measured up to 4x the prefill's NMSE at the same tensor.
  if (step > 0) budget *= kDecodeFactor;
  return std::min(budget, kMaxBudget);
}

TensorCheck compare_tensors(std::span<const float> ref, std::span<const float> got) {
  TensorCheck c;
  G4_CHECK(ref.size() == got.size(), "compare_tensors: sizes differ");
  double se = 0, ss_ref = 0, ss_got = 0, dot = 0, mx = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double a = ref[i], b = got[i];
    if (!std::isfinite(a) || !std::isfinite(b)) {
      c.finite = false;
      continue;
    }
    const double d = a - b;
    se += d * d;
    ss_ref += a * a;
    ss_got += b * b;
    dot += a * b;
    mx = std::max(mx, std::abs(d));
  }
  c.nmse = ss_ref > 0 ? se / ss_ref : (se > 0 ? INFINITY : 0.0);
  c.max_abs = mx;
  c.cosine = ss_ref > 0 && ss_got > 0 ? dot / std::sqrt(ss_ref * ss_got) : (ss_ref == ss_got ? 1.0 : 0.0);
  return c;
}

std::vector<int32_t> default_check_prompt(const ModelConfig& cfg, int64_t n) {
  std::vector<int32_t> ids{static_cast<int32_t>(tok::kBos)};
  std::mt19937_64 rng(20261128);
  // Ordinary text ids: past the special/control range at the start of the Gemma vocabulary.
  const int64_t lo = std::min<int64_t>(1000, cfg.text.vocab_size / 2), hi = cfg.text.vocab_size - 1;
  while (static_cast<int64_t>(ids.size()) < n) {
    const int64_t id = lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo));
    const bool media = id == cfg.image_token_id || id == cfg.audio_token_id || id == cfg.video_token_id ||
                       id == cfg.boi_token_id || id == cfg.eoi_token_id || id == cfg.boa_token_id ||
                       id == cfg.eoa_token_index;
    if (!media) ids.push_back(static_cast<int32_t>(id));  // placeholders would need soft tokens
  }
  return ids;
}

CheckResult run_check(const engine::Model& reference, const engine::Model& engine, const CheckOptions& opt) {
  const ModelConfig& cfg = reference.config();
  const int64_t L = cfg.text.num_hidden_layers, H = cfg.text.hidden_size;
  if (opt.prompt.empty()) fail_input("check", "empty prompt");
  const engine::WeightPlan plan = engine::parse_weight_plan(engine.plan());
  CheckResult r;
  r.backend = engine.backend();
  r.plan = engine.plan();
  r.mode = opt.mode == CheckMode::Cumulative ? "cumulative" : "isolated";
  r.prompt = opt.prompt;

  auto ref_s = reference.session(static_cast<int64_t>(opt.prompt.size()) + opt.decode_steps + 1);
  auto eng_s = engine.session(static_cast<int64_t>(opt.prompt.size()) + opt.decode_steps + 1);
  int32_t next = 0;
  for (int64_t step = 0; step <= opt.decode_steps; ++step) {
    ForwardInput in;
    if (step == 0) {
      in.ids = opt.prompt;
      in.media = opt.media;
    } else {
      in.ids = {next};
    }
    const int64_t T = static_cast<int64_t>(in.ids.size());

    Recorder ref_rec, eng_rec;
    const TraceFn ref_fn = ref_rec.fn(), eng_fn = eng_rec.fn();
    const std::vector<float> ref_logits = ref_s->prefill(in, engine::LogitsWanted::Last, {&ref_fn, nullptr});
    // Isolated mode: layer i starts from the reference's layers.{i-1}.out (embed for layer 0).
    const engine::LayerInputFn inject = [&](int64_t layer, std::span<float> h) {
      const std::string src = layer == 0 ? "embed" : "layers." + std::to_string(layer - 1) + ".out";
      const auto it = ref_rec.values.find(src);
      G4_CHECK(it != ref_rec.values.end() && it->second.size() == h.size() &&
                   static_cast<int64_t>(h.size()) == T * H,
               "check: reference input of layer " + std::to_string(layer));
      std::copy(it->second.begin(), it->second.end(), h.begin());
    };
    engine::StepHooks hooks{&eng_fn, opt.mode == CheckMode::Isolated ? &inject : nullptr};
    eng_s->prefill(in, engine::LogitsWanted::Last, hooks);

    for (const auto& [name, shape] : eng_rec.order) {
      const auto ref_it = ref_rec.values.find(name);
      if (ref_it == ref_rec.values.end()) continue;  // a tensor the reference does not emit
      const auto& got = eng_rec.values[name];
      if (got.size() != ref_it->second.size())
        fail_input("check", "tensor " + name + " has " + std::to_string(got.size()) + " values from " +
                                r.backend + " but " + std::to_string(ref_it->second.size()) +
                                " from the reference");
      TensorCheck c = compare_tensors(ref_it->second, got);
      c.step = step;
      c.name = name;
      c.shape = shape;
      c.budget = nmse_budget(plan, opt.mode, name, L, step);
      r.tensors.push_back(c);
      if (!c.pass() && !r.first_failure) r.first_failure = r.tensors.size() - 1;
    }
    for (const auto& [name, v] : ref_rec.values)
      if (!eng_rec.values.count(name))
        fail_input("check", "the " + r.backend + " backend did not emit trace tensor " + name);
    // Greedy continuation chosen by the reference, fed to both.
    next = static_cast<int32_t>(std::max_element(ref_logits.begin(), ref_logits.end()) - ref_logits.begin());
    if (step < opt.decode_steps) r.decoded.push_back(next);
    if (r.first_failure) break;  // stop at the first tensor over budget
  }
  return r;
}

nlohmann::json CheckResult::to_json() const {
  nlohmann::json j;
  j["backend"] = backend;
  j["plan"] = plan;
  j["mode"] = mode;
  j["prompt_tokens"] = prompt.size();
  j["decoded"] = decoded;
  j["passed"] = passed();
  if (first_failure) {
    const TensorCheck& f = tensors[*first_failure];
    j["first_failure"] = {{"step", f.step}, {"tensor", f.name}, {"nmse", f.nmse}, {"budget", f.budget}};
  } else {
    j["first_failure"] = nullptr;
  }
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& t : tensors)
    arr.push_back({{"step", t.step},
                   {"tensor", t.name},
                   {"shape", t.shape},
                   {"nmse", t.nmse},
                   {"max_abs", t.max_abs},
                   {"cosine", t.cosine},
                   {"finite", t.finite},
                   {"budget", t.budget},
                   {"pass", t.pass()}});
  j["tensors"] = arr;
  return j;
}

}  // namespace g4::evals
