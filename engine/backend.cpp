// The engine's factory: loads weights for a plan and hands them to the named backend.
#include "engine/backend.h"

#include "core/error.h"
#include "engine/cpu/cpu_model.h"
#include "engine/weights.h"
#ifdef G4_HAVE_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace g4::engine {
namespace {

void require_backend(const std::string& name) {
  for (const auto& b : engine_backends())
    if (b == name) return;
  std::string known;
  for (const auto& b : engine_backends()) known += (known.empty() ? "" : ", ") + b;
  fail_input("--backend", "'" + name + "' is not an engine backend of this build (available: " + known + ")");
}

std::unique_ptr<Model> make(const ModelConfig& cfg, EngineWeights w, const EngineOptions& opt) {
  if (opt.backend == "cpu") return cpu::make_cpu_model(cfg, std::move(w), opt);
#ifdef G4_HAVE_CUDA
  if (opt.backend == "cuda") return cuda::make_cuda_model(cfg, std::move(w), opt);
#endif
  require_backend(opt.backend);
  return nullptr;
}

}  // namespace

std::vector<std::string> engine_backends() {
#ifdef G4_HAVE_CUDA
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

std::unique_ptr<Model> model_from_weights(const ModelConfig& cfg, const WeightSet& ws,
                                          const EngineOptions& opt) {
  require_backend(opt.backend);
  // An empty quant spec means "the checkpoint's own plan" (bf16 for a plain checkpoint).
  const bool own_plan = opt.quant.empty();
  const WeightPlan plan = parse_weight_plan(own_plan ? "bf16" : opt.quant);
  return make(cfg, load_engine_weights(cfg, ws, plan, own_plan), opt);
}

std::unique_ptr<Model> load_model(const std::filesystem::path& dir, const EngineOptions& opt) {
  const ModelConfig cfg = load_model_config(dir / "config.json");
  const WeightSet ws = WeightSet::open_dir(dir);
  return model_from_weights(cfg, ws, opt);
}

std::unique_ptr<Model> shape_only_model(const ModelConfig& cfg, const EngineOptions& opt, uint64_t seed) {
  require_backend(opt.backend);
  const WeightPlan plan = parse_weight_plan(opt.quant.empty() ? "bf16" : opt.quant);
#ifdef G4_HAVE_CUDA
  if (opt.backend == "cuda") return cuda::make_cuda_shape_only_model(cfg, plan, seed);
#endif
  return make(cfg, shape_only_weights(cfg, plan, seed), opt);
}

}  // namespace g4::engine
