// Attention on tensor cores: a flash-attention loop (online softmax) over 64-key tiles with bf16 WMMA
// products and fp32 accumulation. One CUDA block owns `BQ` query rows of one KV head: the rows are the
// (token, head) pairs of that head's query group (row r: token r / group, head kvh·group + r % group), so
// every K/V tile loaded serves all heads that share it (GQA 2:1, MQA 16:1). The mask is spec §2.7 (causal,
// sliding window, bidirectional vision blocks) via device_math.h key_visible; keys beyond a row's range are
// skipped by whole tiles. Scores are rounded to bf16 as the reference does, softmax runs in fp32.
//
// Shared memory per block: Q [BQ, D], one K-or-V tile [64, D] (K for the scores, then V for the update),
// O [BQ, D] f32, S [BQ, 64] f32, P [BQ, 64] bf16 and per-row state.
#include <cuda_pipeline.h>
#include <mma.h>

#include <climits>

#include "engine/cuda/device_util.cuh"
#include "engine/cuda/kernels.h"

namespace g4::cudak {
namespace {

using namespace nvcuda;

constexpr int kBK = 64;  // keys per tile
constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;

constexpr size_t round128(size_t n) { return (n + 127) / 128 * 128; }

// RegO: O is stored to shared memory only after the loop, over the Q/K/V/S/P tiles no longer needed (so a
// block needs about 110 KB instead of 180 KB for D = 512 and two blocks share a multiprocessor).
template <int D, int BQ, bool RegO>
struct Layout {
  static constexpr int LDQ = D + 8;  // bf16 elements; +16 bytes per row against bank conflicts
  static constexpr int LDK = D + 8;
  static constexpr int LDO = D + 4;    // f32
  static constexpr int LDS = kBK + 4;  // f32
  static constexpr int LDP = kBK + 8;  // bf16
  static constexpr size_t o_bytes = round128(sizeof(float) * BQ * LDO);
  static constexpr size_t q_off = 0;
  static constexpr size_t kv_off = q_off + round128(sizeof(__nv_bfloat16) * BQ * LDQ);
  static constexpr size_t s_off = kv_off + round128(sizeof(__nv_bfloat16) * kBK * LDK);
  static constexpr size_t p_off = s_off + round128(sizeof(float) * BQ * LDS);
  static constexpr size_t tiles_end = p_off + round128(sizeof(__nv_bfloat16) * BQ * LDP);
  static constexpr size_t o_off = RegO ? 0 : tiles_end;
  static constexpr size_t m_off = RegO ? tiles_end : tiles_end + o_bytes;
  static constexpr size_t l_off = m_off + round128(sizeof(float) * BQ);
  static constexpr size_t a_off = l_off + round128(sizeof(float) * BQ);     // per-row rescale of this tile
  static constexpr size_t meta_off = a_off + round128(sizeof(float) * BQ);  // 4 ints per row
  static constexpr size_t range_off = meta_off + round128(sizeof(int) * 4 * BQ);
  static constexpr size_t bytes = range_off + 128;
  static_assert(!RegO || o_bytes <= tiles_end, "O must fit over the tiles");
};

__device__ __forceinline__ int key_block(const AttnParams& p, int pos0, int j) {
  if (p.block_id == nullptr || j < pos0 || j >= pos0 + p.T) return -1;
  return p.block_id[j - pos0];
}

// Starts copying 64 rows of D bf16 values (slots of positions j0.., zeros from `hi` on) into a padded smem
// tile with cp.async: every 16-byte piece is in flight at once, none passes through registers. Commits the
// group.
template <int D, int LD>
__device__ __forceinline__ void load_tile_async(__nv_bfloat16* dst, const uint16_t* base, int64_t cap, int j0,
                                                int hi) {
  constexpr int kVec = D / 8;
  for (int idx = threadIdx.x; idx < kBK * kVec; idx += kThreads) {
    const int r = idx / kVec, c = idx % kVec, j = j0 + r;
    const bool in = j < hi;
    const uint16_t* src = in ? base + cache_slot(j, cap) * D + 8 * c : base;
    __pipeline_memcpy_async(dst + r * LD + 8 * c, src, 16, in ? 0 : 16);
  }
  __pipeline_commit();
}

// Whether wmma's 16x16 f32 accumulator holds element i of lane l at row (l / 4) + 8·((i / 2) % 2) and column
// 2·(l % 4) + i % 2 + 8·(i / 4), the mma.sync m16n8k16 layout. WMMA leaves the layout unspecified, so the
// fast path (O kept in accumulator registers and rescaled row by row) runs only after this probe confirmed
// it.
__device__ __forceinline__ int acc_row(int lane, int i) { return (lane >> 2) + 8 * ((i >> 1) & 1); }
__device__ __forceinline__ int acc_col(int lane, int i) { return 2 * (lane & 3) + (i & 1) + 8 * (i >> 2); }

__global__ void layout_probe_kernel(int* ok) {
  __shared__ __align__(32) float m[256];
  for (int i = threadIdx.x; i < 256; i += 32) m[i] = static_cast<float>(i);
  __syncwarp();
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> f;
  wmma::load_matrix_sync(f, m, 16, wmma::mem_row_major);
  const int lane = threadIdx.x;
  bool good = f.num_elements == 8;
  for (int i = 0; i < f.num_elements && good; ++i)
    good = f.x[i] == static_cast<float>(acc_row(lane, i) * 16 + acc_col(lane, i));
  good = __all_sync(0xffffffffu, good);
  if (lane == 0) *ok = good ? 1 : 0;
}

// RegO: O lives in each warp's accumulator fragments (fast path); otherwise in shared memory, rescaled there.
template <int D, int BQ, bool RegO>
__global__ void __launch_bounds__(kThreads, RegO ? 2 : 1) attention_kernel(AttnParams p) {
  using L = Layout<D, BQ, RegO>;
  extern __shared__ __align__(128) unsigned char smem[];
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(smem + L::q_off);
  __nv_bfloat16* KVs = reinterpret_cast<__nv_bfloat16*>(smem + L::kv_off);
  float* Os = reinterpret_cast<float*>(smem + L::o_off);
  float* Ss = reinterpret_cast<float*>(smem + L::s_off);
  __nv_bfloat16* Ps = reinterpret_cast<__nv_bfloat16*>(smem + L::p_off);
  float* Ms = reinterpret_cast<float*>(smem + L::m_off);
  float* Ls = reinterpret_cast<float*>(smem + L::l_off);
  float* As = reinterpret_cast<float*>(smem + L::a_off);
  int* meta = reinterpret_cast<int*>(smem + L::meta_off);  // per row: token, head, position, block
  int* range = reinterpret_cast<int*>(smem + L::range_off);

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int kvh = blockIdx.y, z = blockIdx.z;
  const int group = p.Hq / p.Hkv, R = p.T * group, r0 = blockIdx.x * BQ;
  const int pos0 = *p.pos0;

  if (tid == 0) {
    range[0] = INT_MAX;
    range[1] = INT_MIN;
  }
  __syncthreads();
  for (int r = tid; r < BQ; r += kThreads) {
    const int rg = r0 + r;
    if (rg < R) {
      const int t = rg / group, pos = pos0 + t;
      const int blk = p.block_id != nullptr ? p.block_id[t] : -1;
      const KeyRange kr = query_key_range(pos, p.sliding, p.window, blk >= 0 ? p.block_lo[t] : -1,
                                          blk >= 0 ? p.block_hi[t] : -1);
      atomicMin(&range[0], static_cast<int>(kr.lo));
      atomicMax(&range[1], static_cast<int>(kr.hi));
      meta[4 * r] = t;
      meta[4 * r + 1] = kvh * group + rg % group;
      meta[4 * r + 2] = pos;
      meta[4 * r + 3] = blk;
    } else {
      meta[4 * r] = -1;
    }
    Ms[r] = -INFINITY;
    Ls[r] = 0.0f;
  }
  __syncthreads();
  // Q rows (zeros for rows past the end), O = 0.
  constexpr int kVec = D / 8;
  for (int idx = tid; idx < BQ * kVec; idx += kThreads) {
    const int r = idx / kVec, c = idx % kVec, t = meta[4 * r];
    uint4 v = make_uint4(0, 0, 0, 0);
    if (t >= 0)
      v = *reinterpret_cast<const uint4*>(p.q + (static_cast<int64_t>(t) * p.Hq + meta[4 * r + 1]) * D +
                                          8 * c);
    *reinterpret_cast<uint4*>(Qs + r * L::LDQ + 8 * c) = v;
  }
  if constexpr (!RegO)  // (with RegO, Os lies over Qs until the epilogue)
    for (int idx = tid; idx < BQ * D; idx += kThreads) Os[(idx / D) * L::LDO + idx % D] = 0.0f;
  const int lo = range[0], hi = range[1];
  const int64_t n_tiles = (hi - lo + kBK - 1) / kBK;
  int64_t tb, te;
  split_range(n_tiles, p.nsplit, z, tb, te);
  const uint16_t* kbase = p.k_cache + static_cast<int64_t>(kvh) * p.cap * D;
  const uint16_t* vbase = p.v_cache + static_cast<int64_t>(kvh) * p.cap * D;
  constexpr int kOFrags = (BQ / 16) * (D / 16);
  constexpr int kOPer = RegO ? (kOFrags + kWarps - 1) / kWarps : 1;  // accumulator fragments per warp
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> oacc[kOPer];
#pragma unroll
  for (int k = 0; k < kOPer; ++k) wmma::fill_fragment(oacc[k], 0.0f);
  __syncthreads();

  for (int64_t tile = tb; tile < te; ++tile) {
    const int j0 = lo + static_cast<int>(tile) * kBK;
    load_tile_async<D, L::LDK>(KVs, kbase, p.cap, j0, hi);
    __pipeline_wait_prior(0);
    __syncthreads();
    // S = Q·Kᵀ
    constexpr int kSFrags = (BQ / 16) * (kBK / 16);
    for (int f = warp; f < kSFrags; f += kWarps) {
      const int fr = f / (kBK / 16), fc = f % (kBK / 16);
      // Two accumulators (even and odd k-steps) halve the dependent chain of products.
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc, acc2;
      wmma::fill_fragment(acc, 0.0f);
      wmma::fill_fragment(acc2, 0.0f);
#pragma unroll 4
      for (int kk = 0; kk < D / 16; kk += 2) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a, a2;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b, b2;
        wmma::load_matrix_sync(a, Qs + fr * 16 * L::LDQ + kk * 16, L::LDQ);
        wmma::load_matrix_sync(b, KVs + fc * 16 * L::LDK + kk * 16, L::LDK);
        wmma::load_matrix_sync(a2, Qs + fr * 16 * L::LDQ + (kk + 1) * 16, L::LDQ);
        wmma::load_matrix_sync(b2, KVs + fc * 16 * L::LDK + (kk + 1) * 16, L::LDK);
        wmma::mma_sync(acc, a, b, acc);
        wmma::mma_sync(acc2, a2, b2, acc2);
      }
#pragma unroll
      for (int i = 0; i < acc.num_elements; ++i) acc.x[i] += acc2.x[i];  // same types: same element layout
      wmma::store_matrix_sync(Ss + fr * 16 * L::LDS + fc * 16, acc, L::LDS, wmma::mem_row_major);
    }
    __syncthreads();
    // V replaces K in the tile buffer while the softmax runs on S.
    load_tile_async<D, L::LDK>(KVs, vbase, p.cap, j0, hi);
    for (int r = warp; r < BQ; r += kWarps) {
      const bool valid = meta[4 * r] >= 0;
      const int i = meta[4 * r + 2], bi = meta[4 * r + 3];
      float s[2];
      bool vis[2];
#pragma unroll
      for (int k2 = 0; k2 < 2; ++k2) {
        const int c = lane + 32 * k2, j = j0 + c;
        vis[k2] = valid && j < hi && key_visible(i, j, p.sliding, p.window, bi, key_block(p, pos0, j));
        s[k2] = vis[k2] ? round_bf16(Ss[r * L::LDS + c]) : -INFINITY;
      }
      const float mx = warp_max(fmaxf(s[0], s[1]));
      const float m_old = Ms[r], m_new = fmaxf(m_old, mx);
      float alpha = 1.0f, p0 = 0.0f, p1 = 0.0f;
      if (m_new != -INFINITY) {
        alpha = expf(m_old - m_new);  // 0 when m_old is -inf
        p0 = vis[0] ? expf(s[0] - m_new) : 0.0f;
        p1 = vis[1] ? expf(s[1] - m_new) : 0.0f;
      }
      const float sum = warp_sum(p0 + p1);
      Ps[r * L::LDP + lane] = __float2bfloat16_rn(p0);
      Ps[r * L::LDP + lane + 32] = __float2bfloat16_rn(p1);
      if (lane == 0) {
        Ms[r] = m_new;
        Ls[r] = Ls[r] * alpha + sum;
        As[r] = alpha;
      }
      if (!RegO && alpha != 1.0f)
        for (int d = lane; d < D; d += 32) Os[r * L::LDO + d] *= alpha;
    }
    __pipeline_wait_prior(0);
    __syncthreads();
    // O += P·V
    if constexpr (RegO) {
#pragma unroll
      for (int k = 0; k < kOPer; ++k) {
        const int f = warp + k * kWarps;
        if (f >= kOFrags) break;
        const int fr = f / (D / 16), fc = f % (D / 16);
#pragma unroll
        for (int i = 0; i < oacc[k].num_elements; ++i) oacc[k].x[i] *= As[fr * 16 + acc_row(lane, i)];
#pragma unroll
        for (int kk = 0; kk < kBK / 16; ++kk) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b;
          wmma::load_matrix_sync(a, Ps + fr * 16 * L::LDP + kk * 16, L::LDP);
          wmma::load_matrix_sync(b, KVs + kk * 16 * L::LDK + fc * 16, L::LDK);
          wmma::mma_sync(oacc[k], a, b, oacc[k]);
        }
      }
    } else {
      for (int f = warp; f < kOFrags; f += kWarps) {
        const int fr = f / (D / 16), fc = f % (D / 16);
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::load_matrix_sync(acc, Os + fr * 16 * L::LDO + fc * 16, L::LDO, wmma::mem_row_major);
#pragma unroll
        for (int kk = 0; kk < kBK / 16; ++kk) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> b;
          wmma::load_matrix_sync(a, Ps + fr * 16 * L::LDP + kk * 16, L::LDP);
          wmma::load_matrix_sync(b, KVs + kk * 16 * L::LDK + fc * 16, L::LDK);
          wmma::mma_sync(acc, a, b, acc);
        }
        wmma::store_matrix_sync(Os + fr * 16 * L::LDO + fc * 16, acc, L::LDO, wmma::mem_row_major);
      }
    }
    __syncthreads();
  }
  if constexpr (RegO) {
    __syncthreads();  // every warp is done with the tiles that Os now covers
#pragma unroll
    for (int k = 0; k < kOPer; ++k) {
      const int f = warp + k * kWarps;
      if (f >= kOFrags) break;
      const int fr = f / (D / 16), fc = f % (D / 16);
      wmma::store_matrix_sync(Os + fr * 16 * L::LDO + fc * 16, oacc[k], L::LDO, wmma::mem_row_major);
    }
    __syncthreads();
  }

  if (p.nsplit == 1) {
    for (int idx = tid; idx < BQ * D; idx += kThreads) {
      const int r = idx / D, d = idx % D, t = meta[4 * r];
      if (t < 0) continue;
      const float l = Ls[r];
      const float o = l > 0.0f ? Os[r * L::LDO + d] / l : 0.0f;
      p.out[(static_cast<int64_t>(t) * p.Hq + meta[4 * r + 1]) * D + d] = f32_to_bf16(o);
    }
    return;
  }
  for (int idx = tid; idx < BQ * D; idx += kThreads) {
    const int r = idx / D, d = idx % D, t = meta[4 * r];
    if (t < 0) continue;
    const int64_t qrow = static_cast<int64_t>(t) * p.Hq + meta[4 * r + 1];
    p.part_o[(qrow * p.nsplit + z) * D + d] = Os[r * L::LDO + d];
  }
  for (int r = tid; r < BQ; r += kThreads) {
    const int t = meta[4 * r];
    if (t < 0) continue;
    const int64_t qrow = static_cast<int64_t>(t) * p.Hq + meta[4 * r + 1];
    p.part_ml[(qrow * p.nsplit + z) * 2] = Ms[r];
    p.part_ml[(qrow * p.nsplit + z) * 2 + 1] = Ls[r];
  }
}

