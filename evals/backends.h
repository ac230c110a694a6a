// Opens a model for any backend by name: "reference" (the bit-exact reference behind the engine interface,
// so evals, bench and generate run on it unchanged), "cpu", "cuda". The one place above both the reference
// and the engine, with `check` (evals/check.h).
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace g4::evals {

struct BackendOptions {
  std::string backend = "cpu";     // reference | cpu | cuda
  std::string quant = "bf16";      // engine backends: a weight plan (engine/weight_plan.h)
  std::string precision = "bf16";  // reference: bf16 | fp32
  int threads = 0;
};

// InputError (exit 2) for an unknown backend, a quant plan on the reference, or a backend not built in.
std::unique_ptr<engine::Model> open_model(const std::filesystem::path& dir, const BackendOptions& opt);
std::unique_ptr<engine::Model> open_model(const ModelConfig& cfg, const WeightSet& ws,
                                          const BackendOptions& opt);
std::vector<std::string> backend_names();  // "reference" first, then engine_backends()

}  // namespace g4::evals
