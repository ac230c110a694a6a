// A small random gemma4_unified checkpoint for reference tests: written into a fresh temp directory with
// g4::SafetensorsWriter (bf16 tensors, like a real checkpoint) and to_json(ModelConfig).
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/config.h"

namespace g4::test {

struct TinySpec {
  int64_t layers = 3;  // sliding, sliding, ..., full (the last layer is full)
  int64_t window = 4;
  uint32_t seed = 1;
  bool multimodal = true;  // write vision + audio weights
};

// hidden 64, intermediate 128, 4 query heads, 2 kv heads of dim 16 (sliding), 1 kv head of dim 32 (full),
// k_eq_v, vocab 512, image/audio/video placeholder ids 500/501/502, vision patches of 6x6 px (108 values),
// mm_embed_dim 48, pos table 16, audio frames of 40 samples.
ModelConfig tiny_config(const TinySpec& spec);

// Writes DIR/config.json + DIR/model.safetensors and returns DIR (under the system temp directory).
std::filesystem::path write_tiny_checkpoint(const TinySpec& spec, const std::string& name);

}  // namespace g4::test