__device__ float block_max(float v, float* red) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = (blockDim.x + 31) / 32;
  v = warp_max(v);
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float r = threadIdx.x < nwarps ? red[threadIdx.x] : -INFINITY;
  if (warp == 0) r = warp_max(r);
  if (threadIdx.x == 0) red[0] = r;
  __syncthreads();
  r = red[0];
  __syncthreads();
  return r;
}

// Block (query row, 64 output dims), 256 threads: the split weights (split_weight, as merge_weights) by
// block-wide reductions, then four groups of 64 threads each sum a quarter of the splits.
constexpr int kCombineDims = 64, kCombineThreads = 256;
__global__ void __launch_bounds__(kCombineThreads)
    combine_kernel(const float* part_o, const float* part_ml, int nsplit, int D, uint16_t* out) {
  extern __shared__ float sm[];  // w[nsplit], partial sums [4][64], reduction scratch [32]
  float* w = sm;
  float* part = sm + nsplit;
  float* red = part + 4 * kCombineDims;
  const int64_t row = blockIdx.x;
  const int tid = threadIdx.x;
  float mx = -INFINITY;
  for (int s = tid; s < nsplit; s += kCombineThreads) mx = fmaxf(mx, part_ml[(row * nsplit + s) * 2]);
  mx = block_max(mx, red);
  float tot = 0.0f;
  for (int s = tid; s < nsplit; s += kCombineThreads) {
    w[s] = split_weight(part_ml[(row * nsplit + s) * 2], mx);
    tot += part_ml[(row * nsplit + s) * 2 + 1] * w[s];
  }
  tot = block_sum(tot, red);  // (its barriers also publish w)
  const float inv = tot > 0.0f ? 1.0f / tot : 0.0f;
  const int g = tid / kCombineDims, dd = tid % kCombineDims, d = blockIdx.y * kCombineDims + dd;
  float acc = 0.0f;
  for (int s = g; s < nsplit; s += kCombineThreads / kCombineDims)
    if (w[s] != 0.0f) acc += w[s] * part_o[(row * nsplit + s) * D + d];
  part[g * kCombineDims + dd] = acc;
  __syncthreads();
  if (g == 0)
    out[row * D + d] = f32_to_bf16(
        (part[dd] + part[kCombineDims + dd] + part[2 * kCombineDims + dd] + part[3 * kCombineDims + dd]) *
        inv);
}

