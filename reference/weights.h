// The reference's weights: every checkpoint tensor widened to float once at load (spec §4.2 names), and in
// mode bf16 rounded to bf16 (what a bf16 model holds even if a file stores f32). Shapes are checked against
// the config; a mismatch is an InputError naming the checkpoint and the tensor.
#pragma once
#include <cstdint>
#include <vector>

#include "core/config.h"
#include "core/safetensors.h"
#include "reference/precision.h"

namespace g4::reference {

struct LayerWeights {
  std::vector<float> input_norm, post_attn_norm, pre_ffn_norm, post_ffn_norm;  // [H]
  float layer_scalar = 1.0f;
  std::vector<float> q_proj, k_proj, v_proj,
      o_proj;                         // [Hq·D, H], [Hkv·D, H], [Hkv·D, H] (empty if k_eq_v), [H, Hq·D]
  std::vector<float> q_norm, k_norm;  // [D]
  std::vector<float> gate_proj, up_proj, down_proj;  // [I, H], [I, H], [H, I]
};

struct VisionWeights {
  bool present = false;
  int64_t embed_dim = 0;                                    // E = mm_embed_dim
  std::vector<float> ln1_w, ln1_b;                          // [patch_dim]
  std::vector<float> dense_w, dense_b;                      // [E, patch_dim], [E]
  std::vector<float> ln2_w, ln2_b, pos_norm_w, pos_norm_b;  // [E]
  std::vector<float> pos_embedding;                         // [posemb, 2, E]
  std::vector<float> projection;                            // [H, E]
};

struct AudioWeights {
  bool present = false;
  std::vector<float> projection;  // [H, audio_embed_dim]
};

struct ModelWeights {
  std::vector<float> embed;       // [V, H], also the tied LM head
  std::vector<float> final_norm;  // [H]
  std::vector<LayerWeights> layers;
  VisionWeights vision;
  AudioWeights audio;
};

ModelWeights load_weights(const ModelConfig& cfg, const WeightSet& ws, Precision p);

}  // namespace g4::reference
