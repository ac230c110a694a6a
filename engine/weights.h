// The engine's host-side weights: every matrix in its plan's storage format (engine/quant/format.h), norms
// and small tensors as f32. Built from a bf16/f32 checkpoint (quantized on load with the reference
// quantizers), from a quantized checkpoint written by `g4eval quantize` (bytes used as stored), or as a
// shape-only model (seeded random rows). The CPU backend computes from these; the CUDA backend uploads them.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/config.h"
#include "core/safetensors.h"
#include "engine/quant/format.h"
#include "engine/weight_plan.h"

namespace g4::engine {

// A [rows, cols] matrix (PyTorch nn.Linear layout: rows = out features) stored row by row in `format`.
struct QTensor {
  quant::Format format = quant::Format::F32;
  int64_t rows = 0, cols = 0;
  std::shared_ptr<const void> owner;  // keeps `data` alive (a heap buffer or a mapped checkpoint)
  const uint8_t* data = nullptr;
  size_t row_bytes() const { return quant::row_bytes(format, cols); }
  size_t bytes() const { return row_bytes() * static_cast<size_t>(rows); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes(); }
};

struct EngineLayerWeights {
  std::vector<float> input_norm, post_attn_norm, pre_ffn_norm, post_ffn_norm;  // [H]
  float layer_scalar = 1.0f;
  QTensor q_proj, k_proj, v_proj, o_proj;  // v_proj empty (rows 0) on k_eq_v layers
  std::vector<float> q_norm, k_norm;       // [D]
  QTensor gate_proj, up_proj, down_proj;
};

// Multimodal embedders stay f32 (small; see weight_plan.h).
struct EngineVisionWeights {
  bool present = false;
  std::vector<float> ln1_w, ln1_b, dense_w, dense_b, ln2_w, ln2_b, pos_norm_w, pos_norm_b, pos_embedding,
      projection;
};
struct EngineAudioWeights {
  bool present = false;
  std::vector<float> projection;
};

struct EngineWeights {
  WeightPlan plan;
  QTensor embed;  // [V, H], also the tied LM head
  std::vector<float> final_norm;
  std::vector<EngineLayerWeights> layers;
  EngineVisionWeights vision;
  EngineAudioWeights audio;
  size_t bytes() const;  // all stored bytes
};

// From a checkpoint's tensors. Unquantized tensors are quantized to the plan; a quantized checkpoint
// (docs/formats.md) must match the plan exactly unless `plan_from_checkpoint`, in which case its own plan is
// used. Shapes are checked against the config: InputError naming the checkpoint and tensor.
EngineWeights load_engine_weights(const ModelConfig& cfg, const WeightSet& ws, const WeightPlan& plan,
                                  bool plan_from_checkpoint);
// The plan a quantized checkpoint was written with (its "g4.plan" metadata), or nullopt for a plain one.
std::optional<WeightPlan> checkpoint_plan(const WeightSet& ws);

// Shape-only weights: the config's shapes, seeded random values in the plan's formats.
EngineWeights shape_only_weights(const ModelConfig& cfg, const WeightPlan& plan, uint64_t seed);

// Quantizes a [rows, cols] f32 matrix to `f` (rows in parallel; same bytes at any thread count).
QTensor quantize_matrix(quant::Format f, std::span<const float> values, int64_t rows, int64_t cols);

}  // namespace g4::engine
