// Host-callable launchers of the CUDA backend's kernels (C++17, plain types: included by the .cu files that
// define them and by the C++20 host code in engine/cuda/*.cpp). Every launcher enqueues on `stream` and
// checks the launch; none synchronizes. Activations: the residual stream is f32 holding bf16-representable
// values, matrix inputs are bf16, matrix outputs f32 (rounded to bf16 by whichever kernel reads them, as the
// reference rounds every linear output). Positions come from a device scalar (`pos0`) so that one captured
// decode graph serves every step.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "engine/cuda/device_math.h"

namespace g4::cudak {

// ---- rows and elements ----------------------------------------------------------------------------------

// h[t, :] = bf16(E[ids[t], :] · scale), E in any weight format.
void embed_rows(const DevMatrix& E, const int32_t* ids, int T, float scale, float* h, cudaStream_t stream);
// h[dst, :] = src[src_row, :] for each (dst, src_row) pair: soft tokens replace placeholder rows.
void scatter_rows(const float* src, const int32_t* pairs, int n_pairs, int64_t H, float* h,
                  cudaStream_t stream);

// Optional second output of the kernels that feed a matrix product: the same bf16 values quantized per block
// of 32 for the integer GEMV paths (what quantize_x would write: q [rows, n], d and s [rows, n/32]).
struct XQOut {
  int8_t* q = nullptr;
  float* d = nullptr;
  float* s = nullptr;
};

// RMSNorm of `rows` rows of n values (spec §2.3, plain weight; w == nullptr: no scale). round_input rounds
// each input to bf16 first (the input is a raw matrix output). Outputs (either may be null): bf16 and f32
// copies of the bf16-rounded result.
void rmsnorm_rows(const float* x, int64_t ldx, int rows, int n, const float* w, float eps, bool round_input,
                  uint16_t* out_bf16, int64_t ld_bf16, float* out_f32, int64_t ld_f32, cudaStream_t stream,
                  XQOut xq = {});

// After o_proj: a = rmsnorm(bf16(o), w_post) -> a_out; h = bf16(h + a); x = rmsnorm(h, w_pre) -> x_out.
void post_attention(const float* o, const float* w_post, const float* w_pre, float eps, int T, int H,
                    float* h, uint16_t* a_out, uint16_t* x_out, cudaStream_t stream, XQOut xq = {});
// After down_proj: m = rmsnorm(bf16(d), w_post) -> m_out; h = bf16(bf16(h + m) · layer_scalar). With w_next,
// also the next layer's input norm: x_next = rmsnorm(h, w_next) (and its quantized form when xq.q is set).
void post_ffn(const float* d, const float* w_post, float layer_scalar, float eps, int T, int H, float* h,
              uint16_t* m_out, cudaStream_t stream, const float* w_next = nullptr, uint16_t* x_next = nullptr,
              XQOut xq = {});

// act[t, c] = bf16(bf16(gelu_tanh(bf16(gate))) · bf16(up)); gate_up is [T, 2I] (gate columns first).
void gelu_mul(const float* gate_up, int T, int64_t I, uint16_t* act, cudaStream_t stream, XQOut xq = {});
// out = bf16(bf16(tanh(bf16(bf16(x) / cap))) · cap) (the reference's three rounded ops on the rounded logit);
// cap <= 0: out = bf16(x).
void softcap(const float* x, int64_t n, float cap, float* out, cudaStream_t stream);

void bf16_to_f32(const uint16_t* in, int64_t n, float* out, cudaStream_t stream);
void f32_to_bf16(const float* in, int64_t n, uint16_t* out, cudaStream_t stream);
void round_bf16_inplace(float* x, int64_t n, cudaStream_t stream);
// y[r, c] = bf16(y[r, c] + bias[c]) (bias may be null: rounding only).
void add_bias_round(float* y, int rows, int64_t n, const float* bias, cudaStream_t stream);
// LayerNorm (biased variance) of rows of n values, in place, output rounded to bf16.
void layernorm_rows(float* x, int rows, int n, const float* w, const float* b, float eps,
                    cudaStream_t stream);
// Vision: e[t, :] = bf16(e[t, :] + bf16(table[x_t, 0, :] + table[y_t, 1, :])), xy[2t], xy[2t + 1].
void posemb_add(float* e, int n, int E, const float* table, const int32_t* xy, cudaStream_t stream);

// ---- attention ------------------------------------------------------------------------------------------

// q, k and v of one layer from the projection output, then the cache write (spec §2.5, §2.6):
//   q = rope(rmsnorm(q, q_norm)), k = rope(rmsnorm(k, k_norm)), v = rmsnorm(v) (no scale, no rope)
struct QkvParams {
  const float* qkv = nullptr;  // [T, ld]: q at column 0, k at column Hq·D, v at column v_col
  int64_t ld = 0, v_col = 0;   // k_eq_v layers: v_col = Hq·D (V from the raw k projection)
  int T = 0, Hq = 0, Hkv = 0, D = 0;
  const float* q_norm = nullptr;
  const float* k_norm = nullptr;
  float eps = 1e-6f;
  const float* inv_freq = nullptr;  // [D/2]
  const int* pos0 = nullptr;        // device scalar: position of token 0
  uint16_t* q_out = nullptr;        // [T, Hq, D]
  uint16_t* k_out = nullptr;        // [T, Hkv, D]
  uint16_t* v_out = nullptr;
  uint16_t* k_cache = nullptr;  // [Hkv, cap, D]; position p at slot p % cap
  uint16_t* v_cache = nullptr;
  int64_t cap = 0;
};
void qkv_norm_rope(const QkvParams& p, cudaStream_t stream);

// Flash attention with an online softmax on tensor cores (bf16 WMMA, fp32 accumulation). Query rows are the
// (token, head) pairs of one KV head's group, so MQA/GQA heads share every K/V tile; keys are split into
// `nsplit` ranges whose partial results a second kernel merges (flash-decoding) when nsplit > 1.
struct AttnParams {
  const uint16_t* q = nullptr;  // [T, Hq, D]
  const uint16_t* k_cache = nullptr;
  const uint16_t* v_cache = nullptr;
  int64_t cap = 0;
  int T = 0, Hq = 0, Hkv = 0, D = 0;
  const int* pos0 = nullptr;
  bool sliding = false;
  int window = 0;
  // Vision blocks of the chunk's tokens (null: none): block id (-1: none) and the block's [lo, hi) positions.
  const int32_t* block_id = nullptr;
  const int32_t* block_lo = nullptr;
  const int32_t* block_hi = nullptr;
  int bq = 64;               // query rows per CUDA block: 16, or 64 (D <= 256) / 32 (D = 512)
  int nsplit = 1;            // key splits
  uint16_t* out = nullptr;   // [T, Hq·D] bf16
  float* part_o = nullptr;   // [T·Hq, nsplit, D] when nsplit > 1
  float* part_ml = nullptr;  // [T·Hq, nsplit, 2]
};
void attention(const AttnParams& p, cudaStream_t stream);
// Raises the shared-memory limit of every attention instantiation and probes the accumulator layout that the
// fast path relies on; call once before any capture.
void attention_init();
// Whether attention keeps O in registers (the probe passed); tests turn it off to check the other path too.
bool attention_register_o();
void attention_use_register_o(bool on);
size_t attention_smem_bytes(int D, int bq);

// ---- matrices -------------------------------------------------------------------------------------------

// Per-32-block int8 quantization of bf16 activations [T, K] (row stride ldx): xq [T, K], xd and xs [T, K/32].
void quantize_x(const uint16_t* x, int64_t ldx, int T, int64_t K, int8_t* xq, float* xd, float* xs,
                cudaStream_t stream);

// y[t·ldy + r] = Σ_k W[r, k]·x[t, k] for T <= kMaxGemvTokens tokens. Float formats read x (bf16, row stride
// ldx); integer formats read the quantize_x output of the same x (xq [T, K], xd/xs [T, K/32]).
void gemv(const DevMatrix& W, int T, const uint16_t* x, int64_t ldx, const int8_t* xq, const float* xd,
          const float* xs, float* y, int64_t ldy, cudaStream_t stream);

// out[r - r0, :] = bf16(W[r, :]) for rows [r0, r0 + n): the prefill path's dequantization before a GEMM.
void dequant_bf16(const DevMatrix& W, int64_t r0, int64_t n, uint16_t* out, cudaStream_t stream);

// Shape-only weights: every value from normal_draw(seed, stream_id, index), in W's format.
void init_matrix(const DevMatrix& W, uint64_t seed, uint64_t stream_id, float sigma, cudaStream_t stream);

// Reads n bytes at `src` as fast as the device can (a bandwidth probe); returns nothing useful.
void read_probe(const void* src, size_t n, float* sink, cudaStream_t stream);

}  // namespace g4::cudak
