// g4eval check: the engine against the reference, tensor by tensor (evals/check.h, docs/checking.md).
//   g4eval check --model DIR --backend cpu --quant q4_0 --mode isolated --decode-steps 4 --json out.json
#include <cstdio>
#include <fstream>

#include "cli/command.h"
#include "cli/input_args.h"
#include "core/error.h"
#include "evals/backends.h"
#include "evals/check.h"

namespace g4::cli {
namespace {

struct CheckArgs {
  std::string model, backend = "cpu", quant = "bf16", mode = "cumulative", json, ids, prompt, chat;
  int64_t decode_steps = 4, tokens = 0;
  int threads = 0;
  bool all_rows = false;
};

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "x" : "") + std::to_string(s[i]);
  return r;
}

int run_check_cmd(const CheckArgs& a) {
  if (a.backend == "reference")
    fail_input("--backend", "check compares an engine backend (cpu, cuda) with the reference");
  if (a.decode_steps < 0 || a.decode_steps > 1000) fail_input("--decode-steps", "must be in [0, 1000]");
  evals::BackendOptions ro;
  ro.backend = "reference";
  ro.threads = a.threads;
  evals::BackendOptions eo = ro;
  eo.backend = a.backend;
  eo.quant = a.quant;
  const evals::CheckMode mode = evals::parse_check_mode(a.mode);
  const ModelConfig cfg = load_model_config(std::filesystem::path(a.model) / "config.json");
  const WeightSet ws = WeightSet::open_dir(a.model);
  const auto engine = evals::open_model(cfg, ws, eo);
  const auto reference = evals::open_model(cfg, ws, ro);

  evals::CheckOptions opt;
  opt.mode = mode;
  opt.decode_steps = a.decode_steps;
  if (!a.ids.empty() || !a.prompt.empty() || !a.chat.empty()) {
    ForwardInput in = read_forward_input(a.model, a.ids, a.prompt, a.chat);
    opt.prompt = std::move(in.ids);
    opt.media = std::move(in.media);
  } else {
    // Long enough to cross the sliding window, so the ring cache and the window mask are exercised.
    const int64_t n = a.tokens > 0 ? a.tokens : std::min<int64_t>(2 * cfg.text.sliding_window + 8, 512);
    opt.prompt = evals::default_check_prompt(cfg, n);
  }
  const evals::CheckResult r = evals::run_check(*reference, *engine, opt);

  std::printf("check %s plan=%s mode=%s: %zu prompt tokens, %zu decode steps\n", r.backend.c_str(),
              r.plan.c_str(), r.mode.c_str(), r.prompt.size(), r.decoded.size());
  std::printf("%-5s %-28s %-14s %12s %12s %12s %10s  %s\n", "step", "tensor", "shape", "nmse", "budget",
              "max_abs", "cosine", "");
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const auto& t = r.tensors[i];
    // Without --all, show the prefill and the failing step; each decode step is summarised by its logits.
    const bool show = a.all_rows || t.step == 0 || !t.pass() || t.name == "logits";
    if (!show) continue;
    std::printf("%-5lld %-28s %-14s %12.3e %12.3e %12.3e %10.6f  %s\n", static_cast<long long>(t.step),
                t.name.c_str(), shape_str(t.shape).c_str(), t.nmse, t.budget, t.max_abs, t.cosine,
                !t.finite ? "NaN/Inf" : (t.pass() ? "ok" : "OVER BUDGET"));
  }
  if (!a.json.empty()) {
    write_json_file(a.json, r.to_json());
  }
  if (r.first_failure) {
    const auto& t = r.tensors[*r.first_failure];
    std::printf("FAIL: first tensor over budget: %s at step %lld (nmse %.3e > %.3e)\n", t.name.c_str(),
                static_cast<long long>(t.step), t.nmse, t.budget);
    return 1;
  }
  std::printf("PASS: %zu tensors within budget\n", r.tensors.size());
  return 0;
}

RegisterCommand reg(
    "check", "Compare an engine backend with the reference, layer by layer", [](CLI::App& app) -> Action {
      auto a = std::make_shared<CheckArgs>();
      app.add_option("--model", a->model, "checkpoint directory")->required();
      app.add_option("--backend", a->backend, "engine backend: cpu | cuda (default cpu)");
      app.add_option("--quant", a->quant,
                     "weight plan: bf16 f32 i8 q8_0 q4_0 q4_k q6_k [,embed=|attn=|ffn=FMT]");
      app.add_option("--mode", a->mode,
                     "cumulative (engine runs on its own) | isolated (each layer fed the reference's input)");
      app.add_option("--decode-steps", a->decode_steps, "greedy decode steps after the prefill (default 4)");
      app.add_option("--tokens", a->tokens,
                     "length of the default prompt (default: 2 x sliding window + 8, <= 512)");
      app.add_option("--ids", a->ids, "prompt as comma-separated token ids instead of the default");
      app.add_option("--prompt", a->prompt, "prompt text instead of the default");
      app.add_option("--chat", a->chat, "chat JSON file instead of the default");
      app.add_option("--json", a->json, "write every comparison to this JSON file");
      app.add_option("--threads", a->threads, "threads (default: G4_THREADS or all cores)");
      app.add_flag("--all", a->all_rows, "print every decode step's tensors, not only their logits");
      return [a] { return run_check_cmd(*a); };
    });

}  // namespace
}  // namespace g4::cli
