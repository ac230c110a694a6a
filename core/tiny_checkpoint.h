// `g4eval make-tiny`: a complete, seeded, random-weight gemma4_unified checkpoint in the HF layout
// (config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json), the
// 12B's architecture scaled down (DESIGN.md "The model"). Same seed -> same bytes on every platform.
// Weights are scaled so activations look like a trained model's (DESIGN.md "Random weights need care").
#pragma once
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/config.h"

namespace g4 {

// Approximately standard-normal numbers that are bit-identical on every platform: std::mt19937_64's
// output is fixed by the C++ standard, but std::normal_distribution and libm's log/cos are not. So this
// sums eight 16-bit uniforms (Irwin-Hall) in integers and standardizes with one correctly rounded sqrt.
// Mean 0, variance 1, bounded by +-sqrt(24) ~ 4.9; close enough to a Gaussian for weights.
class PortableNormal {
 public:
  explicit PortableNormal(uint64_t seed) : rng_(seed) {}
  double next();
  double uniform01();  // [0, 1) with 53 random bits
 private:
  std::mt19937_64 rng_;
};

// The tiny config: hidden 256, intermediate 1024, 6 layers (5 sliding + 1 full), 4 query heads, sliding
// head_dim 64 with 2 kv heads, full head_dim 128 with 1 kv head and k_eq_v, window 32, 4096 positions,
// the real 262,144 vocabulary and token ids, vision mm_embed_dim 128 / posemb 64, audio 640.
ModelConfig tiny_model_config();
// The mid-size config for engine/reference speed ratios: hidden 1024, intermediate 4096, 12 layers (10
// sliding
// + 2 full), 8 query heads, 4 kv heads of 128 (sliding), 1 kv head of 256 (full), window 256, 32K positions.
ModelConfig mid_model_config();

// Writes a BF16 model.safetensors holding every tensor `c` implies (spec §4.2) with seeded weights.
// Each tensor draws from its own stream (seed mixed with a hash of its name), so a tensor's values do not
// depend on the others' shapes. Returns the parameter count.
int64_t write_tiny_weights(const ModelConfig& c, uint64_t seed, const std::filesystem::path& file);

struct WrittenFile {
  std::filesystem::path path;
  uintmax_t bytes = 0;
};
struct TinyCheckpointResult {
  std::vector<WrittenFile> files;
  int64_t param_count = 0;
};

// Writes the whole checkpoint into out_dir (created if missing). Files of other names already in out_dir are
// left alone; ours are overwritten. A missing vocab file is an InputError naming it and the install script.
TinyCheckpointResult write_tiny_checkpoint(const std::filesystem::path& out_dir, uint64_t seed,
                                           const std::filesystem::path& vocab_path,
                                           const ModelConfig& config = tiny_model_config());

}  // namespace g4
