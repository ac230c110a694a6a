// The CPU backend: the gemma4_unified text graph over EngineWeights with the kernels of engine/cpu.
#pragma once
#include <memory>

#include "engine/backend.h"
#include "engine/weights.h"

namespace g4::engine::cpu {

std::unique_ptr<Model> make_cpu_model(const ModelConfig& cfg, EngineWeights weights,
                                      const EngineOptions& opt);

// Deliberate bugs for the checker's own tests (tests/engine/test_check_faults.cpp): a variant of this backend
// with a known fault, so a test can assert that `check` names exactly the layer and tensor that has it.
struct InjectedFaults {
  int64_t interleaved_rope_layer = -1;  // this layer pairs RoPE lanes (2i, 2i+1) instead of (i, i + D/2)
};
std::unique_ptr<Model> make_cpu_model_with_faults(const ModelConfig& cfg, EngineWeights weights,
                                                  const EngineOptions& opt, const InjectedFaults& faults);

// Sets the OpenMP thread count for the engine: n > 0, else G4_THREADS, else all cores.
void set_threads(int n);

}  // namespace g4::engine::cpu
