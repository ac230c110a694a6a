// Row-wise and element-wise kernels: embedding, norms with their residual adds, gated GELU, softcap, RoPE
// with the cache write, and the small ops of the multimodal embedders. Each reproduces the reference's
// operation order and bf16 roundings (reference/ops.cpp, decoder.cpp, attention.cpp, multimodal.cpp).
#include "engine/cuda/device_util.cuh"
#include "engine/cuda/kernels.h"

namespace g4::cudak {
namespace {

constexpr int kRowThreads = 256;

// One block per row: a decode step's few rows get 1024 threads so that each does a few values, not dozens.
inline int row_threads(int rows) { return rows <= 16 ? 1024 : kRowThreads; }

// All 32 lanes of a warp hold the 32 values of one activation block (columns c0..c0+31 of row `row`, c0 a
// multiple of 32): quantize them as quantize_x does.
__device__ __forceinline__ void warp_quantize(const XQOut& xq, int64_t n, int64_t row, int64_t c0, float v) {
  const int lane = threadIdx.x % 32;
  const float amax = warp_max(fabsf(v));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const int q = round_to_int(v * id);
  xq.q[row * n + c0 + lane] = static_cast<int8_t>(q);
  const int sum = warp_sum_int(q);
  if (lane == 0) {
    xq.d[row * (n / 32) + c0 / 32] = d;
    xq.s[row * (n / 32) + c0 / 32] = d * static_cast<float>(sum);
  }
}

__global__ void embed_kernel(DevMatrix E, const int32_t* ids, float scale, float* h) {
  const int t = blockIdx.y;
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= E.cols) return;
  h[t * E.cols + c] = round_bf16(dequant1(E, ids[t], c) * scale);
}

__global__ void scatter_kernel(const float* src, const int32_t* pairs, int64_t H, float* h) {
  const int k = blockIdx.y;
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c < H) h[pairs[2 * k] * H + c] = src[pairs[2 * k + 1] * H + c];
}

// pow(mean(x²) + eps, -0.5) over a block's row; `red` is shared scratch.
__device__ float rms_scale(float sum_sq, int n, float eps, float* red) {
  const float sum = block_sum(sum_sq, red);
  return powf(sum / static_cast<float>(n) + eps, -0.5f);
}

__global__ void rmsnorm_kernel(const float* x, int64_t ldx, int n, const float* w, float eps,
                               bool round_input, uint16_t* ob, int64_t ldb, float* of, int64_t ldf,
                               XQOut xq) {
  __shared__ float red[32];
  const float* row = x + blockIdx.x * ldx;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = round_input ? round_bf16(row[i]) : row[i];
    ss += v * v;
  }
  const float scale = rms_scale(ss, n, eps, red);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = round_input ? round_bf16(row[i]) : row[i];
    float y = v * scale;
    if (w != nullptr) y = y * w[i];
    const uint16_t b = f32_to_bf16(y);
    if (ob != nullptr) ob[blockIdx.x * ldb + i] = b;
    if (of != nullptr) of[blockIdx.x * ldf + i] = bf16_to_f32(b);
    if (xq.q != nullptr) warp_quantize(xq, n, blockIdx.x, i - i % 32, bf16_to_f32(b));
  }
}

__global__ void post_attention_kernel(const float* o, const float* w_post, const float* w_pre, float eps,
                                      int H, float* h, uint16_t* a_out, uint16_t* x_out, XQOut xq) {
  __shared__ float red[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * H;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < H; i += blockDim.x) {
    const float a = round_bf16(o[base + i]);
    ss += a * a;
  }
  const float s1 = rms_scale(ss, H, eps, red);
  float ss2 = 0.0f;
  for (int i = threadIdx.x; i < H; i += blockDim.x) {
    const float a = round_bf16(round_bf16(o[base + i]) * s1 * w_post[i]);
    a_out[base + i] = f32_to_bf16(a);
    const float hn = round_bf16(h[base + i] + a);
    h[base + i] = hn;
    ss2 += hn * hn;
  }
  const float s2 = rms_scale(ss2, H, eps, red);
  for (int i = threadIdx.x; i < H; i += blockDim.x) {
    const uint16_t b = f32_to_bf16(h[base + i] * s2 * w_pre[i]);
    x_out[base + i] = b;
    if (xq.q != nullptr) warp_quantize(xq, H, blockIdx.x, i - i % 32, bf16_to_f32(b));
  }
}

