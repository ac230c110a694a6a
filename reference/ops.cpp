#include "reference/ops.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/error.h"

namespace g4::reference {

namespace {
std::atomic<int> g_threads{0};  // 0 = not chosen yet

int threads_from_env() {
  if (const char* s = std::getenv("G4_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(s, &end, 10);
    if (end != s && *end == '\0' && n >= 1 && n <= 1024) return static_cast<int>(n);
    fail_input("G4_THREADS", "expected an integer in [1, 1024], got '" + std::string(s) + "'");
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

float R(Precision p, float x) { return at_boundary(p, x); }
}  // namespace

int num_threads() {
  int n = g_threads.load();
  if (n == 0) {
    n = threads_from_env();
    g_threads.store(n);
  }
  return n;
}

void set_num_threads(int n) { g_threads.store(std::max(1, n)); }

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t workers = std::min<int64_t>(num_threads(), n);
  if (workers <= 1) {
    if (n > 0) fn(0, n);
    return;
  }
  std::vector<std::thread> pool;
  const int64_t chunk = (n + workers - 1) / workers;
  for (int64_t w = 1; w < workers; ++w) {
    const int64_t b = w * chunk, e = std::min(n, b + chunk);
    if (b < e) pool.emplace_back(fn, b, e);
  }
  fn(0, std::min(n, chunk));
  for (auto& t : pool) t.join();
}

std::vector<float> linear(std::span<const float> x, int64_t T, int64_t in, std::span<const float> W,
                          int64_t out, Precision p, std::span<const float> bias) {
  G4_CHECK(static_cast<int64_t>(x.size()) == T * in, "linear: x size");
  G4_CHECK(static_cast<int64_t>(W.size()) == out * in, "linear: W size");
  G4_CHECK(bias.empty() || static_cast<int64_t>(bias.size()) == out, "linear: bias size");
  std::vector<float> y(static_cast<size_t>(T * out));
  parallel_for(out, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const float* w = W.data() + o * in;
      // Four tokens share one pass over the weight row. Each token still sums its own products in ascending
      // k order, so the result is the same as one token at a time; the four chains only add parallelism.
      int64_t t = 0;
      for (; t + 4 <= T; t += 4) {
        const float* x0 = x.data() + t * in;
        float a0 = 0.f, a1 = 0.f, a2 = 0.f, a3 = 0.f;
        for (int64_t k = 0; k < in; ++k) {
          a0 += x0[k] * w[k];
          a1 += x0[in + k] * w[k];
          a2 += x0[2 * in + k] * w[k];
          a3 += x0[3 * in + k] * w[k];
        }
        const float acc[4] = {a0, a1, a2, a3};
        for (int64_t u = 0; u < 4; ++u) {
          const float v = bias.empty() ? acc[u] : acc[u] + bias[o];
          y[(t + u) * out + o] = R(p, v);
        }
      }
      for (; t < T; ++t) {
        const float* xr = x.data() + t * in;
        float acc = 0.f;
        for (int64_t k = 0; k < in; ++k) acc += xr[k] * w[k];
        if (!bias.empty()) acc += bias[o];
        y[t * out + o] = R(p, acc);
      }
    }
  });
  return y;
}

void rmsnorm_rows(std::span<float> x, int64_t n, std::span<const float> w, float eps, Precision p) {
  G4_CHECK(n > 0 && x.size() % static_cast<size_t>(n) == 0, "rmsnorm: row length");
  G4_CHECK(w.empty() || static_cast<int64_t>(w.size()) == n, "rmsnorm: weight length");
  const int64_t rows = static_cast<int64_t>(x.size()) / n;
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x.data() + r * n;
    float sum = 0.f;
    for (int64_t i = 0; i < n; ++i) sum += v[i] * v[i];
    const float mean = sum / static_cast<float>(n);
    const float scale = std::pow(mean + eps, -0.5f);  // HF: torch.pow(mean_squared, -0.5), not rsqrt
    for (int64_t i = 0; i < n; ++i) {
      float y = v[i] * scale;
      if (!w.empty()) y = y * w[i];
      v[i] = R(p, y);
    }
  }
}

