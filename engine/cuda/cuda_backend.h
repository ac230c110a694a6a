// The CUDA backend of the engine (engine/backend.h): the gemma4_unified text graph and its multimodal
// embedders on one NVIDIA GPU (sm_80, sm_89, sm_90), emitting the reference's trace names so that
// `g4eval check --backend cuda` lines it up tensor by tensor. docs/ARCHITECTURE.md ("CUDA backend") describes
// the kernels, the precision and the plan choices. Host header (C++20): never include it from a .cu file.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/backend.h"
#include "engine/weights.h"

namespace g4::engine::cuda {

// Uploads host weights (any plan) to device 0. InputError ("--backend cuda: ...") without a usable GPU,
// ("cuda: out of device memory ...") when the weights do not fit.
std::unique_ptr<Model> make_cuda_model(const ModelConfig& cfg, EngineWeights weights,
                                       const EngineOptions& opt);

// Real shapes, weights generated on the device with a seeded hash (values like N(0, 0.02)) directly in the
// plan's formats; for latency measurements, not numerics.
std::unique_ptr<Model> make_cuda_shape_only_model(const ModelConfig& cfg, const WeightPlan& plan,
                                                  uint64_t seed);

}  // namespace g4::engine::cuda
