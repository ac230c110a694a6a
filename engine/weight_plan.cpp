#include "engine/weight_plan.h"

#include <string>

#include "core/error.h"

namespace g4::engine {
namespace {

quant::Format parse_one(std::string_view name) {
  const auto f = quant::parse_format(name);
  if (!f)
    fail_input("--quant",
               "unknown format '" + std::string(name) + "' (formats: f32, bf16, i8, q8_0, q4_0, q4_k, q6_k)");
  return *f;
}

// The LM head keeps more precision in the 4-bit plans, as llama.cpp's quantizer gives the output tensor q6_k.
quant::Format default_embed(quant::Format base) {
  return base == quant::Format::Q4_0 || base == quant::Format::Q4_K ? quant::Format::Q6_K : base;
}

}  // namespace

quant::Format WeightPlan::of(TensorClass c) const {
  switch (c) {
    case TensorClass::Embed:
      return embed;
    case TensorClass::Attn:
      return attn;
    case TensorClass::Ffn:
      return ffn;
  }
  return ffn;
}

std::string WeightPlan::describe() const {
  std::string s(quant::info(ffn).name);
  if (attn != ffn) s += ",attn=" + std::string(quant::info(attn).name);
  if (embed != default_embed(ffn)) s += ",embed=" + std::string(quant::info(embed).name);
  return s;
}

WeightPlan parse_weight_plan(std::string_view spec) {
  WeightPlan plan;
  size_t start = 0;
  bool first = true;
  while (start <= spec.size()) {
    const size_t comma = std::min(spec.find(',', start), spec.size());
    const std::string_view item = spec.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) fail_input("--quant", "empty item in '" + std::string(spec) + "'");
    const size_t eq = item.find('=');
    if (first) {
      if (eq != std::string_view::npos)
        fail_input("--quant",
                   "'" + std::string(spec) + "' must start with a base format, e.g. q4_0,embed=q8_0");
      const quant::Format base = parse_one(item);
      plan = {default_embed(base), base, base};
      first = false;
      continue;
    }
    if (eq == std::string_view::npos)
      fail_input("--quant", "'" + std::string(item) + "' is not CLASS=FORMAT (classes: embed, attn, ffn)");
    const std::string_view cls = item.substr(0, eq);
    const quant::Format f = parse_one(item.substr(eq + 1));
    if (cls == "embed")
      plan.embed = f;
    else if (cls == "attn")
      plan.attn = f;
    else if (cls == "ffn")
      plan.ffn = f;
    else
      fail_input("--quant", "unknown tensor class '" + std::string(cls) + "' (classes: embed, attn, ffn)");
  }
  return plan;
}

}  // namespace g4::engine
