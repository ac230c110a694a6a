// g4eval bench: prefill and decode throughput by context depth, llama-bench style (evals/bench.h).
//   g4eval bench --model models/tiny --backend cpu --quant q4_0 --n-prompt 512 --n-gen 128 --depths 0,1024
//   g4eval bench --shape 12b --backend cpu --quant q4_0 --n-prompt 512 --n-gen 32 --reps 2
#include <cstdio>
#include <fstream>

#include "cli/command.h"
#include "core/error.h"
#include "core/tiny_checkpoint.h"
#include "evals/backends.h"
#include "evals/bench.h"

namespace g4::cli {
namespace {

struct BenchArgs {
  std::string model, shape, backend = "cpu", quant, depths = "0", json;
  int64_t n_prompt = 512, n_gen = 128, reps = 3;
  uint64_t seed = 0;
  int threads = 0;
};

ModelConfig shape_config(const std::string& name) {
  if (name == "12b") return gemma4_12b_config();
  if (name == "mid") return mid_model_config();
  if (name == "tiny") return tiny_model_config();
  fail_input("--shape", "'" + name + "' is not 12b, mid or tiny");
}

int run_bench_cmd(const BenchArgs& a) {
  if (a.model.empty() == a.shape.empty())
    fail_input("bench", "give exactly one of --model DIR or --shape 12b|mid|tiny");
  evals::BenchOptions opt;
  opt.n_prompt = a.n_prompt;
  opt.n_gen = a.n_gen;
  opt.reps = a.reps;
  opt.depths = evals::parse_depths(a.depths);
  opt.threads = a.threads;
  std::unique_ptr<engine::Model> model;
  if (!a.shape.empty()) {
    if (a.backend == "reference")
      fail_input("--shape", "shape-only models run on engine backends (cpu, cuda)");
    engine::EngineOptions eo;
    eo.backend = a.backend;
    eo.quant = a.quant.empty() ? "bf16" : a.quant;
    eo.threads = a.threads;
    std::fprintf(stderr, "building shape-only %s model (%s, seeded random weights)...\n", a.shape.c_str(),
                 eo.quant.c_str());
    model = engine::shape_only_model(shape_config(a.shape), eo, a.seed);
    opt.model_label = "shape:" + a.shape;
  } else {
    evals::BackendOptions bo;
    bo.backend = a.backend;
    bo.quant = a.quant.empty() ? (a.backend == "reference" ? "bf16" : "") : a.quant;
    bo.threads = a.threads;
    model = evals::open_model(a.model, bo);
    opt.model_label = a.model;
  }
  std::printf("| backend | quant | test | t/s | ms/token | roofline |\n|---|---|---|---:|---:|---:|\n");
  std::fflush(stdout);
  const auto progress = [&](const evals::BenchRecord& r) {
    std::printf("| %s | %s | %s | %.2f ± %.2f | %.2f | %s |\n", model->backend().c_str(),
                model->plan().c_str(), r.test.c_str(), r.avg_ts, r.stddev_ts, r.avg_ms_per_token,
                r.roofline_fraction > 0
                    ? (std::to_string(static_cast<int>(r.roofline_fraction * 100 + 0.5)) + "%").c_str()
                    : "");
    std::fflush(stdout);
  };
  const evals::BenchResult res = evals::run_bench(*model, opt, progress);
  std::printf("weights %.1f MB; host read bandwidth %.1f GB/s (measured in this run)\n",
              static_cast<double>(res.weight_bytes) / 1e6, res.read_bandwidth_gbs);
  if (!a.json.empty()) {
    write_json_file(a.json, res.to_json());
  }
  return 0;
}

RegisterCommand reg(
    "bench", "Prefill/decode throughput by context depth (llama-bench fields)", [](CLI::App& app) -> Action {
      auto a = std::make_shared<BenchArgs>();
      app.add_option("--model", a->model, "checkpoint directory");
      app.add_option("--shape", a->shape, "shape-only model with seeded random weights: 12b | mid | tiny");
      app.add_option("--backend", a->backend, "reference | cpu | cuda (default cpu)");
      app.add_option("--quant", a->quant,
                     "engine weight plan (default bf16, or a quantized checkpoint's own)");
      app.add_option("--n-prompt", a->n_prompt, "prompt tokens per pp test (0: none; default 512)");
      app.add_option("--n-gen", a->n_gen, "generated tokens per tg test (0: none; default 128)");
      app.add_option("--depths", a->depths, "context depths, comma-separated (default 0)");
      app.add_option("--reps", a->reps, "repetitions after one warm-up (default 3)");
      app.add_option("--json", a->json, "write the records as JSON");
      app.add_option("--seed", a->seed, "shape-only weight seed (default 0)");
      app.add_option("--threads", a->threads, "threads (default: G4_THREADS or all cores)");
      return [a] { return run_bench_cmd(*a); };
    });

}  // namespace
}  // namespace g4::cli
