// Each CUDA kernel against a CPU computation written here (reference semantics, float64 sums where the
// kernel's own order would differ): RMSNorm, q/k/v norm + both RoPE variants + the cache write, attention
// (causal, sliding window across a ring, bidirectional vision blocks, GQA 2:1 and MQA, head dims 64-512,
// decode splits), the GEMV of every weight format against engine/quant's dequantize_row and a float64 dot,
// dequantization, the cuBLAS paths of linear(), and the shape-only generator. Skips, saying why, without a
// GPU.
#include <catch2/catch.hpp>

#ifdef G4_HAVE_CUDA

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "engine/cuda/check.h"
#include "engine/cuda/device_info.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/plan.h"
#include "engine/cuda/repack.h"
#include "engine/gpu.h"
#include "engine/quant/format.h"

namespace ck = g4::cudak;
namespace cu = g4::engine::cuda;
using g4::quant::Format;

namespace {

bool have_gpu(const char* what) {
  const g4::GpuStatus s = g4::probe_gpu();
  if (!s.available) std::printf("SKIP %s: %s\n", what, s.reason.c_str());
  return s.available;
}

template <class T>
cu::DeviceBuffer to_device(const std::vector<T>& v) {
  cu::DeviceBuffer b(std::max<size_t>(v.size() * sizeof(T), 16), "test data");
  if (!v.empty()) G4_CUDA_CALL(cudaMemcpy(b.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return b;
}

template <class T>
std::vector<T> to_host(const cu::DeviceBuffer& b, size_t n) {
  G4_CUDA_CALL(cudaDeviceSynchronize());
  std::vector<T> v(n);
  G4_CUDA_CALL(cudaMemcpy(v.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return v;
}

std::vector<float> normal(size_t n, uint32_t seed, float sd) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = g4::f32_to_bf16(v[i]);
  return b;
}

float R(float x) { return g4::round_bf16(x); }

// The reference's rmsnorm_rows on one row (float, ascending order), rounded output.
void cpu_rmsnorm(float* v, int n, const float* w, float eps) {
  float sum = 0.f;
  for (int i = 0; i < n; ++i) sum += v[i] * v[i];
  const float scale = std::pow(sum / static_cast<float>(n) + eps, -0.5f);
  for (int i = 0; i < n; ++i) {
    float y = v[i] * scale;
    if (w != nullptr) y = y * w[i];
    v[i] = R(y);
  }
}

// The reference's rope_row.
void cpu_rope(float* x, const std::vector<float>& inv, int64_t pos) {
  const size_t half = inv.size();
  for (size_t i = 0; i < half; ++i) {
    const float theta = static_cast<float>(pos) * inv[i];
    const float c = R(std::cos(theta)), s = R(std::sin(theta));
    const float a = x[i], b = x[i + half];
    x[i] = R(R(a * c) + R(-b * s));
    x[i + half] = R(R(b * c) + R(a * s));
  }
}

double nmse(const std::vector<float>& got, const std::vector<double>& want) {
  double e = 0, s = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    e += (got[i] - want[i]) * (got[i] - want[i]);
    s += want[i] * want[i];
  }
  return s > 0 ? e / s : e;
}

struct Quantized {
  g4::engine::QTensor q;
  std::vector<float> deq;  // [rows, cols] reference dequantization
};

Quantized quantize(Format f, int64_t rows, int64_t cols, uint32_t seed) {
  Quantized m;
  const size_t rb = g4::quant::row_bytes(f, cols);
  auto buf = std::make_shared<std::vector<uint8_t>>(rb * static_cast<size_t>(rows));
  const std::vector<float> v = normal(static_cast<size_t>(rows * cols), seed, 0.02f);
  m.deq.resize(v.size());
  for (int64_t r = 0; r < rows; ++r) {
    g4::quant::quantize_row(f, v.data() + r * cols, buf->data() + static_cast<size_t>(r) * rb, cols);
    g4::quant::dequantize_row(f, buf->data() + static_cast<size_t>(r) * rb, m.deq.data() + r * cols, cols);
  }
  m.q = {f, rows, cols, buf, buf->data()};
  return m;
}

struct DeviceMatrix {
  cu::DeviceBuffer buf;
  ck::DevMatrix m;
};

DeviceMatrix upload(const g4::engine::QTensor& q) {
  const g4::engine::QTensor* parts[] = {&q};
  const std::vector<uint8_t> bytes = cu::repack_rows(parts);
  DeviceMatrix d{to_device(bytes), {}};
  d.m = ck::make_dev_matrix(cu::to_wformat(q.format), q.rows, q.cols, d.buf.get<uint8_t>());
  return d;
}

constexpr Format kAllFormats[] = {Format::F32,  Format::BF16, Format::I8,  Format::Q8_0,
                                  Format::Q4_0, Format::Q4_K, Format::Q6_K};

}  // namespace

TEST_CASE("cuda kernel rmsnorm matches the CPU", "[cuda]") {
  if (!have_gpu("rmsnorm")) return;
  const int rows = 5, n = 3840;
  for (bool round_input : {false, true}) {
    std::vector<float> x = normal(static_cast<size_t>(rows * n), 1, 2.0f);
    if (!round_input)
      for (auto& v : x) v = R(v);
    std::vector<float> w = normal(static_cast<size_t>(n), 2, 0.1f);
    for (auto& v : w) v += 1.0f;
    auto dx = to_device(x), dw = to_device(w);
    cu::DeviceBuffer db(rows * n * 2, "t"), df(rows * n * 4, "t");
    ck::rmsnorm_rows(dx.get<float>(), n, rows, n, dw.get<float>(), 1e-6f, round_input, db.get<uint16_t>(), n,
                     df.get<float>(), n, nullptr);
    const auto gb = to_host<uint16_t>(db, rows * n);
    const auto gf = to_host<float>(df, rows * n);
    int exact = 0;
    for (int r = 0; r < rows; ++r) {
      std::vector<float> row(x.begin() + r * n, x.begin() + (r + 1) * n);
      if (round_input)
        for (auto& v : row) v = R(v);
      cpu_rmsnorm(row.data(), n, w.data(), 1e-6f);
      for (int i = 0; i < n; ++i) {
        const float g = gf[static_cast<size_t>(r * n + i)];
        REQUIRE(g4::bf16_to_f32(gb[static_cast<size_t>(r * n + i)]) == g);
        REQUIRE(std::fabs(g - row[static_cast<size_t>(i)]) <=
                std::ldexp(std::fabs(row[static_cast<size_t>(i)]), -7));
        exact += g == row[static_cast<size_t>(i)];
      }
    }
    CHECK(exact > rows * n * 95 / 100);  // only the fp32 sum order differs
  }
}

TEST_CASE("cuda kernel q k v norm and both rope variants match the CPU", "[cuda]") {
  if (!have_gpu("qkv norm rope")) return;
  g4::RopeParams def{"default", 10000.0, 1.0, 1.0};
  g4::RopeParams prop{"proportional", 1000000.0, 0.25, 1.0};
  for (int D : {64, 512})
    for (const g4::RopeParams& rope : {def, prop})
      for (bool has_v : {true, false}) {
        const int T = 5, Hq = 4, Hkv = 2, pos0 = 1000, cap = 8;
        const int64_t ld = static_cast<int64_t>(Hq + Hkv * (has_v ? 2 : 1)) * D;
        const int64_t v_col = has_v ? static_cast<int64_t>(Hq + Hkv) * D : static_cast<int64_t>(Hq) * D;
        const std::vector<float> qkv = normal(static_cast<size_t>(T * ld), 3, 1.5f);
        std::vector<float> qn = normal(static_cast<size_t>(D), 4, 0.1f),
                           kn = normal(static_cast<size_t>(D), 5, 0.1f);
        for (auto& v : qn) v += 0.35f;
        for (auto& v : kn) v += 0.35f;
        const std::vector<float> inv = cu::rope_inv_freq(rope, D);
        auto dqkv = to_device(qkv), dqn = to_device(qn), dkn = to_device(kn), dinv = to_device(inv);
        auto dpos = to_device(std::vector<int32_t>{pos0});
        cu::DeviceBuffer dq(T * Hq * D * 2, "t"), dk(T * Hkv * D * 2, "t"), dv(T * Hkv * D * 2, "t"),
            kc(Hkv * cap * D * 2, "t"), vc(Hkv * cap * D * 2, "t");
        ck::QkvParams p;
        p.qkv = dqkv.get<float>();
        p.ld = ld;
        p.v_col = v_col;
        p.T = T;
        p.Hq = Hq;
        p.Hkv = Hkv;
        p.D = D;
        p.q_norm = dqn.get<float>();
        p.k_norm = dkn.get<float>();
        p.eps = 1e-6f;
        p.inv_freq = dinv.get<float>();
        p.pos0 = dpos.get<int32_t>();
        p.q_out = dq.get<uint16_t>();
        p.k_out = dk.get<uint16_t>();
        p.v_out = dv.get<uint16_t>();
        p.k_cache = kc.get<uint16_t>();
        p.v_cache = vc.get<uint16_t>();
        p.cap = cap;
        ck::qkv_norm_rope(p, nullptr);
        const auto gq = to_host<uint16_t>(dq, T * Hq * D), gk = to_host<uint16_t>(dk, T * Hkv * D),
                   gv = to_host<uint16_t>(dv, T * Hkv * D), gkc = to_host<uint16_t>(kc, Hkv * cap * D),
                   gvc = to_host<uint16_t>(vc, Hkv * cap * D);
        auto check_head = [&](const uint16_t* got, std::vector<float> want) {
          float amax = 0;
          for (float v : want) amax = std::max(amax, std::fabs(v));
          for (int d = 0; d < D; ++d)
            REQUIRE(std::fabs(g4::bf16_to_f32(got[d]) - want[static_cast<size_t>(d)]) <= amax / 64);
        };
        for (int t = 0; t < T; ++t) {
          const float* row = qkv.data() + t * ld;
          for (int h = 0; h < Hq + 2 * Hkv; ++h) {
            const int kind = h < Hq ? 0 : (h < Hq + Hkv ? 1 : 2),
                      head = kind == 0 ? h : (kind == 1 ? h - Hq : h - Hq - Hkv);
            const float* src = kind == 0   ? row + head * D
                               : kind == 1 ? row + (Hq + head) * D
                                           : row + v_col + head * D;
            std::vector<float> x(src, src + D);
            for (auto& v : x) v = R(v);
            cpu_rmsnorm(x.data(), D, kind == 0 ? qn.data() : kind == 1 ? kn.data() : nullptr, 1e-6f);
            if (kind != 2) cpu_rope(x.data(), inv, pos0 + t);
            INFO("D " << D << " rope " << rope.rope_type << " v " << has_v << " t " << t << " kind " << kind);
            if (kind == 0) {
              check_head(gq.data() + (t * Hq + head) * D, x);
            } else {
              check_head((kind == 1 ? gk : gv).data() + (t * Hkv + head) * D, x);
              const int slot = (pos0 + t) % cap;
              check_head((kind == 1 ? gkc : gvc).data() + (head * cap + slot) * D, x);
            }
          }
        }
        if (rope.rope_type == "proportional") {
          // Past int(0.25·D/2) angles the frequencies are 0: those dims pass through (cos 1, sin 0), checked
          // above.
          REQUIRE(inv[static_cast<size_t>(D / 8)] == 0.0f);
          REQUIRE(inv[static_cast<size_t>(D / 8 - 1)] > 0.0f);
        }
      }
}

TEST_CASE("cuda kernel attention matches a float64 softmax", "[cuda]") {
  if (!have_gpu("attention")) return;
  struct Case {
    const char* name;
    int D, Hq, Hkv, T, pos0, window;
    bool sliding;
    int blo, bhi;  // chunk-local vision block [blo, bhi), -1: none
  };
  const Case cases[] = {
      {"full MQA D512 decode at 3000", 512, 16, 1, 1, 3000, 0, false, -1, -1},
      {"full MQA D128 prefill with a block", 128, 4, 1, 37, 20, 0, false, 5, 17},
      {"sliding GQA D256 ring and a block longer than the window", 256, 16, 8, 37, 100, 16, true, 3, 30},
      {"sliding GQA D64 decode", 64, 4, 2, 1, 77, 32, true, -1, -1},
      {"full GQA D256 short prefill", 256, 8, 4, 3, 0, 0, false, -1, -1},
      {"sliding MQA D512 prefill from zero", 512, 16, 1, 40, 0, 8, true, -1, -1},
  };
  int sms = 0;
  G4_CUDA_CALL(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  for (const Case& c : cases) {
    const int L = c.pos0 + c.T, group = c.Hq / c.Hkv;
    const int64_t cap = c.sliding ? cu::ring_capacity(c.window, 64, 1 << 20) : L + 5;
    const float sd = std::sqrt(2.0f) / std::pow(static_cast<float>(c.D), 0.25f);
    const std::vector<float> q = normal(static_cast<size_t>(c.T * c.Hq * c.D), 10, sd);
    const std::vector<float> k = normal(static_cast<size_t>(L * c.Hkv * c.D), 11, sd);
    const std::vector<float> v = normal(static_cast<size_t>(L * c.Hkv * c.D), 12, 1.0f);
    const std::vector<uint16_t> qb = to_bf16(q);
    std::vector<uint16_t> kc(static_cast<size_t>(c.Hkv * cap * c.D)), vc(kc.size());
    for (int p = 0; p < L; ++p)  // later positions overwrite earlier ones in the ring, as the cache writes do
      for (int h = 0; h < c.Hkv; ++h)
        for (int d = 0; d < c.D; ++d) {
          const size_t dst = static_cast<size_t>((h * cap + p % cap) * c.D + d),
                       src = static_cast<size_t>((p * c.Hkv + h) * c.D + d);
          kc[dst] = g4::f32_to_bf16(k[src]);
          vc[dst] = g4::f32_to_bf16(v[src]);
        }
    std::vector<int64_t> block_of(static_cast<size_t>(c.T), -1);
    for (int t = c.blo; t >= 0 && t < c.bhi; ++t) block_of[static_cast<size_t>(t)] = 0;
    const cu::ChunkBlocks cb = cu::chunk_blocks(block_of, c.pos0);

    // float64 reference with bf16-rounded scores (the reference's at_boundary of q·k).
    std::vector<double> want(static_cast<size_t>(c.T * c.Hq * c.D));
    for (int t = 0; t < c.T; ++t)
      for (int h = 0; h < c.Hq; ++h) {
        const int i = c.pos0 + t, kvh = h / group;
        std::vector<double> s;
        std::vector<int> js;
        for (int j = 0; j < L; ++j) {
          bool vis = j <= i && (!c.sliding || i - j < c.window);
          const int bj = j >= c.pos0 ? static_cast<int>(block_of[static_cast<size_t>(j - c.pos0)]) : -1;
          if (block_of[static_cast<size_t>(t)] >= 0 && bj == block_of[static_cast<size_t>(t)]) vis = true;
          if (!vis) continue;
          double dot = 0;
          for (int d = 0; d < c.D; ++d)
            dot += static_cast<double>(g4::bf16_to_f32(qb[static_cast<size_t>((t * c.Hq + h) * c.D + d)])) *
                   g4::round_bf16(k[static_cast<size_t>((j * c.Hkv + kvh) * c.D + d)]);
          s.push_back(R(static_cast<float>(dot)));
          js.push_back(j);
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double tot = 0;
        for (double& x : s) tot += (x = std::exp(x - mx));
        for (size_t n = 0; n < s.size(); ++n)
          for (int d = 0; d < c.D; ++d)
            want[static_cast<size_t>((t * c.Hq + h) * c.D + d)] +=
                s[n] / tot * g4::round_bf16(v[static_cast<size_t>((js[n] * c.Hkv + kvh) * c.D + d)]);
      }

    auto dq = to_device(qb), dk = to_device(kc), dv = to_device(vc);
    auto dpos = to_device(std::vector<int32_t>{c.pos0});
    std::vector<int32_t> blocks;
    if (!cb.id.empty()) {
      blocks = cb.id;
      blocks.insert(blocks.end(), cb.lo.begin(), cb.lo.end());
      blocks.insert(blocks.end(), cb.hi.begin(), cb.hi.end());
    }
    auto dblocks = to_device(blocks);
    const int64_t span = c.sliding ? std::min<int64_t>(cap, c.window - 1 + c.T) : L;
    const cu::AttnPlan plan = cu::plan_attention(c.T, c.Hq, c.Hkv, c.D, span, sms, int64_t{4} << 20);
    for (int variant = 0; variant < 4; ++variant) {
      // nsplit 1, 3 and the plan's, O in registers (when the layout probe passed) and O in shared memory.
      const int nsplit = variant == 0 ? 1 : variant == 1 ? 3 : plan.nsplit;
      ck::attention_use_register_o(variant != 3);
      const size_t n_out = static_cast<size_t>(c.T * c.Hq * c.D);
      cu::DeviceBuffer dout(n_out * 2, "t"), dpo(n_out * static_cast<size_t>(nsplit) * 4, "t"),
          dml(static_cast<size_t>(c.T * c.Hq * nsplit * 2) * 4, "t");
      ck::AttnParams a;
      a.q = dq.get<uint16_t>();
      a.k_cache = dk.get<uint16_t>();
      a.v_cache = dv.get<uint16_t>();
      a.cap = cap;
      a.T = c.T;
      a.Hq = c.Hq;
      a.Hkv = c.Hkv;
      a.D = c.D;
      a.pos0 = dpos.get<int32_t>();
      a.sliding = c.sliding;
      a.window = c.window;
      if (!cb.id.empty()) {
        a.block_id = dblocks.get<int32_t>();
        a.block_lo = dblocks.get<int32_t>() + c.T;
        a.block_hi = dblocks.get<int32_t>() + 2 * c.T;
      }
      a.bq = plan.bq;
      a.nsplit = nsplit;
      a.out = dout.get<uint16_t>();
      a.part_o = dpo.get<float>();
      a.part_ml = dml.get<float>();
      ck::attention(a, nullptr);
      const auto got16 = to_host<uint16_t>(dout, n_out);
      std::vector<float> got(n_out);
      double max_err = 0;
      for (size_t n = 0; n < n_out; ++n) {
        got[n] = g4::bf16_to_f32(got16[n]);
        max_err = std::max(max_err, std::fabs(got[n] - want[n]));
      }
      const double e = nmse(got, want);
      INFO(c.name << " nsplit " << nsplit << " (plan " << plan.nsplit << ", bq " << plan.bq << "), O in "
                  << (ck::attention_register_o() ? "registers" : "shared memory") << ": nmse " << e
                  << " max err " << max_err);
      CHECK(e < 1e-4);
      CHECK(max_err < 0.03);
    }
  }
  ck::attention_use_register_o(true);
  std::printf("cuda attention keeps O in %s\n", ck::attention_register_o() ? "registers" : "shared memory");
}

TEST_CASE("cuda kernel gemv of every format matches dequantize_row and a float64 dot", "[cuda]") {
  if (!have_gpu("gemv")) return;
  const int64_t rows = 67, cols = 1536;
  for (Format f : kAllFormats) {
    const Quantized w = quantize(f, rows, cols, 30 + static_cast<uint32_t>(f));
    DeviceMatrix dm = upload(w.q);
    for (int T : {1, 3, 8}) {
      const std::vector<float> x = normal(static_cast<size_t>(T * cols), 40 + T, 1.0f);
      const std::vector<uint16_t> xb = to_bf16(x);
      auto dx = to_device(xb);
      cu::DeviceBuffer dy(static_cast<size_t>(T * rows) * 4, "t"), xq(static_cast<size_t>(T * cols), "t"),
          xd(static_cast<size_t>(T * cols / 32) * 4, "t"), xs(static_cast<size_t>(T * cols / 32) * 4, "t");
      const bool integer = f != Format::F32 && f != Format::BF16;
      if (integer) {
        ck::quantize_x(dx.get<uint16_t>(), cols, T, cols, xq.get<int8_t>(), xd.get<float>(), xs.get<float>(),
                       nullptr);
        ck::gemv(dm.m, T, nullptr, 0, xq.get<int8_t>(), xd.get<float>(), xs.get<float>(), dy.get<float>(),
                 rows, nullptr);
      } else {
        ck::gemv(dm.m, T, dx.get<uint16_t>(), cols, nullptr, nullptr, nullptr, dy.get<float>(), rows,
                 nullptr);
      }
      const auto y = to_host<float>(dy, static_cast<size_t>(T * rows));
      for (int t = 0; t < T; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double exact = 0, mag = 0, qbound = 0;
          for (int64_t b = 0; b < cols / 32; ++b) {
            float amax = 0;
            for (int k = 0; k < 32; ++k)
              amax =
                  std::max(amax, std::fabs(g4::bf16_to_f32(xb[static_cast<size_t>(t * cols + 32 * b + k)])));
            for (int k = 0; k < 32; ++k) {
              const int64_t c = 32 * b + k;
              const double wv = w.deq[static_cast<size_t>(r * cols + c)];
              const double xv = g4::bf16_to_f32(xb[static_cast<size_t>(t * cols + c)]);
              exact += wv * xv;
              mag += std::fabs(wv * xv);
              qbound += std::fabs(wv) * amax / 127.0 * 0.5;  // activation rounding, at most half a step
            }
          }
          const double got = y[static_cast<size_t>(t * rows + r)];
          const double tol = (integer ? qbound : 0.0) + 2e-5 * mag + 1e-7;
          INFO(g4::quant::info(f).name << " T " << T << " row " << r << " got " << got << " exact " << exact);
          REQUIRE(std::fabs(got - exact) <= tol);
        }
    }
  }
}

TEST_CASE("cuda kernel dequantization to bf16 matches dequantize_row", "[cuda]") {
  if (!have_gpu("dequant")) return;
  for (Format f : kAllFormats) {
    const int64_t rows = 9, cols = 768;
    const Quantized w = quantize(f, rows, cols, 50 + static_cast<uint32_t>(f));
    DeviceMatrix dm = upload(w.q);
    cu::DeviceBuffer out(static_cast<size_t>((rows - 2) * cols) * 2, "t");
    ck::dequant_bf16(dm.m, 2, rows - 2, out.get<uint16_t>(), nullptr);
    const auto got = to_host<uint16_t>(out, static_cast<size_t>((rows - 2) * cols));
    for (int64_t i = 0; i < (rows - 2) * cols; ++i) {
      const float want = w.deq[static_cast<size_t>(2 * cols + i)];
      INFO(g4::quant::info(f).name << " element " << i);
      // One bf16 rounding; a fused multiply-add on the device may move the float by an ulp first.
      REQUIRE(std::fabs(g4::bf16_to_f32(got[static_cast<size_t>(i)]) - want) <=
              std::ldexp(std::fabs(want), -8) + 1e-12);
    }
  }
}

TEST_CASE("cuda linear through cuBLAS matches a float64 product", "[cuda]") {
  if (!have_gpu("linear")) return;
  cudaStream_t s;
  G4_CUDA_CALL(cudaStreamCreate(&s));
  {
    cu::Blas blas(s);
    const int64_t rows = 300, cols = 512, T = 37;
    cu::DeviceBuffer dq(size_t{1} << 20, "t"), xf(static_cast<size_t>(T * cols) * 4, "t");
    cu::LinearWork work;
    work.dequant = dq.get<uint16_t>();
    work.dequant_elems = 1 << 19;  // smaller than the matrix: several dequantized chunks
    work.xf32 = xf.get<float>();
    work.xf32_elems = T * cols;
    for (Format f : {Format::BF16, Format::F32, Format::Q4_0, Format::Q6_K, Format::I8}) {
      const Quantized w = quantize(f, rows, cols, 60 + static_cast<uint32_t>(f));
      DeviceMatrix dm = upload(w.q);
      const std::vector<uint16_t> xb = to_bf16(normal(static_cast<size_t>(T * cols), 61, 1.0f));
      auto dx = to_device(xb);
      cu::DeviceBuffer dy(static_cast<size_t>(T * rows) * 4, "t");
      cu::linear(blas.get(), s, work, dm.m, T, dx.get<uint16_t>(), cols, dy.get<float>(), rows);
      G4_CUDA_CALL(cudaStreamSynchronize(s));
      const auto y = to_host<float>(dy, static_cast<size_t>(T * rows));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double exact = 0, mag = 0;
          for (int64_t c = 0; c < cols; ++c) {
            const double p = static_cast<double>(w.deq[static_cast<size_t>(r * cols + c)]) *
                             g4::bf16_to_f32(xb[static_cast<size_t>(t * cols + c)]);
            exact += p;
            mag += std::fabs(p);
          }
          // Weights other than bf16 go through bf16 (one rounding, 2^-9 relative) before the tensor cores.
          const double tol = (f == Format::BF16 || f == Format::F32 ? 1e-5 : 4e-3) * mag + 1e-7;
          INFO(g4::quant::info(f).name << " t " << t << " row " << r);
          REQUIRE(std::fabs(y[static_cast<size_t>(t * rows + r)] - exact) <= tol);
        }
    }
  }
  cudaStreamDestroy(s);
}

TEST_CASE("cuda kernel shape-only generator writes N(0 0.02) weights on the device", "[cuda]") {
  if (!have_gpu("init")) return;
  for (Format f : kAllFormats) {
    const ck::WFormat wf = cu::to_wformat(f);
    const int64_t rows = 128, cols = 2048;
    cu::DeviceBuffer buf(static_cast<size_t>(ck::matrix_bytes(wf, rows, cols)), "t");
    const ck::DevMatrix m = ck::make_dev_matrix(wf, rows, cols, buf.get<uint8_t>());
    ck::init_matrix(m, 5, 9, 0.02f, nullptr);
    cu::DeviceBuffer out(static_cast<size_t>(rows * cols) * 2, "t");
    ck::dequant_bf16(m, 0, rows, out.get<uint16_t>(), nullptr);
    const auto v = to_host<uint16_t>(out, static_cast<size_t>(rows * cols));
    double s = 0, s2 = 0;
    for (uint16_t b : v) {
      const double x = g4::bf16_to_f32(b);
      s += x;
      s2 += x * x;
    }
    const double n = static_cast<double>(v.size()), mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
    INFO(g4::quant::info(f).name << " mean " << mean << " sd " << sd);
    CHECK(std::fabs(mean) < 0.001);
    CHECK(sd > 0.017);
    CHECK(sd < 0.023);
  }
}

TEST_CASE("cuda kernel shape-only generator writes the host generator's values", "[cuda]") {
  if (!have_gpu("init vs host")) return;
  for (Format f : kAllFormats) {
    const ck::WFormat wf = cu::to_wformat(f);
    const int64_t rows = 16, cols = 1024;
    const size_t bytes = static_cast<size_t>(ck::matrix_bytes(wf, rows, cols));
    cu::DeviceBuffer buf(bytes, "t");
    G4_CUDA_CALL(cudaMemset(buf.get(), 0, bytes));
    ck::init_matrix(ck::make_dev_matrix(wf, rows, cols, buf.get<uint8_t>()), 5, 9, 0.02f, nullptr);
    std::vector<uint8_t> dev = to_host<uint8_t>(buf, bytes), host(bytes, 0);
    const ck::DevMatrix md = cu::host_view(wf, rows, cols, dev), mh = cu::host_view(wf, rows, cols, host);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < cols / ck::format_block_elems(wf); ++b) ck::init_block(mh, r, b, 5, 9, 0.02f);
    // The device's logf/cosf may differ from the host's in the last ulp, moving a rare quant by one step.
    int64_t off = 0;
    std::string first;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const float a = ck::dequant1(md, r, c), b = ck::dequant1(mh, r, c);
        if (std::fabs(a - b) > 1e-3f * 0.02f + std::ldexp(std::fabs(b), -7)) {
          if (off++ < 5)
            first += " (" + std::to_string(r) + "," + std::to_string(c) + "): device " + std::to_string(a) +
                     " host " + std::to_string(b);
        }
      }
    INFO(g4::quant::info(f).name << ": " << off << " values differ;" << first);
    CHECK(off <= rows * cols / 1000);
  }
}

TEST_CASE("cuda device memory errors name the request and the free memory", "[cuda]") {
  if (!have_gpu("out of memory")) return;
  try {
    cu::DeviceBuffer huge(size_t{1} << 50, "a test buffer");
    FAIL("a petabyte allocation succeeded");
  } catch (const g4::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.rfind("cuda: out of device memory allocating a test buffer: asked ", 0) == 0);
    CHECK(msg.find(" free of ") != std::string::npos);
  }
  cu::DeviceBuffer ok(1 << 20, "after the failure");  // the process stays usable
  CHECK(ok.get() != nullptr);
}