bool g_register_o = false;  // the probe confirmed the accumulator layout and no one turned the fast path off
bool g_probe_ok = false;

template <int D, int BQ, bool RegO>
void configure_one() {
  G4_CUDA_CALL(cudaFuncSetAttribute(attention_kernel<D, BQ, RegO>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(Layout<D, BQ, RegO>::bytes)));
}
template <int D, int BQ>
void configure() {
  configure_one<D, BQ, false>();
  configure_one<D, BQ, true>();
}

template <int D, int BQ>
void launch(const AttnParams& p, cudaStream_t stream) {
  const int rows = p.T * (p.Hq / p.Hkv);
  const dim3 grid((rows + BQ - 1) / BQ, p.Hkv, p.nsplit);
  if (g_register_o)
    attention_kernel<D, BQ, true><<<grid, kThreads, Layout<D, BQ, true>::bytes, stream>>>(p);
  else
    attention_kernel<D, BQ, false><<<grid, kThreads, Layout<D, BQ, false>::bytes, stream>>>(p);
  G4_CUDA_LAUNCHED();
}

template <int D>
void launch_d(const AttnParams& p, cudaStream_t stream) {
  constexpr int kBig = D <= 256 ? 64 : 32;
  if (p.bq == 16)
    launch<D, 16>(p, stream);
  else if (p.bq == kBig)
    launch<D, kBig>(p, stream);
  else
    G4_CHECK(false, "attention: unsupported query tile");
}

}  // namespace

