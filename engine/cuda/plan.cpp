// Host-side planning of the CUDA backend (plan.h).
#include "engine/cuda/plan.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "engine/cuda/kernels.h"

namespace g4::engine::cuda {

LinearPath plan_linear(cudak::WFormat f, int64_t T) {
  if (T <= cudak::kMaxGemvTokens) return LinearPath::Gemv;
  if (f == cudak::WFormat::BF16) return LinearPath::GemmBf16;
  if (f == cudak::WFormat::F32) return LinearPath::GemmF32;
  return LinearPath::DequantGemm;
}

int64_t dequant_chunk_rows(int64_t rows, int64_t cols, int64_t scratch_elems) {
  G4_CHECK(cols > 0 && scratch_elems >= cols, "dequant scratch smaller than one row");
  return std::min(rows, scratch_elems / cols);
}

AttnPlan plan_attention(int64_t T, int64_t Hq, int64_t Hkv, int64_t D, int64_t key_span, int num_sms,
                        int64_t max_part_floats) {
  G4_CHECK(T > 0 && Hkv > 0 && Hq % Hkv == 0 && key_span > 0, "plan_attention: shapes");
  AttnPlan p;
  const int64_t rows = T * (Hq / Hkv);
  p.bq = rows <= 16 ? 16 : (D <= 256 ? 64 : 32);
  p.row_tiles = static_cast<int>((rows + p.bq - 1) / p.bq);
  const int64_t blocks = p.row_tiles * Hkv;
  const int64_t key_tiles = (key_span + 63) / 64;
  if (blocks >= num_sms) return p;
  // Two waves' worth of blocks, no split thinner than one key tile, partials within the workspace.
  int64_t n = (2 * static_cast<int64_t>(num_sms) + blocks - 1) / blocks;
  n = std::min(n, key_tiles);
  n = std::min(n, max_part_floats / (T * Hq * D));
  p.nsplit = static_cast<int>(std::max<int64_t>(1, n));
  return p;
}

std::vector<Chunk> plan_chunks(std::span<const int64_t> block_of, int64_t cap) {
  G4_CHECK(cap > 0, "plan_chunks: cap");
  const int64_t T = static_cast<int64_t>(block_of.size());
  std::vector<Chunk> out;
  int64_t s = 0;
  while (s < T) {
    int64_t e = std::min(T, s + cap);
    if (e < T && block_of[static_cast<size_t>(e)] >= 0 &&
        block_of[static_cast<size_t>(e)] == block_of[static_cast<size_t>(e - 1)]) {
      int64_t b = e - 1;  // the straddling block starts at b
      while (b > s && block_of[static_cast<size_t>(b - 1)] == block_of[static_cast<size_t>(e)]) --b;
      if (b == s)
        fail_input("forward input", "a vision block of more than " + std::to_string(cap) +
                                        " tokens does not fit the CUDA backend's prefill chunk");
      e = b;
    }
    out.push_back({s, e});
    s = e;
  }
  return out;
}

ChunkBlocks chunk_blocks(std::span<const int64_t> block_of, int64_t pos0) {
  ChunkBlocks cb;
  const size_t T = block_of.size();
  if (std::none_of(block_of.begin(), block_of.end(), [](int64_t b) { return b >= 0; })) return cb;
  cb.id.assign(T, -1);
  cb.lo.assign(T, -1);
  cb.hi.assign(T, -1);
  size_t s = 0;
  while (s < T) {
    size_t e = s + 1;
    if (block_of[s] >= 0)
      while (e < T && block_of[e] == block_of[s]) ++e;
    if (block_of[s] >= 0)
      for (size_t t = s; t < e; ++t) {
        cb.id[t] = static_cast<int32_t>(block_of[s]);
        cb.lo[t] = static_cast<int32_t>(pos0 + static_cast<int64_t>(s));
        cb.hi[t] = static_cast<int32_t>(pos0 + static_cast<int64_t>(e));
      }
    s = e;
  }
  return cb;
}

int64_t ring_capacity(int64_t window, int64_t chunk_cap, int64_t max_context) {
  return std::min(window - 1 + chunk_cap, max_context);
}

std::vector<int64_t> vision_block_ids(const ModelConfig& cfg, std::span<const int32_t> ids,
                                      int64_t first_block) {
  std::vector<int64_t> block(ids.size(), -1);
  int64_t next = first_block;
  for (size_t t = 0; t < ids.size(); ++t) {
    if (ids[t] != cfg.image_token_id && ids[t] != cfg.video_token_id) continue;
    block[t] = (t > 0 && block[t - 1] >= 0) ? block[t - 1] : next++;
  }
  return block;
}

}  // namespace g4::engine::cuda
