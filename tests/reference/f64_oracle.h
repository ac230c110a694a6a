// An independent float64 evaluation of the gemma4_unified graph, written straight from the spec
// (§2.2-§2.8, §3.2, §3.3, §3.5) without sharing any code with reference/: full-sequence attention with an
// explicit [T, T] mask, no KV cache, no rounding. Tests compare the reference's fp32 and bf16 modes to it.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/safetensors.h"
#include "reference/input.h"

namespace g4::test {

struct OracleResult {
  std::vector<double> logits;                        // [T, V]
  std::map<std::string, std::vector<double>> trace;  // embed, layers.{i}.out, vision.tokens, audio.tokens
};

OracleResult oracle_forward(const ModelConfig& cfg, const WeightSet& ws, const reference::ForwardInput& in);

// Σ(a−b)² / Σa² with `a` the oracle.
double nmse(const std::vector<double>& a, const std::vector<float>& b);

}  // namespace g4::test