__global__ void post_ffn_kernel(const float* d, const float* w_post, float layer_scalar, float eps, int H,
                                float* h, uint16_t* m_out, const float* w_next, uint16_t* x_next, XQOut xq) {
  __shared__ float red[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * H;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < H; i += blockDim.x) {
    const float v = round_bf16(d[base + i]);
    ss += v * v;
  }
  const float s = rms_scale(ss, H, eps, red);
  float ss2 = 0.0f;
  for (int i = threadIdx.x; i < H; i += blockDim.x) {
    const float m = round_bf16(round_bf16(d[base + i]) * s * w_post[i]);
    m_out[base + i] = f32_to_bf16(m);
    const float hn = round_bf16(round_bf16(h[base + i] + m) * layer_scalar);
    h[base + i] = hn;
    ss2 += hn * hn;
  }
  if (w_next == nullptr) return;  // uniform over the block
  const float s2 = rms_scale(ss2, H, eps, red);
  for (int i = threadIdx.x; i < H; i += blockDim.x) {
    const uint16_t b = f32_to_bf16(h[base + i] * s2 * w_next[i]);
    x_next[base + i] = b;
    if (xq.q != nullptr) warp_quantize(xq, H, blockIdx.x, i - i % 32, bf16_to_f32(b));
  }
}

__device__ __forceinline__ float gelu_tanh(float x) {
  // PyTorch's GeluKernel constants: kBeta = sqrt(2) · (2/sqrt(pi)) · 0.5 in double, then float.
  const float kBeta = static_cast<float>(1.41421356237309504880 * 1.12837916709551257390 * 0.5);
  const float kKappa = 0.044715f;
  const float x_cube = x * x * x;
  const float inner = kBeta * (x + kKappa * x_cube);
  return 0.5f * x * (1.0f + tanhf(inner));
}

__global__ void gelu_mul_kernel(const float* gu, int64_t I, uint16_t* act, XQOut xq) {
  const int t = blockIdx.y;
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= I) return;  // I is a multiple of 32: whole warps leave
  const float g = round_bf16(gu[t * 2 * I + c]), u = round_bf16(gu[t * 2 * I + I + c]);
  const uint16_t b = f32_to_bf16(round_bf16(gelu_tanh(g)) * u);
  act[t * I + c] = b;
  if (xq.q != nullptr) warp_quantize(xq, I, t, c - c % 32, bf16_to_f32(b));
}

__global__ void softcap_kernel(const float* x, int64_t n, float cap, float* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const float v = round_bf16(x[i]);
  if (cap <= 0.0f) {
    out[i] = v;
    return;
  }
  const float a = round_bf16(v / cap);
  const float t = round_bf16(tanhf(a));
  out[i] = round_bf16(t * cap);
}

__global__ void bf16_to_f32_kernel(const uint16_t* in, int64_t n, float* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = bf16_to_f32(in[i]);
}
__global__ void f32_to_bf16_kernel(const float* in, int64_t n, uint16_t* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = f32_to_bf16(in[i]);
}
__global__ void round_kernel(float* x, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) x[i] = round_bf16(x[i]);
}
__global__ void bias_round_kernel(float* y, int64_t n, const float* bias) {
  const int r = blockIdx.y;
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= n) return;
  float& v = y[r * n + c];
  v = round_bf16(bias != nullptr ? v + bias[c] : v);
}

__global__ void layernorm_kernel(float* x, int n, const float* w, const float* b, float eps) {
  __shared__ float red[32];
  float* row = x + static_cast<int64_t>(blockIdx.x) * n;
  float s = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += row[i];
  const float mean = block_sum(s, red) / static_cast<float>(n);
  float sq = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) sq += (row[i] - mean) * (row[i] - mean);
  const float var = block_sum(sq, red) / static_cast<float>(n);
  const float rstd = 1.0f / sqrtf(var + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) row[i] = round_bf16((row[i] - mean) * rstd * w[i] + b[i]);
}