TEST_CASE("cuda device info and measured ceilings", "[cuda]") {
  if (!have_gpu("device info")) return;
  const cu::DeviceInfo d = cu::measure_device();
  std::printf(
      "GPU %s: sm_%d, %d SMs, %.1f GiB; copy %.0f GB/s (read+write), read %.0f GB/s, cuBLAS bf16 %.0f "
      "TFLOP/s\n",
      d.name.c_str(), d.compute_capability, d.sm_count, static_cast<double>(d.total_bytes) / (1 << 30),
      d.copy_gbs, d.read_gbs, d.bf16_tflops);
  if (const char* path = std::getenv("G4_GPU_INFO")) std::ofstream(path) << cu::to_json(d) << "\n";
  CHECK(d.copy_gbs > 0);
  CHECK(d.read_gbs > 0);
  CHECK(d.bf16_tflops > 0);
}

// Attention alone at 12B shapes: prefill of 4096 tokens on a full and a sliding layer, decode at depth 32768.
TEST_CASE("cuda attention speed at 12b shapes", "[.][cudabench]") {
  if (!have_gpu("attention speed")) return;
  int sms = 0;
  G4_CUDA_CALL(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  struct Shape {
    const char* name;
    int D, Hkv, T, pos0;
    bool sliding;
  };
  for (const Shape& c :
       {Shape{"full pp4096", 512, 1, 4096, 0, false}, Shape{"sliding pp4096", 256, 8, 4096, 0, true},
        Shape{"full tg @ d32768", 512, 1, 1, 32768, false},
        Shape{"sliding tg @ d32768", 256, 8, 1, 32768, true}}) {
    const int Hq = 16, L = c.pos0 + c.T;
    const int64_t cap = c.sliding ? cu::ring_capacity(1024, 4096, 1 << 20) : L;
    cu::DeviceBuffer q(static_cast<size_t>(c.T) * Hq * c.D * 2, "t"), out(q.bytes(), "t"),
        kc(static_cast<size_t>(cap) * c.Hkv * c.D * 2, "t"), vc(kc.bytes(), "t");
    G4_CUDA_CALL(cudaMemset(q.get(), 0x3c, q.bytes()));
    G4_CUDA_CALL(cudaMemset(kc.get(), 0x3c, kc.bytes()));
    G4_CUDA_CALL(cudaMemset(vc.get(), 0x3c, vc.bytes()));
    auto pos = to_device(std::vector<int32_t>{c.pos0});
    const int64_t span = c.T == 1 ? (c.sliding ? 1024 : cap) : (c.sliding ? 1023 + c.T : L);
    const cu::AttnPlan plan = cu::plan_attention(c.T, Hq, c.Hkv, c.D, span, sms, int64_t{4} << 20);
    cu::DeviceBuffer po(static_cast<size_t>(4) << 22, "t"), pml(static_cast<size_t>(1) << 20, "t");
    ck::AttnParams a;
    a.q = q.get<uint16_t>();
    a.k_cache = kc.get<uint16_t>();
    a.v_cache = vc.get<uint16_t>();
    a.cap = cap;
    a.T = c.T;
    a.Hq = Hq;
    a.Hkv = c.Hkv;
    a.D = c.D;
    a.pos0 = pos.get<int32_t>();
    a.sliding = c.sliding;
    a.window = 1024;
    a.bq = plan.bq;
    a.nsplit = plan.nsplit;
    a.out = out.get<uint16_t>();
    a.part_o = po.get<float>();
    a.part_ml = pml.get<float>();
    cudaEvent_t e0, e1;
    G4_CUDA_CALL(cudaEventCreate(&e0));
    G4_CUDA_CALL(cudaEventCreate(&e1));
    ck::attention(a, nullptr);
    G4_CUDA_CALL(cudaEventRecord(e0));
    for (int i = 0; i < 5; ++i) ck::attention(a, nullptr);
    G4_CUDA_CALL(cudaEventRecord(e1));
    G4_CUDA_CALL(cudaEventSynchronize(e1));
    float ms = 0;
    G4_CUDA_CALL(cudaEventElapsedTime(&ms, e0, e1));
    ms /= 5;
    double keys = 0;
    for (int t = 0; t < c.T; ++t) keys += c.sliding ? std::min(c.pos0 + t + 1, 1024) : c.pos0 + t + 1;
    const double flops = 4.0 * Hq * c.D * keys;
    const double bytes = 2.0 * 2.0 * c.Hkv * c.D * (c.sliding ? std::min(L, 1024) : L);
    std::printf("cuda bench attention %-20s %8.1f us  %6.1f TFLOP/s  %6.0f GB/s of K/V  (bq %d, nsplit %d)\n",
                c.name, ms * 1e3, flops / (ms * 1e-3) / 1e12, bytes / (ms * 1e-3) / 1e9, plan.bq,
                plan.nsplit);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
  }
}

// Decode GEMV bandwidth per format on a 12B-sized matrix (gate|up: 30720 x 3840), one token. Hidden tag.
TEST_CASE("cuda gemv bandwidth per format", "[.][cudabench]") {
  if (!have_gpu("gemv bandwidth")) return;
  const int64_t rows = 30720, cols = 3840;
  cudaEvent_t a, b;
  G4_CUDA_CALL(cudaEventCreate(&a));
  G4_CUDA_CALL(cudaEventCreate(&b));
  for (Format f : kAllFormats) {
    const ck::WFormat wf = cu::to_wformat(f);
    const size_t bytes = static_cast<size_t>(ck::matrix_bytes(wf, rows, cols));
    cu::DeviceBuffer buf(bytes, "t"), x(static_cast<size_t>(cols) * 2, "t"),
        y(static_cast<size_t>(rows) * 4, "t"), xq(static_cast<size_t>(cols), "t"),
        xd(static_cast<size_t>(cols / 32) * 4, "t"), xs(static_cast<size_t>(cols / 32) * 4, "t");
    const ck::DevMatrix m = ck::make_dev_matrix(wf, rows, cols, buf.get<uint8_t>());
    ck::init_matrix(m, 1, 1, 0.02f, nullptr);
    G4_CUDA_CALL(cudaMemset(x.get(), 0x3c, static_cast<size_t>(cols) * 2));
    const bool integer = f != Format::F32 && f != Format::BF16;
    auto run = [&] {
      if (integer) {
        ck::quantize_x(x.get<uint16_t>(), cols, 1, cols, xq.get<int8_t>(), xd.get<float>(), xs.get<float>(),
                       nullptr);
        ck::gemv(m, 1, nullptr, 0, xq.get<int8_t>(), xd.get<float>(), xs.get<float>(), y.get<float>(), rows,
                 nullptr);
      } else {
        ck::gemv(m, 1, x.get<uint16_t>(), cols, nullptr, nullptr, nullptr, y.get<float>(), rows, nullptr);
      }
    };
    run();
    G4_CUDA_CALL(cudaEventRecord(a));
    for (int i = 0; i < 20; ++i) run();
    G4_CUDA_CALL(cudaEventRecord(b));
    G4_CUDA_CALL(cudaEventSynchronize(b));
    float ms = 0;
    G4_CUDA_CALL(cudaEventElapsedTime(&ms, a, b));
    ms /= 20;
    std::printf("cuda bench gemv %-5s %6.1f us  %6.0f GB/s\n", std::string(g4::quant::info(f).name).c_str(),
                ms * 1e3, static_cast<double>(bytes) / (ms * 1e-3) / 1e9);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
}

#endif  // G4_HAVE_CUDA