size_t attention_smem_bytes(int D, int bq) {
  const bool r = g_register_o;
  switch (D) {
    case 64:
      return bq == 16 ? (r ? Layout<64, 16, true>::bytes : Layout<64, 16, false>::bytes)
                      : (r ? Layout<64, 64, true>::bytes : Layout<64, 64, false>::bytes);
    case 128:
      return bq == 16 ? (r ? Layout<128, 16, true>::bytes : Layout<128, 16, false>::bytes)
                      : (r ? Layout<128, 64, true>::bytes : Layout<128, 64, false>::bytes);
    case 256:
      return bq == 16 ? (r ? Layout<256, 16, true>::bytes : Layout<256, 16, false>::bytes)
                      : (r ? Layout<256, 64, true>::bytes : Layout<256, 64, false>::bytes);
    case 512:
      return bq == 16 ? (r ? Layout<512, 16, true>::bytes : Layout<512, 16, false>::bytes)
                      : (r ? Layout<512, 32, true>::bytes : Layout<512, 32, false>::bytes);
    default:
      return 0;
  }
}

bool attention_register_o() { return g_register_o; }

void attention_use_register_o(bool on) {
  attention_init();
  g_register_o = on && g_probe_ok;
}

void attention_init() {
  static const bool done = [] {
    int* d_ok = nullptr;
    int ok = 0;
    G4_CUDA_CALL(cudaMalloc(&d_ok, sizeof(int)));
    layout_probe_kernel<<<1, 32>>>(d_ok);
    G4_CUDA_LAUNCHED();
    G4_CUDA_CALL(cudaMemcpy(&ok, d_ok, sizeof(int), cudaMemcpyDeviceToHost));
    G4_CUDA_CALL(cudaFree(d_ok));
    g_probe_ok = ok == 1;
    g_register_o = g_probe_ok;
    configure<64, 16>();
    configure<64, 64>();
    configure<128, 16>();
    configure<128, 64>();
    configure<256, 16>();
    configure<256, 64>();
    configure<512, 16>();
    configure<512, 32>();
    return true;
  }();
  (void)done;
}

