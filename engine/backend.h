// The engine's backend interface: what users run (generate, bench, eval) and what `g4eval check` compares
// with the reference. A Model is one checkpoint loaded for one backend with one weight plan; a Session is
// one sequence with its KV cache. Backends: "cpu" (engine/cpu), "cuda" (engine/cuda, when built and a GPU
// is present). The reference is wrapped behind the same interface by evals/backends.h, which is the only
// place that holds both (DESIGN: the engine never includes reference code).
//
// Every backend emits the trace names of docs/ARCHITECTURE.md through StepHooks::trace, so any two runs
// can be lined up tensor by tensor.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/forward_input.h"
#include "core/safetensors.h"
#include "core/trace.h"
#include "engine/weight_plan.h"

namespace g4::engine {

enum class LogitsWanted { None, Last, All };

// Called with the residual stream entering layer `layer` ([T, H]; layer == num_hidden_layers is the input of
// the final norm). The checker's isolated mode overwrites it with the reference's values, so each layer's
// error is charged to that layer alone.
using LayerInputFn = std::function<void(int64_t layer, std::span<float> h)>;

struct StepHooks {
  const TraceFn* trace = nullptr;
  const LayerInputFn* layer_input = nullptr;
};

class Session {
 public:
  virtual ~Session() = default;
  // Appends the input's tokens (a prompt or a chunk of one) and returns logits: [T, V] for All, [V] for
  // Last, nothing for None. InputError when the sequence would pass the session's max_context.
  virtual std::vector<float> prefill(const ForwardInput& in, LogitsWanted want = LogitsWanted::Last,
                                     const StepHooks& hooks = {}) = 0;
  // One token; returns its logits [V].
  virtual std::vector<float> decode(int32_t id, const StepHooks& hooks = {}) = 0;
  virtual int64_t length() const = 0;
  // Bytes held by this session's KV cache and work buffers (host or device, as the backend keeps them).
  virtual size_t memory_bytes() const = 0;
};

struct MemoryUse {
  size_t weight_bytes = 0;  // as stored by the backend (after quantization)
  size_t device_bytes = 0;  // GPU backends: bytes allocated on the device so far
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string backend() const = 0;
  virtual std::string plan() const = 0;  // WeightPlan::describe() of the loaded weights
  virtual const ModelConfig& config() const = 0;
  // max_context bounds the session's KV cache (0: the config's max_position_embeddings).
  virtual std::unique_ptr<Session> session(int64_t max_context = 0) const = 0;
  virtual MemoryUse memory() const = 0;
};

struct EngineOptions {
  std::string backend = "cpu";
  std::string quant = "bf16";  // a WeightPlan spec (engine/weight_plan.h); empty: the checkpoint's own plan
  int threads = 0;             // 0: G4_THREADS, else all cores
};

// Loads a checkpoint directory (bf16/f32, or one written by `g4eval quantize`) for an engine backend.
std::unique_ptr<Model> load_model(const std::filesystem::path& dir, const EngineOptions& opt);
std::unique_ptr<Model> model_from_weights(const ModelConfig& cfg, const WeightSet& ws,
                                          const EngineOptions& opt);
// A shape-only model: the config's real shapes, seeded random weights generated in memory (on the device for
// GPU backends) directly in the plan's formats. For latency, not for numerics.
std::unique_ptr<Model> shape_only_model(const ModelConfig& cfg, const EngineOptions& opt, uint64_t seed);

// Engine backends compiled into this binary ("cpu", and "cuda" when built with CUDA).
std::vector<std::string> engine_backends();

}  // namespace g4::engine
