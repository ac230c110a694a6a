// Attention of one layer over the KV cache (spec §2.5, §2.7): scale 1.0, GQA (query head h reads kv head
// h / group), the sliding window, and the bidirectional image blocks. Online softmax in f32.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "engine/cpu/kv_cache.h"

namespace g4::engine::cpu {

struct AttentionShape {
  int64_t T = 0, pos0 = 0, Hq = 0, Hkv = 0, D = 0;
  int64_t window = 0;  // 0: full attention
};

// Visible key range [lo, hi] of the query at absolute position i (spec §2.7): causal (and within the window
// on sliding layers), widened to the whole image block [block_lo, block_hi] when i is in one (block_lo < 0:
// none). The union is one contiguous range because i lies inside its block.
struct KeyRange {
  int64_t lo, hi;
};
KeyRange visible_keys(int64_t i, int64_t window, int64_t block_lo, int64_t block_hi);

struct AttentionJob {
  int64_t t, kvh, a, b;  // query row, kv head, key range [a, b]
};
// Reused across calls: steady decoding allocates nothing once these reach their size.
struct AttentionScratch {
  std::vector<float> partial;  // split-key partial results (decode)
  std::vector<float> scores;   // per-thread score rows
  std::vector<AttentionJob> jobs;
  std::vector<size_t> first_job;
};

// q: [T, Hq, D] after norm + RoPE; the chunk's K/V are already in `cache`. blocks: [T] pairs (lo, hi) of the
// image block of each query (-1, -1 when none). Writes o: [T, Hq·D].
void attention(const AttentionShape& s, const float* q, const LayerKvCache& cache,
               std::span<const std::pair<int64_t, int64_t>> blocks, float* o, AttentionScratch& scratch);

}  // namespace g4::engine::cpu