__global__ void posemb_kernel(float* e, int E, const float* table, const int32_t* xy) {
  const int t = blockIdx.y;
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= E) return;
  const float col = table[(static_cast<int64_t>(xy[2 * t]) * 2 + 0) * E + c];
  const float row = table[(static_cast<int64_t>(xy[2 * t + 1]) * 2 + 1) * E + c];
  float& v = e[static_cast<int64_t>(t) * E + c];
  v = round_bf16(v + round_bf16(col + row));
}

// One CUDA block per (token, head slot); thread i owns the RoPE pair (i, i + D/2).
__global__ void qkv_kernel(QkvParams p) {
  __shared__ float red[32];
  const int t = blockIdx.x, slot = blockIdx.y, half = p.D / 2, i = threadIdx.x;
  const int pos = *p.pos0 + t;
  const float* src;
  const float* w;
  int kind, head;  // kind 0: q, 1: k, 2: v
  if (slot < p.Hq) {
    kind = 0;
    head = slot;
    src = p.qkv + t * p.ld + static_cast<int64_t>(head) * p.D;
    w = p.q_norm;
  } else if (slot < p.Hq + p.Hkv) {
    kind = 1;
    head = slot - p.Hq;
    src = p.qkv + t * p.ld + static_cast<int64_t>(p.Hq + head) * p.D;
    w = p.k_norm;
  } else {
    kind = 2;
    head = slot - p.Hq - p.Hkv;
    src = p.qkv + t * p.ld + p.v_col + static_cast<int64_t>(head) * p.D;
    w = nullptr;
  }
  float a = round_bf16(src[i]), b = round_bf16(src[i + half]);
  const float scale = rms_scale(a * a + b * b, p.D, p.eps, red);
  a = a * scale;
  b = b * scale;
  if (w != nullptr) {
    a = a * w[i];
    b = b * w[i + half];
  }
  a = round_bf16(a);
  b = round_bf16(b);
  if (kind != 2) {
    const float theta = static_cast<float>(pos) * p.inv_freq[i];
    const float c = round_bf16(cosf(theta)), s = round_bf16(sinf(theta));
    const float na = round_bf16(round_bf16(a * c) + round_bf16(-b * s));
    const float nb = round_bf16(round_bf16(b * c) + round_bf16(a * s));
    a = na;
    b = nb;
  }
  const uint16_t ba = f32_to_bf16(a), bb = f32_to_bf16(b);
  if (kind == 0) {
    uint16_t* q = p.q_out + (static_cast<int64_t>(t) * p.Hq + head) * p.D;
    q[i] = ba;
    q[i + half] = bb;
    return;
  }
  uint16_t* out = (kind == 1 ? p.k_out : p.v_out) + (static_cast<int64_t>(t) * p.Hkv + head) * p.D;
  out[i] = ba;
  out[i + half] = bb;
  uint16_t* cache = (kind == 1 ? p.k_cache : p.v_cache) + (head * p.cap + cache_slot(pos, p.cap)) * p.D;
  cache[i] = ba;
  cache[i + half] = bb;
}

}  // namespace

void embed_rows(const DevMatrix& E, const int32_t* ids, int T, float scale, float* h, cudaStream_t stream) {
  embed_kernel<<<dim3(grid_for(E.cols, kRowThreads), T), kRowThreads, 0, stream>>>(E, ids, scale, h);
  G4_CUDA_LAUNCHED();
}

void scatter_rows(const float* src, const int32_t* pairs, int n_pairs, int64_t H, float* h,
                  cudaStream_t stream) {
  if (n_pairs == 0) return;
  scatter_kernel<<<dim3(grid_for(H, kRowThreads), n_pairs), kRowThreads, 0, stream>>>(src, pairs, H, h);
  G4_CUDA_LAUNCHED();
}

void rmsnorm_rows(const float* x, int64_t ldx, int rows, int n, const float* w, float eps, bool round_input,
                  uint16_t* out_bf16, int64_t ld_bf16, float* out_f32, int64_t ld_f32, cudaStream_t stream,
                  XQOut xq) {
  if (rows == 0) return;
  G4_CHECK(xq.q == nullptr || n % 32 == 0, "rmsnorm_rows: quantized output needs whole blocks of 32");
  rmsnorm_kernel<<<rows, row_threads(rows), 0, stream>>>(x, ldx, n, w, eps, round_input, out_bf16, ld_bf16,
                                                         out_f32, ld_f32, xq);
  G4_CUDA_LAUNCHED();
}

