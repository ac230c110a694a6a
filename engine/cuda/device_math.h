// Math shared by the CUDA kernels and their host-side tests: number formats (bf16, f16), the device layouts
// of the weight formats, per-element dequantization, the per-unit dot products of the GEMV kernels,
// activation quantization, the attention mask and key ranges, KV ring slots, split-softmax merging and the
// seeded weight generator of shape-only models. Every function is __host__ __device__ under nvcc and plain
// inline under a host compiler, so tests/engine/test_cuda_host.cpp checks on a CPU the exact code the kernels
// run.
//
// C++17 and no CUDA header on the host side: this file is included by .cu files and by C++20 host code.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#define G4_HD __host__ __device__ __forceinline__
#else
#define G4_HD inline
#endif

namespace g4::cudak {

// ---------------------------------------------------------------------------------------------------------
// Scalars.

G4_HD float bits_to_float(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
#endif
}

G4_HD uint32_t float_to_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
#endif
}

G4_HD float bf16_to_f32(uint16_t b) { return bits_to_float(static_cast<uint32_t>(b) << 16); }

// Round to nearest even, as core/dtype.h (the GPU smoke test checks the two agree bit for bit).
G4_HD uint16_t f32_to_bf16(float x) {
#ifdef __CUDA_ARCH__
  return __bfloat16_as_ushort(__float2bfloat16_rn(x));
#else
  uint32_t u = float_to_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
#endif
}

// The reference's at_boundary() in mode bf16.
G4_HD float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

G4_HD float f16_to_f32(uint16_t h) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(h));
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;  // m · 2^-24, exact
    return sign ? -v : v;
  }
  if (e == 31) return bits_to_float(sign | 0x7f800000u | (m << 13));
  return bits_to_float(sign | ((e + 112u) << 23) | (m << 13));
#endif
}

// Round to nearest even; finite inputs of the magnitudes the generator writes (scales, never overflow).
G4_HD uint16_t f32_to_f16(float x) {
#ifdef __CUDA_ARCH__
  return __half_as_ushort(__float2half_rn(x));
#else
  const uint32_t u = float_to_bits(x);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const float a = std::fabs(x);
  if (a >= 65520.0f) return static_cast<uint16_t>(sign | 0x7c00u);
  if (a < 6.103515625e-5f) {  // subnormal half: a multiple of 2^-24
    const float q = std::nearbyint(a * 16777216.0f);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(q));
  }
  uint32_t b = float_to_bits(a);
  b += 0xfffu + ((b >> 13) & 1u);  // round the 13 dropped mantissa bits to nearest even
  return static_cast<uint16_t>(sign | (((b >> 23) - 112u) << 10) | ((b >> 13) & 0x3ffu));
#endif
}

// Signed 8-bit dot of four packed bytes plus c (the dp4a instruction).
G4_HD int dp4a(int a, int b, int c) {
#ifdef __CUDA_ARCH__
  return __dp4a(a, b, c);
#else
  for (int k = 0; k < 4; ++k)
    c += static_cast<int>(static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * k))) *
         static_cast<int>(static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * k)));
  return c;
#endif
}

G4_HD int round_to_int(float x) {
#ifdef __CUDA_ARCH__
  return __float2int_rn(x);
#else
  return static_cast<int>(std::nearbyint(x));
#endif
}

G4_HD float hd_exp(float x) {
#ifdef __CUDA_ARCH__
  return expf(x);
#else
  return std::exp(x);
#endif
}
G4_HD float hd_log(float x) {
#ifdef __CUDA_ARCH__
  return logf(x);
#else
  return std::log(x);
#endif
}
G4_HD float hd_cos(float x) {
#ifdef __CUDA_ARCH__
  return cosf(x);
#else
  return std::cos(x);
#endif
}
G4_HD float hd_sqrt(float x) {
#ifdef __CUDA_ARCH__
  return sqrtf(x);
#else
  return std::sqrt(x);
#endif
}

// 16 bytes as four words; `p` must be 16-byte aligned (every device layout below guarantees it).
G4_HD void load16(const void* p, uint32_t w[4]) {
#ifdef __CUDA_ARCH__
  const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
  w[0] = v.x;
  w[1] = v.y;
  w[2] = v.z;
  w[3] = v.w;
#else
  std::memcpy(w, p, 16);
#endif
}

