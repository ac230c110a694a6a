// Which storage format each class of weight tensor gets (docs/formats.md, "Weight plans").
//   "bf16", "f32"      everything in that format
//   "q8_0", "q6_k", "i8"  every matrix in that format, the tied embedding / LM head too
//   "q4_0", "q4_k"     every matrix in that format; the tied embedding / LM head in q6_k, as llama.cpp's
//                      quantizer does for the output tensor of these types
//   overrides after the base, comma-separated: "q4_0,embed=q8_0,attn=bf16"  (classes: embed, attn, ffn)
// Norm weights, layer scalars and the multimodal embedders stay f32 in every plan.
#pragma once
#include <string>
#include <string_view>

#include "engine/quant/format.h"

namespace g4::engine {

enum class TensorClass { Embed, Attn, Ffn };

struct WeightPlan {
  quant::Format embed = quant::Format::BF16;  // embed_tokens, also the LM head (tied)
  quant::Format attn = quant::Format::BF16;   // q/k/v/o projections
  quant::Format ffn = quant::Format::BF16;    // gate/up/down projections
  quant::Format of(TensorClass c) const;
  std::string describe() const;  // canonical spec, e.g. "q4_0,embed=q6_k"; parse(describe()) == *this
  bool operator==(const WeightPlan&) const = default;
};

// InputError("--quant: ...") for an unknown format or class.
WeightPlan parse_weight_plan(std::string_view spec);

}  // namespace g4::engine
