// One decoder layer of the text model (spec §2.4) and its attention (§2.5-§2.7), over a chunk of T new
// tokens at absolute positions pos0..pos0+T-1 that attend to everything already in the layer's KV cache.
// A full forward is one chunk over an empty cache; incremental decoding is one chunk per token. Each
// query row is computed the same way in both cases, so they give the same bits.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/config.h"
#include "reference/precision.h"
#include "reference/trace.h"
#include "reference/weights.h"

namespace g4::reference {

// K after k_norm + RoPE and V after v_norm, for every position seen so far: [len, Hkv, D] each.
struct KvCache {
  std::vector<float> k, v;
  int64_t len = 0;
};

// Mask of spec §2.7: key j is visible to query i iff (j <= i, and on sliding layers i - j < window) or both
// are in the same bidirectional vision block. block_of[pos] is the block id of a position, -1 for none.
bool key_visible(int64_t i, int64_t j, bool sliding, int64_t window, std::span<const int64_t> block_of);

struct ChunkContext {
  const TextConfig* cfg = nullptr;
  int64_t layer = 0;
  int64_t pos0 = 0;                   // absolute position of the chunk's first token
  std::span<const int64_t> block_of;  // for every position 0..pos0+T-1
  std::span<const float> inv_freq;    // this layer's RoPE frequencies (D/2)
  Precision precision = Precision::BF16;
  const TraceFn* trace = nullptr;
};

// Attention of one layer: x [T, H] (input_layernorm output) -> o_proj output [T, H]. Appends to `cache`.
std::vector<float> attention(const ChunkContext& c, const LayerWeights& w, std::span<const float> x,
                             int64_t T, KvCache& cache);

// The whole layer: h [T, H] residual stream in, residual stream out (after ×layer_scalar).
std::vector<float> decoder_layer(const ChunkContext& c, const LayerWeights& w, std::vector<float> h,
                                 int64_t T, KvCache& cache);

}  // namespace g4::reference