// A typed store; on the host through memcpy (the buffers there are byte vectors).
template <typename T>
G4_HD void store_as(void* p, T v) {
#ifdef __CUDA_ARCH__
  *reinterpret_cast<T*>(p) = v;
#else
  std::memcpy(p, &v, sizeof(T));
#endif
}

G4_HD uint16_t load_u16(const void* p) {
#ifdef __CUDA_ARCH__
  return __ldg(reinterpret_cast<const unsigned short*>(p));
#else
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
#endif
}

G4_HD uint32_t load_u32(const void* p) {
#ifdef __CUDA_ARCH__
  return __ldg(reinterpret_cast<const unsigned int*>(p));
#else
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
#endif
}

G4_HD float load_f32(const void* p) {
#ifdef __CUDA_ARCH__
  return __ldg(reinterpret_cast<const float*>(p));
#else
  float v;
  std::memcpy(&v, p, sizeof(v));
  return v;
#endif
}

// ---------------------------------------------------------------------------------------------------------
// Weight formats and their device layouts. The values are those of engine/quant/format.h (same quants, same
// scales); only the byte arrangement differs, so every load is an aligned 16-byte vector:
//   F32, BF16  rows as stored                                    data row: 4·K / 2·K bytes
//   I8         int8 quants                                        data row: K bytes; scales: one f32 per row
//   Q8_0       int8 quants, block scales split off               data row: K bytes; scales: f16 per 32
//   Q4_0       the blocks' 16 nibble bytes back to back          data row: K/2 bytes; scales: f16 per 32
//   Q4_K       llama.cpp's 144-byte blocks unchanged             data row: 144·K/256 bytes
//   Q6_K       ql, qh, scales (208 bytes) per block, d split off data row: 208·K/256; scales: f16 per 256
// A matrix is one allocation: rows·data_row bytes, then (at a 256-byte boundary) rows·scale_row bytes.

enum class WFormat : int32_t { F32 = 0, BF16, I8, Q8_0, Q4_0, Q4_K, Q6_K };

G4_HD int64_t format_block_elems(WFormat f) {
  switch (f) {
    case WFormat::Q8_0:
    case WFormat::Q4_0:
    case WFormat::I8:
    case WFormat::F32:
    case WFormat::BF16:
      return 32;  // every K must be a multiple of 32: activation blocks of the GEMV are 32 wide
    case WFormat::Q4_K:
    case WFormat::Q6_K:
      return 256;
  }
  return 256;
}

G4_HD int64_t data_row_bytes(WFormat f, int64_t cols) {
  switch (f) {
    case WFormat::F32:
      return 4 * cols;
    case WFormat::BF16:
      return 2 * cols;
    case WFormat::I8:
    case WFormat::Q8_0:
      return cols;
    case WFormat::Q4_0:
      return cols / 2;
    case WFormat::Q4_K:
      return 144 * (cols / 256);
    case WFormat::Q6_K:
      return 208 * (cols / 256);
  }
  return 0;
}

G4_HD int64_t scale_row_bytes(WFormat f, int64_t cols) {
  switch (f) {
    case WFormat::I8:
      return 4;
    case WFormat::Q8_0:
    case WFormat::Q4_0:
      return 2 * (cols / 32);
    case WFormat::Q6_K:
      return 2 * (cols / 256);
    default:
      return 0;
  }
}

G4_HD int64_t align_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

// Bytes of one device matrix and the offset of its scale part.
G4_HD int64_t matrix_scale_offset(WFormat f, int64_t rows, int64_t cols) {
  return align_up(rows * data_row_bytes(f, cols), 256);
}
G4_HD int64_t matrix_bytes(WFormat f, int64_t rows, int64_t cols) {
  return matrix_scale_offset(f, rows, cols) + align_up(rows * scale_row_bytes(f, cols), 256);
}

struct DevMatrix {
  WFormat fmt = WFormat::BF16;
  int64_t rows = 0, cols = 0;
  uint8_t* data = nullptr;    // rows · data_row bytes
  uint8_t* scales = nullptr;  // rows · scale_row bytes (nullptr when the format has none)
  int64_t drb = 0, srb = 0;   // data_row_bytes, scale_row_bytes
};