void layernorm_rows(std::span<float> x, int64_t n, std::span<const float> w, std::span<const float> b,
                    float eps, Precision p) {
  G4_CHECK(n > 0 && x.size() % static_cast<size_t>(n) == 0, "layernorm: row length");
  G4_CHECK(static_cast<int64_t>(w.size()) == n && static_cast<int64_t>(b.size()) == n, "layernorm: params");
  const int64_t rows = static_cast<int64_t>(x.size()) / n;
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x.data() + r * n;
    float sum = 0.f;
    for (int64_t i = 0; i < n; ++i) sum += v[i];
    const float mean = sum / static_cast<float>(n);
    float sq = 0.f;
    for (int64_t i = 0; i < n; ++i) sq += (v[i] - mean) * (v[i] - mean);
    const float var = sq / static_cast<float>(n);  // biased, as nn.LayerNorm
    const float rstd = 1.0f / std::sqrt(var + eps);
    for (int64_t i = 0; i < n; ++i) v[i] = R(p, (v[i] - mean) * rstd * w[i] + b[i]);
  }
}

float gelu_tanh(float x) {
  // Constants as PyTorch's GeluKernel: kBeta = sqrt(2) * (2/sqrt(pi)) * 0.5 = sqrt(2/pi), in double then
  // float.
  const float kBeta = static_cast<float>(M_SQRT2 * M_2_SQRTPI * 0.5);
  const float kKappa = 0.044715f;
  const float x_cube = x * x * x;
  const float inner = kBeta * (x + kKappa * x_cube);
  return 0.5f * x * (1.0f + std::tanh(inner));
}

float softcap(float x, float cap, Precision p) {
  const float a = R(p, x / cap);
  const float t = R(p, std::tanh(a));
  return R(p, t * cap);
}

std::vector<float> rope_inv_freq(const RopeParams& rope, int64_t head_dim) {
  G4_CHECK(head_dim > 0 && head_dim % 2 == 0, "rope: head_dim must be even");
  int64_t angles = head_dim / 2;
  if (rope.rope_type == "proportional") {
    if (rope.factor != 1.0)
      fail_input("config.json", "rope_parameters: proportional factor != 1.0 is not supported");
    angles =
        static_cast<int64_t>(std::floor(rope.partial_rotary_factor * static_cast<double>(head_dim) / 2.0));
    angles = std::clamp<int64_t>(angles, 0, head_dim / 2);
  } else if (rope.rope_type != "default") {
    fail_input("config.json", "rope_parameters: unsupported rope_type '" + rope.rope_type + "'");
  }
  std::vector<float> inv(static_cast<size_t>(head_dim / 2), 0.0f);
  const float base = static_cast<float>(rope.rope_theta);
  for (int64_t i = 0; i < angles; ++i) {
    // HF: 1.0 / (base ** (arange(0, 2n, 2).float() / head_dim)), all in fp32.
    const float expo = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv[static_cast<size_t>(i)] = 1.0f / std::pow(base, expo);
  }
  return inv;
}

void rope_row(std::span<float> x, std::span<const float> inv_freq, int64_t pos, Precision p) {
  const int64_t half = static_cast<int64_t>(inv_freq.size());
  G4_CHECK(static_cast<int64_t>(x.size()) == 2 * half, "rope: row length");
  const float fpos = static_cast<float>(pos);  // exact below 2^24
  for (int64_t i = 0; i < half; ++i) {
    const float theta = fpos * inv_freq[i];
    const float c = R(p, std::cos(theta)), s = R(p, std::sin(theta));
    const float a = x[i], b = x[i + half];
    // Lane i:        a·cos + (-b)·sin;  lane i+half: b·cos + a·sin  (rotate_half pairing, not interleaved).
    x[i] = R(p, R(p, a * c) + R(p, -b * s));
    x[i + half] = R(p, R(p, b * c) + R(p, a * s));
  }
}

}  // namespace g4::reference
