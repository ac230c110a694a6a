// The reference forward pass of gemma4_unified (spec §2, §3.2, §3.3, §3.5): public API.
//
//   auto model = g4::reference::Model::load("ckpt/", Precision::BF16);
//   std::vector<float> logits = model.forward({.ids = {2, 105, ...}});        // [T, V] f32
//   auto s = model.session();  s.prefill(prompt);  auto row = s.decode(id);   // KV-cached, same bits
//
// Precision contract (docs/ARCHITECTURE.md): mode bf16 rounds to bf16 at the tensor boundaries of HF's bf16
// eager run; mode fp32 is the same graph unrounded. Results are bit-identical across runs and thread counts.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/config.h"
#include "core/safetensors.h"
#include "reference/decoder.h"
#include "reference/input.h"
#include "reference/precision.h"
#include "reference/trace.h"
#include "reference/weights.h"

namespace g4::reference {

class Session;

class Model {
 public:
  // Reads DIR/config.json and the safetensors weights of DIR; InputError on any problem.
  static Model load(const std::filesystem::path& dir, Precision p);
  static Model from_weights(const ModelConfig& cfg, const WeightSet& ws, Precision p);

  // Logits [T, V] (after the final softcap) for every position. `trace` receives every named tensor.
  std::vector<float> forward(const ForwardInput& in, const TraceFn* trace = nullptr) const;
  Session session() const;

  const ModelConfig& config() const;
  Precision precision() const;

  struct State;  // config, weights, RoPE tables; shared by copies of the model and its sessions

 private:
  explicit Model(std::shared_ptr<const State> s) : s_(std::move(s)) {}
  std::shared_ptr<const State> s_;
};

// Incremental decoding with a KV cache. prefill() may be called more than once (each call appends a chunk;
// vision blocks do not span chunks). decode(id) is a one-token chunk and, as in HF's cached decoding, purely
// causal. Every row equals the same row of one full forward over the whole sequence, bit for bit.
class Session {
 public:
  explicit Session(std::shared_ptr<const Model::State> s);
  std::vector<float> prefill(const ForwardInput& in, const TraceFn* trace = nullptr);  // [T, V]
  std::vector<float> decode(int32_t id, const TraceFn* trace = nullptr);               // [V]
  int64_t length() const { return static_cast<int64_t>(block_of_.size()); }

 private:
  std::shared_ptr<const Model::State> s_;
  std::vector<KvCache> caches_;
  std::vector<int64_t> block_of_;
  int64_t next_block_ = 0;
};

}  // namespace g4::reference