// A view of `rows` rows of a matrix laid out at `base` (a matrix_bytes-sized allocation).
G4_HD DevMatrix make_dev_matrix(WFormat f, int64_t rows, int64_t cols, uint8_t* base) {
  DevMatrix m;
  m.fmt = f;
  m.rows = rows;
  m.cols = cols;
  m.data = base;
  m.drb = data_row_bytes(f, cols);
  m.srb = scale_row_bytes(f, cols);
  m.scales = m.srb > 0 ? base + matrix_scale_offset(f, rows, cols) : nullptr;
  return m;
}

// Rows [r0, r0 + n) of a matrix as a matrix of its own (no copy).
G4_HD DevMatrix row_slice(const DevMatrix& m, int64_t r0, int64_t n) {
  DevMatrix s = m;
  s.rows = n;
  s.data = m.data + r0 * m.drb;
  s.scales = m.scales ? m.scales + r0 * m.srb : nullptr;
  return s;
}

// q4_K: 6-bit scale and min j (0..7) from the 12 packed bytes (ggml's get_scale_min_k4).
G4_HD void q4k_scale_min(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// The inverse packing (used by the shape-only generator): 8 scales and 8 mins of 6 bits into 12 bytes.
G4_HD void q4k_pack_scales(const int sc[8], const int m[8], uint8_t q[12]) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<uint8_t>((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

// One weight value, as quant::dequantize_row computes it (same float operations).
G4_HD float dequant1(const DevMatrix& w, int64_t row, int64_t c) {
  const uint8_t* d = w.data + row * w.drb;
  switch (w.fmt) {
    case WFormat::F32:
      return load_f32(d + 4 * c);
    case WFormat::BF16:
      return bf16_to_f32(load_u16(d + 2 * c));
    case WFormat::I8:
      return load_f32(w.scales + row * w.srb) * static_cast<float>(static_cast<int8_t>(d[c]));
    case WFormat::Q8_0:
      return f16_to_f32(load_u16(w.scales + row * w.srb + 2 * (c / 32))) *
             static_cast<float>(static_cast<int8_t>(d[c]));
    case WFormat::Q4_0: {
      const int64_t b = c / 32, e = c % 32;
      const uint8_t byte = d[16 * b + (e & 15)];
      const int q = (e < 16 ? (byte & 0xF) : (byte >> 4)) - 8;
      return static_cast<float>(q) * f16_to_f32(load_u16(w.scales + row * w.srb + 2 * b));
    }
    case WFormat::Q4_K: {
      const uint8_t* blk = d + 144 * (c / 256);
      const int e = static_cast<int>(c % 256), p = e / 64, within = e % 64;
      const int j = 2 * p + (within >= 32 ? 1 : 0);
      const uint8_t byte = blk[16 + 32 * p + within % 32];
      const int q = within >= 32 ? (byte >> 4) : (byte & 0xF);
      int sc, m;
      q4k_scale_min(j, blk + 4, sc, m);
      const float dd = f16_to_f32(load_u16(blk)), dmin = f16_to_f32(load_u16(blk + 2));
      const float d1 = dd * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      return d1 * static_cast<float>(q) - m1;
    }
    case WFormat::Q6_K: {
      const int64_t sb = c / 256;
      const uint8_t* body = d + 208 * sb;
      const int e = static_cast<int>(c % 256), n = e / 128, g = (e % 128) / 32, l = e % 32;
      const int lo = (body[64 * n + 32 * (g & 1) + l] >> (4 * (g >> 1))) & 0xF;
      const int hi = (body[128 + 32 * n + l] >> (2 * g)) & 3;
      const int q = (lo | (hi << 4)) - 32;
      const float dd = f16_to_f32(load_u16(w.scales + row * w.srb + 2 * sb));
      return dd * static_cast<float>(static_cast<int8_t>(body[192 + e / 16])) * static_cast<float>(q);
    }
  }
  return 0.0f;
}

// ---------------------------------------------------------------------------------------------------------
// Activation quantization for the integer GEMV paths: per block of 32 values, d = amax/127, q = round(x/d)
// (as llama.cpp's q8_1), s = d·Σq. One token row of K values has K/32 blocks.
struct XQRow {
  const int8_t* q = nullptr;  // [K], 16-byte aligned
  const float* d = nullptr;   // [K/32]
  const float* s = nullptr;   // [K/32]
};

G4_HD void quantize_block32(const float* x, int8_t* q, float& d, float& s) {
  float amax = 0.0f;
  for (int i = 0; i < 32; ++i) amax = fmaxf(amax, fabsf(x[i]));
  d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  int sum = 0;
  for (int i = 0; i < 32; ++i) {
    const int v = round_to_int(x[i] * id);
    q[i] = static_cast<int8_t>(v);
    sum += v;
  }
  s = d * static_cast<float>(sum);
}

// ---------------------------------------------------------------------------------------------------------
// GEMV units. A row of K values is cut into units (8 values for f32/bf16, 32 for i8/q8_0/q4_0/q6_k, 64 for
// q4_k); the kernel's lanes take units u = lane, lane + 32, ... and the row's dot product is the sum over
// units. load() reads one unit of weights into registers, dot() combines it with one token's activations.

// The GEMV kernels handle up to this many tokens (one pass over the weights for all of them).
constexpr int kMaxGemvTokens = 8;

G4_HD int64_t unit_elems(WFormat f) {
  switch (f) {
    case WFormat::F32:
    case WFormat::BF16:
      return 8;
    case WFormat::Q4_K:
      return 64;
    case WFormat::Q6_K:
      return 128;
    default:
      return 32;
  }
}

// Eight bf16 activations (one 16-byte load) as floats.
G4_HD void load_x8(const uint16_t* x, float out[8]) {
  uint32_t w[4];
  load16(x, w);
  for (int k = 0; k < 4; ++k) {
    out[2 * k] = bits_to_float(w[k] << 16);
    out[2 * k + 1] = bits_to_float(w[k] & 0xffff0000u);
  }
}

struct UnitF32 {
  static constexpr int kMaxUnroll = 4;
  uint32_t w[8];
  G4_HD void load(const DevMatrix& m, int64_t row, int64_t u) {
    const uint8_t* p = m.data + row * m.drb + 32 * u;
    load16(p, w);
    load16(p + 16, w + 4);
  }
  G4_HD float dot(const uint16_t* x, const XQRow&, int64_t u) const {
    float xv[8];
    load_x8(x + 8 * u, xv);
    float acc = 0.0f;
    for (int k = 0; k < 8; ++k) acc += bits_to_float(w[k]) * xv[k];
    return acc;
  }
};

struct UnitBF16 {
  static constexpr int kMaxUnroll = 4;
  uint32_t w[4];
  G4_HD void load(const DevMatrix& m, int64_t row, int64_t u) { load16(m.data + row * m.drb + 16 * u, w); }
  G4_HD float dot(const uint16_t* x, const XQRow&, int64_t u) const {
    float xv[8];
    load_x8(x + 8 * u, xv);
    float acc = 0.0f;
    for (int k = 0; k < 4; ++k) {
      acc += bits_to_float(w[k] << 16) * xv[2 * k];
      acc += bits_to_float(w[k] & 0xffff0000u) * xv[2 * k + 1];
    }
    return acc;
  }
};

// Σ over 32 int8 weights (8 words) times the unit's 32 quantized activations.
G4_HD int dot32_i8(const uint32_t w[8], const int8_t* xq) {
  uint32_t a[8];
  load16(xq, a);
  load16(xq + 16, a + 4);
  int s = 0;
  for (int k = 0; k < 8; ++k) s = dp4a(static_cast<int>(w[k]), static_cast<int>(a[k]), s);
  return s;
}

struct UnitI8 {
  static constexpr int kMaxUnroll = 4;
  uint32_t w[8];
  float scale;
  G4_HD void load(const DevMatrix& m, int64_t row, int64_t u) {
    const uint8_t* p = m.data + row * m.drb + 32 * u;
    load16(p, w);
    load16(p + 16, w + 4);
    scale = load_f32(m.scales + row * m.srb);
  }
  G4_HD float dot(const uint16_t*, const XQRow& x, int64_t u) const {
    return scale * x.d[u] * static_cast<float>(dot32_i8(w, x.q + 32 * u));
  }
};

struct UnitQ8_0 {
  static constexpr int kMaxUnroll = 4;
  uint32_t w[8];
  float d;
  G4_HD void load(const DevMatrix& m, int64_t row, int64_t u) {
    const uint8_t* p = m.data + row * m.drb + 32 * u;
    load16(p, w);
    load16(p + 16, w + 4);
    d = f16_to_f32(load_u16(m.scales + row * m.srb + 2 * u));
  }
  G4_HD float dot(const uint16_t*, const XQRow& x, int64_t u) const {
    return d * x.d[u] * static_cast<float>(dot32_i8(w, x.q + 32 * u));
  }
};

struct UnitQ4_0 {
  static constexpr int kMaxUnroll = 4;
  uint32_t w[4];
  float d;
  G4_HD void load(const DevMatrix& m, int64_t row, int64_t u) {
    load16(m.data + row * m.drb + 16 * u, w);
    d = f16_to_f32(load_u16(m.scales + row * m.srb + 2 * u));
  }
  // Byte j holds element j (low nibble) and j + 16 (high nibble): word k pairs with activation words k, 4 +
  // k.
  G4_HD float dot(const uint16_t*, const XQRow& x, int64_t u) const {
    uint32_t a[8];
    load16(x.q + 32 * u, a);
    load16(x.q + 32 * u + 16, a + 4);
    int s = 0;
    for (int k = 0; k < 4; ++k) {
      s = dp4a(static_cast<int>(w[k] & 0x0F0F0F0Fu), static_cast<int>(a[k]), s);
      s = dp4a(static_cast<int>((w[k] >> 4) & 0x0F0F0F0Fu), static_cast<int>(a[4 + k]), s);
    }
    // Σ (q - 8)·d·x = d·(dx·Σ q·xq - 8·s), s = dx·Σ xq.
    return d * (x.d[u] * static_cast<float>(s) - 8.0f * x.s[u]);
  }
};

// Unit u = 64 values: chunk p = u % 4 of super-block u / 4; the 32 bytes qs[32p .. 32p+31] hold sub-block 2p
// in their low nibbles and sub-block 2p + 1 in their high nibbles.
struct UnitQ4_K {
  static constexpr int kMaxUnroll = 4;
  uint32_t head[4];  // d, dmin, 12 scale bytes
  uint32_t w[8];
  G4_HD void load(const DevMatrix& m, int64_t row, int64_t u) {
    const uint8_t* blk = m.data + row * m.drb + 144 * (u / 4);
    load16(blk, head);
    load16(blk + 16 + 32 * (u % 4), w);
    load16(blk + 32 + 32 * (u % 4), w + 4);
  }
  // Byte k of the 12 packed scale bytes, from the header words (no local-memory array on the device).
  G4_HD int scale_byte(int k) const { return static_cast<int>((head[1 + k / 4] >> (8 * (k % 4))) & 0xffu); }
  G4_HD void scale_min(int j, int& sc, int& m) const {
    if (j < 4) {
      sc = scale_byte(j) & 63;
      m = scale_byte(j + 4) & 63;
    } else {
      sc = (scale_byte(j + 4) & 0xF) | ((scale_byte(j - 4) >> 6) << 4);
      m = (scale_byte(j + 4) >> 4) | ((scale_byte(j) >> 6) << 4);
    }
  }
  G4_HD float dot(const uint16_t*, const XQRow& x, int64_t u) const {
    const int p = static_cast<int>(u % 4);
    const int64_t xb0 = 2 * u, xb1 = 2 * u + 1;  // activation blocks of sub-blocks 2p and 2p + 1
    uint32_t a0[8], a1[8];
    load16(x.q + 32 * xb0, a0);
    load16(x.q + 32 * xb0 + 16, a0 + 4);
    load16(x.q + 32 * xb1, a1);
    load16(x.q + 32 * xb1 + 16, a1 + 4);
    int s0 = 0, s1 = 0;
    for (int k = 0; k < 8; ++k) {
      s0 = dp4a(static_cast<int>(w[k] & 0x0F0F0F0Fu), static_cast<int>(a0[k]), s0);
      s1 = dp4a(static_cast<int>((w[k] >> 4) & 0x0F0F0F0Fu), static_cast<int>(a1[k]), s1);
    }
    int sc0, m0, sc1, m1;
    scale_min(2 * p, sc0, m0);
    scale_min(2 * p + 1, sc1, m1);
    const float dd = f16_to_f32(static_cast<uint16_t>(head[0] & 0xffffu));
    const float dmin = f16_to_f32(static_cast<uint16_t>(head[0] >> 16));
    // w = d·sc·q - dmin·m  =>  Σ w·x = d·sc·dx·Σ q·xq - dmin·m·s
    return dd * (static_cast<float>(sc0) * x.d[xb0] * static_cast<float>(s0) +
                 static_cast<float>(sc1) * x.d[xb1] * static_cast<float>(s1)) -
           dmin * (static_cast<float>(m0) * x.s[xb0] + static_cast<float>(m1) * x.s[xb1]);
  }
};

// Unit u = 128 values: half n = u % 2 of super-block u / 2, i.e. ql[64n .. 64n+63], qh[32n .. 32n+31] and the
// scales sc[8n .. 8n+7], each byte loaded once. Group g < 4 of the half holds values 128n + 32g + l (l < 32):
// low (g < 2) or high (g >= 2) nibbles of ql[64n + 32(g & 1) + l], bits 2g..2g+1 of qh[32n + l]; its scales
// are sc[8n + 2g] for l < 16 and sc[8n + 2g + 1] for l >= 16.
struct UnitQ6_K {
  static constexpr int kMaxUnroll = 2;  // 27 words per unit
  uint32_t ql[16], qh[8], sc[2];
  float d;
  G4_HD void load(const DevMatrix& m, int64_t row, int64_t u) {
    const int64_t sb = u / 2;
    const int n = static_cast<int>(u % 2);
    const uint8_t* body = m.data + row * m.drb + 208 * sb;
    for (int k = 0; k < 4; ++k) load16(body + 64 * n + 16 * k, ql + 4 * k);
    load16(body + 128 + 32 * n, qh);
    load16(body + 128 + 32 * n + 16, qh + 4);
    sc[0] = load_u32(body + 192 + 8 * n);
    sc[1] = load_u32(body + 192 + 8 * n + 4);
    d = f16_to_f32(load_u16(m.scales + row * m.srb + 2 * sb));
  }
  G4_HD int scale(int k) const { return static_cast<int8_t>((sc[k / 4] >> (8 * (k % 4))) & 0xffu); }
  G4_HD float dot(const uint16_t*, const XQRow& x, int64_t u) const {
    const int64_t xb0 = 4 * u;  // the unit's values start at 128u: activation block 4u
    float total = 0.0f;
    for (int g = 0; g < 4; ++g) {
      const int nib = 4 * (g >> 1), hsh = 2 * g, qlw = 8 * (g & 1);
      uint32_t a[8];
      load16(x.q + 32 * (xb0 + g), a);
      load16(x.q + 32 * (xb0 + g) + 16, a + 4);
      int s0 = 0, s1 = 0, x0 = 0, x1 = 0;
      for (int k = 0; k < 8; ++k) {
        const uint32_t q = ((ql[qlw + k] >> nib) & 0x0F0F0F0Fu) | (((qh[k] >> hsh) & 0x03030303u) << 4);
        if (k < 4) {
          s0 = dp4a(static_cast<int>(q), static_cast<int>(a[k]), s0);
          x0 = dp4a(0x01010101, static_cast<int>(a[k]), x0);
        } else {
          s1 = dp4a(static_cast<int>(q), static_cast<int>(a[k]), s1);
          x1 = dp4a(0x01010101, static_cast<int>(a[k]), x1);
        }
      }
      // w = d·sc·(q - 32)
      total += x.d[xb0 + g] *
               static_cast<float>(scale(2 * g) * (s0 - 32 * x0) + scale(2 * g + 1) * (s1 - 32 * x1));
    }
    return d * total;
  }
};

// ---------------------------------------------------------------------------------------------------------
// Attention: mask (spec §2.7), key ranges, KV ring slots, split-softmax merging.

// Key j visible to query i: causal (and inside the window on sliding layers), or both in the same vision
// block (block ids >= 0). Same rule as reference/attention.cpp key_visible.
G4_HD bool key_visible(int64_t i, int64_t j, bool sliding, int64_t window, int32_t block_i, int32_t block_j) {
  const bool causal = j <= i && (!sliding || i - j < window);
  return causal || (block_i >= 0 && block_i == block_j);
}

// Keys a query at position i may see lie in [lo, hi): its causal window, widened to its vision block
// [block_lo, block_hi) when it is in one (block_lo < 0: none).
struct KeyRange {
  int64_t lo, hi;
};
G4_HD KeyRange query_key_range(int64_t i, bool sliding, int64_t window, int64_t block_lo, int64_t block_hi) {
  KeyRange r{sliding ? (i - window + 1 > 0 ? i - window + 1 : 0) : 0, i + 1};
  if (block_lo >= 0) {
    if (block_lo < r.lo) r.lo = block_lo;
    if (block_hi > r.hi) r.hi = block_hi;
  }
  return r;
}

// Where position `pos` lives in a cache of `cap` slots: full layers have cap >= every position (slot = pos),
// sliding layers keep a ring of the window plus the chunk being prefilled.
G4_HD int64_t cache_slot(int64_t pos, int64_t cap) { return pos % cap; }

// Split z of nsplit over n tiles: [begin, end), contiguous, sizes differing by at most one tile... as
// ceil-sized parts, so the first splits are full and trailing ones may be empty.
G4_HD void split_range(int64_t n, int nsplit, int z, int64_t& begin, int64_t& end) {
  const int64_t per = (n + nsplit - 1) / nsplit;
  begin = per * z < n ? per * z : n;
  end = begin + per < n ? begin + per : n;
}

// Merges split softmax partials (running max m_s, sum l_s of exp(s - m_s), unnormalized o_s) into
// o = Σ_s o_s·exp(m_s - M) / Σ_s l_s·exp(m_s - M): fills weight[s] with exp(m_s - M) / L. Splits that saw no
// key have m = -inf and l = 0 and get weight 0.
// The combine kernel computes the same in parallel: split_weight per split, the max and the total by
// reductions.
G4_HD float split_weight(float m_split, float m_max) {
  return m_split == -INFINITY ? 0.0f : hd_exp(m_split - m_max);
}
G4_HD void merge_weights(const float* m, const float* l, int n, float* weight) {
  float mx = -INFINITY;
  for (int s = 0; s < n; ++s) mx = fmaxf(mx, m[s]);
  float total = 0.0f;
  for (int s = 0; s < n; ++s) {
    weight[s] = split_weight(m[s], mx);
    total += l[s] * weight[s];
  }
  const float inv = total > 0.0f ? 1.0f / total : 0.0f;
  for (int s = 0; s < n; ++s) weight[s] *= inv;
}

// ---------------------------------------------------------------------------------------------------------
// Shape-only weights: a counter-based generator (splitmix64 finalizer), one N(0, 1) draw per element,
// turned into each format's quants with fixed scales so that values spread like N(0, sigma).

G4_HD uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Standard normal draw number `idx` of stream `stream` (Box-Muller on two 24-bit uniforms).
G4_HD float normal_draw(uint64_t seed, uint64_t stream, uint64_t idx) {
  const uint64_t h = mix64(mix64(seed ^ mix64(stream)) + idx);
  const float u1 = (static_cast<float>(h >> 40) + 0.5f) * (1.0f / 16777216.0f);
  const float u2 = static_cast<float>((h >> 16) & 0xffffffu) * (1.0f / 16777216.0f);
  return hd_sqrt(-2.0f * hd_log(u1)) * hd_cos(6.2831853f * u2);
}

G4_HD int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Writes init block b (32 values; 256 for q4_k / q6_k) of `row`: the draws z of its values become quants.
// Typed stores on the device (every target is aligned for its type; 2-byte memcpy there once wrote wrong
// values).
G4_HD void init_block(const DevMatrix& w, int64_t row, int64_t b, uint64_t seed, uint64_t stream,
                      float sigma) {
  uint8_t* d = w.data + row * w.drb;
  const int64_t n = format_block_elems(w.fmt), c0 = b * n;
  const uint64_t first = static_cast<uint64_t>(row * w.cols + c0);
  switch (w.fmt) {
    case WFormat::F32: {
      for (int64_t k = 0; k < n; ++k)
        store_as<float>(d + 4 * (c0 + k), sigma * normal_draw(seed, stream, first + k));
      return;
    }
    case WFormat::BF16: {
      for (int64_t k = 0; k < n; ++k)
        store_as<uint16_t>(d + 2 * (c0 + k), f32_to_bf16(sigma * normal_draw(seed, stream, first + k)));
      return;
    }
    case WFormat::I8:
    case WFormat::Q8_0: {
      // q ≈ 127/4 · z, scale 4σ/127: ±4σ fills the int8 range.
      int8_t* out = reinterpret_cast<int8_t*>(d) + c0;
      for (int64_t k = 0; k < n; ++k)
        out[k] = static_cast<int8_t>(
            clamp_int(round_to_int(31.75f * normal_draw(seed, stream, first + k)), -127, 127));
      if (w.fmt == WFormat::I8)
        store_as<float>(w.scales + row * w.srb, sigma / 31.75f);
      else
        store_as<uint16_t>(w.scales + row * w.srb + 2 * b, f32_to_f16(sigma / 31.75f));
      return;
    }
    case WFormat::Q4_0: {
      // q - 8 ≈ 8/3 · z, d = 3σ/8.
      for (int k = 0; k < 16; ++k) {
        const int lo = clamp_int(round_to_int(2.6666667f * normal_draw(seed, stream, first + k)) + 8, 0, 15);
        const int hi =
            clamp_int(round_to_int(2.6666667f * normal_draw(seed, stream, first + k + 16)) + 8, 0, 15);
        d[16 * b + k] = static_cast<uint8_t>(lo | (hi << 4));
      }
      store_as<uint16_t>(w.scales + row * w.srb + 2 * b, f32_to_f16(0.375f * sigma));
      return;
    }
    case WFormat::Q4_K: {
      // Every sub-block scale and min 32: w = d·32·q - dmin·32 with q ≈ 7.5 + 2.5·z, so d = σ/80, dmin =
      // 3σ/32.
      uint8_t* blk = d + 144 * b;
      store_as<uint16_t>(blk, f32_to_f16(sigma / 80.0f));
      store_as<uint16_t>(blk + 2, f32_to_f16(3.0f * sigma / 32.0f));
      const int sc[8] = {32, 32, 32, 32, 32, 32, 32, 32};
      q4k_pack_scales(sc, sc, blk + 4);
      for (int p = 0; p < 4; ++p)
        for (int l = 0; l < 32; ++l) {
          const int lo =
              clamp_int(round_to_int(7.5f + 2.5f * normal_draw(seed, stream, first + 64 * p + l)), 0, 15);
          const int hi = clamp_int(
              round_to_int(7.5f + 2.5f * normal_draw(seed, stream, first + 64 * p + 32 + l)), 0, 15);
          blk[16 + 32 * p + l] = static_cast<uint8_t>(lo | (hi << 4));
        }
      return;
    }
    case WFormat::Q6_K: {
      // Scales 16, q - 32 ≈ 8·z, d = σ/128.
      uint8_t* body = d + 208 * b;
      for (int i = 0; i < 192; ++i) body[i] = 0;
      for (int e = 0; e < 256; ++e) {
        const int q = clamp_int(round_to_int(8.0f * normal_draw(seed, stream, first + e)) + 32, 0, 63);
        const int nn = e / 128, g = (e % 128) / 32, l = e % 32;
        body[64 * nn + 32 * (g & 1) + l] |= static_cast<uint8_t>((q & 0xF) << (4 * (g >> 1)));
        body[128 + 32 * nn + l] |= static_cast<uint8_t>((q >> 4) << (2 * g));
      }
      for (int i = 0; i < 16; ++i) body[192 + i] = 16;
      store_as<uint16_t>(w.scales + row * w.srb + 2 * b, f32_to_f16(sigma / 128.0f));
      return;
    }
  }
}

}  // namespace g4::cudak
