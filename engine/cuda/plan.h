// Host-side decisions of the CUDA backend, kept in plain functions so that tests check them without a GPU:
// which matrix path a product takes, attention launch geometry and key splits, how a long prefill is cut into
// chunks (never inside a vision block), KV cache capacities, vision block ids and RoPE frequencies.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/config.h"
#include "engine/cuda/device_math.h"
#include "engine/rope.h"

namespace g4::engine::cuda {

// GEMV (weights read once for up to kMaxGemvTokens tokens), cuBLAS on bf16 weights, dequantize-to-bf16 then
// cuBLAS (quantized weights, larger T), or an f32 cuBLAS product (f32 weights, larger T).
enum class LinearPath { Gemv, GemmBf16, DequantGemm, GemmF32 };
LinearPath plan_linear(cudak::WFormat f, int64_t T);

// Rows of a [rows, cols] matrix dequantized per chunk into a scratch of `scratch_elems` bf16 values.
int64_t dequant_chunk_rows(int64_t rows, int64_t cols, int64_t scratch_elems);

struct AttnPlan {
  int bq = 16;        // query rows per CUDA block
  int row_tiles = 1;  // CUDA blocks per KV head along the query rows
  int nsplit = 1;     // key splits (flash-decoding) when rows alone do not fill the GPU
};
// T tokens of Hq query heads over Hkv KV heads attending to at most key_span keys; the split workspace holds
// max_part_floats floats.
AttnPlan plan_attention(int64_t T, int64_t Hq, int64_t Hkv, int64_t D, int64_t key_span, int num_sms,
                        int64_t max_part_floats);

// Cuts a prefill of block_of.size() tokens into chunks of at most `cap` tokens, moving a cut back to the
// start of a vision block it would split (blocks attend bidirectionally within one chunk). InputError when a
// block is longer than `cap`.
struct Chunk {
  int64_t begin = 0, end = 0;
};
std::vector<Chunk> plan_chunks(std::span<const int64_t> block_of, int64_t cap);

// The attention kernel's per-token block arrays for a chunk starting at position pos0: block id (-1: none)
// and the block's [lo, hi) positions. Empty vectors when the chunk has no vision token.
struct ChunkBlocks {
  std::vector<int32_t> id, lo, hi;
};
ChunkBlocks chunk_blocks(std::span<const int64_t> block_of, int64_t pos0);

// Slots of a sliding layer's ring: the window before a chunk plus the chunk (never more than max_context).
int64_t ring_capacity(int64_t window, int64_t chunk_cap, int64_t max_context);

// Block id of each position: maximal runs of image/video placeholder ids get first_block, first_block + 1,
// ...; others -1 (spec §3.5; the reference's vision_block_ids).
std::vector<int64_t> vision_block_ids(const ModelConfig& cfg, std::span<const int32_t> ids,
                                      int64_t first_block);

using engine::rope_inv_freq;  // engine/rope.h, shared with the CPU backend

}  // namespace g4::engine::cuda
