// `g4eval quantize`: writes a checkpoint whose matrices are stored in a weight plan's formats
// (docs/formats.md, "Quantized checkpoints"): each quantized matrix is a U8 tensor [rows, row bytes] under
// its usual name, with metadata "g4.format.NAME" = format and "g4.plan" = the plan; every other tensor and
// the config/tokenizer files are copied unchanged. Loading it gives the same bytes, so the same logits, as
// quantizing the original on the fly.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include "engine/weight_plan.h"

namespace g4::engine {

// The tensor class of a checkpoint tensor name, or nullopt for tensors that stay as they are.
std::optional<TensorClass> tensor_class_of(const std::string& name);

struct QuantizeSummary {
  size_t tensors = 0, quantized = 0;
  size_t bytes_in = 0, bytes_out = 0;
};

QuantizeSummary write_quantized_checkpoint(const std::filesystem::path& in_dir, const WeightPlan& plan,
                                           const std::filesystem::path& out_dir);

}  // namespace g4::engine