void attention(const AttnParams& p, cudaStream_t stream) {
  attention_init();
  G4_CHECK(p.Hkv > 0 && p.Hq % p.Hkv == 0, "attention: query heads must be a multiple of kv heads");
  G4_CHECK(p.nsplit >= 1, "attention: nsplit");
  G4_CHECK(p.nsplit == 1 || (p.part_o != nullptr && p.part_ml != nullptr), "attention: split workspace");
  switch (p.D) {
    case 64:
      launch_d<64>(p, stream);
      break;
    case 128:
      launch_d<128>(p, stream);
      break;
    case 256:
      launch_d<256>(p, stream);
      break;
    case 512:
      launch_d<512>(p, stream);
      break;
    default:
      G4_CHECK(false, "attention: head_dim must be 64, 128, 256 or 512");
  }
  if (p.nsplit > 1) {
    const int rows = p.T * p.Hq;
    const size_t smem = sizeof(float) * (static_cast<size_t>(p.nsplit) + 4 * kCombineDims + 32);
    combine_kernel<<<dim3(rows, p.D / kCombineDims), kCombineThreads, smem, stream>>>(p.part_o, p.part_ml,
                                                                                      p.nsplit, p.D, p.out);
    G4_CUDA_LAUNCHED();
  }
}

}  // namespace g4::cudak
