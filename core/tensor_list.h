// The checkpoint tensors a config implies (spec §4.2: names, [out, in] shapes, which part of the model),
// the parameter count derived from them, and the check of a loaded WeightSet against that list.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/safetensors.h"

namespace g4 {

enum class ModelPart : uint8_t { Text, Vision, Audio, kSentinel };
std::string_view model_part_name(ModelPart p);  // "text" | "vision" | "audio"

struct TensorSpec {
  std::string name;  // checkpoint name, e.g. "model.language_model.layers.5.self_attn.k_proj.weight"
  std::vector<int64_t> shape;
  ModelPart part = ModelPart::Text;
  int64_t numel() const;
};

// In checkpoint order: embed_tokens, layers 0..L-1, final norm, then the vision and audio embedders.
std::vector<TensorSpec> expected_tensors(const ModelConfig& c);

struct ParamCount {
  int64_t text = 0, vision = 0, audio = 0;
  int64_t total() const { return text + vision + audio; }
};
ParamCount count_parameters(const ModelConfig& c);

std::string format_shape(const std::vector<int64_t>& shape);  // "[262144, 3840]"

struct WeightCheck {
  std::vector<std::string> unknown;  // tensors in the checkpoint that the config does not use (sorted)
};

// Every expected tensor must be present with exactly the config's shape and a float dtype (BF16/F16/F32);
// otherwise InputError naming the checkpoint directory and the tensor. Extra tensors are only reported.
WeightCheck validate_weights(const ModelConfig& c, const WeightSet& w);

}  // namespace g4