void post_attention(const float* o, const float* w_post, const float* w_pre, float eps, int T, int H,
                    float* h, uint16_t* a_out, uint16_t* x_out, cudaStream_t stream, XQOut xq) {
  G4_CHECK(xq.q == nullptr || H % 32 == 0, "post_attention: quantized output needs whole blocks of 32");
  post_attention_kernel<<<T, row_threads(T), 0, stream>>>(o, w_post, w_pre, eps, H, h, a_out, x_out, xq);
  G4_CUDA_LAUNCHED();
}

void post_ffn(const float* d, const float* w_post, float layer_scalar, float eps, int T, int H, float* h,
              uint16_t* m_out, cudaStream_t stream, const float* w_next, uint16_t* x_next, XQOut xq) {
  G4_CHECK(xq.q == nullptr || H % 32 == 0, "post_ffn: quantized output needs whole blocks of 32");
  post_ffn_kernel<<<T, row_threads(T), 0, stream>>>(d, w_post, layer_scalar, eps, H, h, m_out, w_next, x_next,
                                                    xq);
  G4_CUDA_LAUNCHED();
}

void gelu_mul(const float* gate_up, int T, int64_t I, uint16_t* act, cudaStream_t stream, XQOut xq) {
  G4_CHECK(I % 32 == 0, "gelu_mul: intermediate size must be a multiple of 32");
  gelu_mul_kernel<<<dim3(grid_for(I, kRowThreads), T), kRowThreads, 0, stream>>>(gate_up, I, act, xq);
  G4_CUDA_LAUNCHED();
}

void softcap(const float* x, int64_t n, float cap, float* out, cudaStream_t stream) {
  softcap_kernel<<<grid_for(n, kRowThreads), kRowThreads, 0, stream>>>(x, n, cap, out);
  G4_CUDA_LAUNCHED();
}

void bf16_to_f32(const uint16_t* in, int64_t n, float* out, cudaStream_t stream) {
  if (n == 0) return;
  bf16_to_f32_kernel<<<grid_for(n, kRowThreads), kRowThreads, 0, stream>>>(in, n, out);
  G4_CUDA_LAUNCHED();
}

void f32_to_bf16(const float* in, int64_t n, uint16_t* out, cudaStream_t stream) {
  if (n == 0) return;
  f32_to_bf16_kernel<<<grid_for(n, kRowThreads), kRowThreads, 0, stream>>>(in, n, out);
  G4_CUDA_LAUNCHED();
}

void round_bf16_inplace(float* x, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  round_kernel<<<grid_for(n, kRowThreads), kRowThreads, 0, stream>>>(x, n);
  G4_CUDA_LAUNCHED();
}

void add_bias_round(float* y, int rows, int64_t n, const float* bias, cudaStream_t stream) {
  if (rows == 0) return;
  bias_round_kernel<<<dim3(grid_for(n, kRowThreads), rows), kRowThreads, 0, stream>>>(y, n, bias);
  G4_CUDA_LAUNCHED();
}

void layernorm_rows(float* x, int rows, int n, const float* w, const float* b, float eps,
                    cudaStream_t stream) {
  if (rows == 0) return;
  layernorm_kernel<<<rows, kRowThreads, 0, stream>>>(x, n, w, b, eps);
  G4_CUDA_LAUNCHED();
}

void posemb_add(float* e, int n, int E, const float* table, const int32_t* xy, cudaStream_t stream) {
  if (n == 0) return;
  posemb_kernel<<<dim3(grid_for(E, kRowThreads), n), kRowThreads, 0, stream>>>(e, E, table, xy);
  G4_CUDA_LAUNCHED();
}

void qkv_norm_rope(const QkvParams& p, cudaStream_t stream) {
  G4_CHECK(p.D % 64 == 0 && p.D <= 2048, "qkv_norm_rope: head_dim must be a multiple of 64");
  qkv_kernel<<<dim3(p.T, p.Hq + 2 * p.Hkv), p.D / 2, 0, stream>>>(p);
  G4_CUDA_LAUNCHED();
}

}  // namespace g4::cudak
