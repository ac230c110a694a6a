// The CUDA backend's model on the device: every matrix uploaded once in its plan's format (device layouts of
// device_math.h; q|k|v and gate|up fused into one matrix each so one product serves them), norms, layer
// scalars and RoPE tables as f32, the multimodal embedders as f32. Built from host EngineWeights or generated
// on the device for shape-only models. Host code only (C++20).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "engine/cuda/device_math.h"
#include "engine/cuda/device_memory.h"
#include "engine/weight_plan.h"
#include "engine/weights.h"

namespace g4::engine::cuda {

struct DevMatrixBuf {
  DeviceBuffer buf;
  cudak::DevMatrix m;
};

struct LayerDev {
  DevMatrixBuf qkv, o, gate_up, down;
  DeviceBuffer params;  // the f32 vectors below, back to back
  const float* input_norm = nullptr;
  const float* post_attn_norm = nullptr;
  const float* pre_ffn_norm = nullptr;
  const float* post_ffn_norm = nullptr;
  const float* q_norm = nullptr;
  const float* k_norm = nullptr;
  const float* inv_freq = nullptr;
  float layer_scalar = 1.0f;
  bool sliding = false;
  int D = 0, Hkv = 0;
  int64_t v_col = 0;  // column of V in the qkv output (Hq·D on k_eq_v layers: the raw k projection)
};

struct VisionDev {
  bool present = false;
  DeviceBuffer ln1_w, ln1_b, dense_w, dense_b, ln2_w, ln2_b, pos_norm_w, pos_norm_b, pos_embedding,
      projection;
};
struct AudioDev {
  bool present = false;
  DeviceBuffer projection;
};

struct ModelDev {
  ModelConfig cfg;
  WeightPlan plan;
  DevMatrixBuf embed;  // [V, H], also the tied LM head
  DeviceBuffer final_norm;
  std::vector<LayerDev> layers;
  VisionDev vision;
  AudioDev audio;
  size_t weight_bytes = 0;
  int num_sms = 0;
  float embed_scale = 0.0f;  // bf16(sqrt(H))
  int64_t max_qkv_rows = 0, max_head_dim = 0, max_kv_heads = 0;
};

// Uploads host weights (released as they go); InputError for shapes the backend cannot run.
std::shared_ptr<const ModelDev> upload_model(const ModelConfig& cfg, EngineWeights w);
// Real shapes, seeded random weights written on the device in the plan's formats.
std::shared_ptr<const ModelDev> random_model(const ModelConfig& cfg, const WeightPlan& plan, uint64_t seed);

// Copies f32 values to a new device buffer.
DeviceBuffer upload_floats(std::span<const float> v, std::string_view what);

}  // namespace g4::engine::cuda
