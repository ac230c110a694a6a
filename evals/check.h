// The layer-by-layer checker (docs/checking.md): runs the reference and an engine on the same tokens (a
// prefill, then N greedy decode steps with the reference's choices fed to both), compares every trace tensor
// (NMSE = Σ(a−b)²/Σa² with the reference as a, max abs error, cosine; NaN/Inf fail) against a budget that
// depends on the weight plan, and names the first tensor over its budget.
//   cumulative: the engine runs on its own, so errors compound through the layers as in real use;
//   isolated:   each layer of the engine starts from the reference's residual stream, so each layer is
//               charged only with the error it makes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/backend.h"
#include "engine/weight_plan.h"

namespace g4::evals {

enum class CheckMode { Cumulative, Isolated };
CheckMode parse_check_mode(const std::string& s);  // InputError("--mode: ...") otherwise

struct TensorCheck {
  int64_t step = 0;  // 0: prefill, k: decode step k
  std::string name;
  std::vector<int64_t> shape;
  double nmse = 0, max_abs = 0, cosine = 1, budget = 0;
  bool finite = true;
  bool pass() const { return finite && nmse <= budget; }
};

struct CheckResult {
  std::string backend, plan, mode;
  std::vector<int32_t> prompt;
  std::vector<int32_t> decoded;         // tokens fed at the decode steps
  std::vector<TensorCheck> tensors;     // in the engine's emission order, step by step
  std::optional<size_t> first_failure;  // index into tensors
  bool passed() const { return !first_failure.has_value(); }
  nlohmann::json to_json() const;
};

// NMSE budget of a tensor for a weight plan and mode (docs/checking.md derives the numbers).
// step 0 is the prefill, k > 0 decode step k.
double nmse_budget(const engine::WeightPlan& plan, CheckMode mode, const std::string& tensor,
                   int64_t num_layers, int64_t step);

struct CheckOptions {
  CheckMode mode = CheckMode::Cumulative;
  int64_t decode_steps = 4;
  std::vector<int32_t> prompt;        // token ids
  std::vector<SoftTokenInput> media;  // images / audio filling the prompt's placeholder ids
};

// `reference` must be a "reference" backend model; `engine_plan` is the engine's weight plan.
CheckResult run_check(const engine::Model& reference, const engine::Model& engine, const CheckOptions& opt);

// Compares two tensors: NMSE, max abs, cosine, finiteness.
TensorCheck compare_tensors(std::span<const float> ref, std::span<const float> got);

// Default prompt: BOS then seeded pseudo-random ordinary-token ids, long enough to cross the sliding window.
std::vector<int32_t> default_check_prompt(const ModelConfig& cfg, int64_t n);

}  // namespace g4::evals
