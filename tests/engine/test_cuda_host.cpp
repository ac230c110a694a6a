// Host-side logic of the CUDA backend, checked without a GPU: the device math the kernels run
// (engine/cuda/device_math.h is __host__ __device__, so these tests execute the kernels' own per-element and
// per-unit code), the weight repacking, launch planning, cache ring slots, chunking and the error paths.
// Expected values come from engine/quant's reference dequantizers, core/dtype.h, float64 sums, the mask rule
// written out independently here, and hand-derived values.
#include <catch2/catch.hpp>

#ifdef G4_HAVE_CUDA

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/dtype.h"
#include "core/error.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_math.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/plan.h"
#include "engine/cuda/repack.h"
#include "engine/gpu.h"
#include "engine/quant/format.h"

namespace ck = g4::cudak;
namespace cu = g4::engine::cuda;
using g4::quant::Format;

namespace {

constexpr Format kAllFormats[] = {Format::F32,  Format::BF16, Format::I8,  Format::Q8_0,
                                  Format::Q4_0, Format::Q4_K, Format::Q6_K};

// Values with a spread of magnitudes and a few outliers, as real weight rows have.
std::vector<float> random_values(size_t n, uint32_t seed, float scale = 0.02f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  for (size_t i = 0; i < n; i += 97) v[i] *= 6.0f;
  return v;
}

struct HostMatrix {
  g4::engine::QTensor q;
  std::vector<uint8_t> bytes;
};

HostMatrix quantized(Format f, int64_t rows, int64_t cols, uint32_t seed) {
  HostMatrix m;
  const size_t rb = g4::quant::row_bytes(f, cols);
  auto buf = std::make_shared<std::vector<uint8_t>>(rb * static_cast<size_t>(rows));
  const std::vector<float> v = random_values(static_cast<size_t>(rows * cols), seed);
  for (int64_t r = 0; r < rows; ++r)
    g4::quant::quantize_row(f, v.data() + r * cols, buf->data() + static_cast<size_t>(r) * rb, cols);
  m.q.format = f;
  m.q.rows = rows;
  m.q.cols = cols;
  m.q.data = buf->data();
  m.q.owner = buf;
  return m;
}

std::vector<float> reference_row(const g4::engine::QTensor& q, int64_t r) {
  std::vector<float> y(static_cast<size_t>(q.cols));
  g4::quant::dequantize_row(q.format, q.row(r), y.data(), q.cols);
  return y;
}

template <class Unit>
double unit_sum(const ck::DevMatrix& m, int64_t row, const uint16_t* x, const ck::XQRow& xq) {
  double s = 0.0;
  const int64_t units = m.cols / ck::unit_elems(m.fmt);
  for (int64_t u = 0; u < units; ++u) {
    Unit w;
    w.load(m, row, u);
    s += w.dot(x, xq, u);
  }
  return s;
}

double gemv_unit_sum(const ck::DevMatrix& m, int64_t row, const uint16_t* x, const ck::XQRow& xq) {
  switch (m.fmt) {
    case ck::WFormat::F32:
      return unit_sum<ck::UnitF32>(m, row, x, xq);
    case ck::WFormat::BF16:
      return unit_sum<ck::UnitBF16>(m, row, x, xq);
    case ck::WFormat::I8:
      return unit_sum<ck::UnitI8>(m, row, x, xq);
    case ck::WFormat::Q8_0:
      return unit_sum<ck::UnitQ8_0>(m, row, x, xq);
    case ck::WFormat::Q4_0:
      return unit_sum<ck::UnitQ4_0>(m, row, x, xq);
    case ck::WFormat::Q4_K:
      return unit_sum<ck::UnitQ4_K>(m, row, x, xq);
    case ck::WFormat::Q6_K:
      return unit_sum<ck::UnitQ6_K>(m, row, x, xq);
  }
  return 0.0;
}

// The mask of spec §2.7 written out as the spec states it, independently of device_math.h.
bool spec_visible(int64_t i, int64_t j, bool sliding, int64_t window, const std::vector<int>& block) {
  bool allowed = sliding ? (j <= i && j > i - window) : (j <= i);
  if (block[static_cast<size_t>(i)] >= 0 && block[static_cast<size_t>(i)] == block[static_cast<size_t>(j)])
    allowed = true;
  return allowed;
}

}  // namespace

TEST_CASE("cuda device math bf16 and f16 conversions match core dtype", "[cuda]") {
  std::mt19937 rng(3);
  for (int i = 0; i < 200000; ++i) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (f != f) continue;
    REQUIRE(ck::f32_to_bf16(f) == g4::f32_to_bf16(f));
  }
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = ck::f16_to_f32(static_cast<uint16_t>(h)), b = g4::f16_to_f32(static_cast<uint16_t>(h));
    if (a != a) {
      REQUIRE(b != b);
      continue;
    }
    REQUIRE(std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b));
  }
  // f32 -> f16 on the magnitudes the shape-only generator writes (scales), normal and subnormal.
  std::uniform_real_distribution<float> mag(-30.0f, 10.0f);
  for (int i = 0; i < 100000; ++i) {
    const float f = std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, static_cast<int>(mag(rng)));
    REQUIRE(ck::f32_to_f16(f) == g4::f32_to_f16(f));
    REQUIRE(ck::f32_to_f16(-f) == g4::f32_to_f16(-f));
  }
}

TEST_CASE("cuda dp4a emulation sums signed byte products", "[cuda]") {
  // bytes, lowest first: (1, 2, -3, -128) · (5, 6, -7, 2) = 5 + 12 + 21 - 256 = -218, plus 10
  const int a = static_cast<int>(0x80FD0201u), b = static_cast<int>(0x02F90605u);
  CHECK(ck::dp4a(a, b, 10) == -208);
}

TEST_CASE("cuda repacked weights dequantize to the reference values", "[cuda]") {
  for (Format f : kAllFormats) {
    const int64_t rows = 5, cols = 512;
    HostMatrix hm = quantized(f, rows, cols, 11 + static_cast<uint32_t>(f));
    const g4::engine::QTensor* parts[] = {&hm.q};
    std::vector<uint8_t> bytes = cu::repack_rows(parts);
    REQUIRE(static_cast<int64_t>(bytes.size()) == ck::matrix_bytes(cu::to_wformat(f), rows, cols));
    const ck::DevMatrix m = cu::host_view(cu::to_wformat(f), rows, cols, bytes);
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<float> ref = reference_row(hm.q, r);
      for (int64_t c = 0; c < cols; ++c) {
        INFO(g4::quant::info(f).name << " row " << r << " col " << c);
        REQUIRE(ck::dequant1(m, r, c) == Approx(ref[static_cast<size_t>(c)]).epsilon(1e-6).margin(1e-9));
      }
    }
  }
}

TEST_CASE("cuda repack stacks matrices row after row", "[cuda]") {
  HostMatrix a = quantized(Format::Q4_0, 3, 256, 1), b = quantized(Format::Q4_0, 2, 256, 2);
  const g4::engine::QTensor* parts[] = {&a.q, &b.q};
  std::vector<uint8_t> bytes = cu::repack_rows(parts);
  const ck::DevMatrix m = cu::host_view(ck::WFormat::Q4_0, 5, 256, bytes);
  const std::vector<float> ref = reference_row(b.q, 1);
  for (int64_t c = 0; c < 256; ++c) CHECK(ck::dequant1(m, 4, c) == ref[static_cast<size_t>(c)]);
  g4::engine::QTensor other = quantized(Format::Q8_0, 1, 256, 3).q;
  const g4::engine::QTensor* mixed[] = {&a.q, &other};
  CHECK_THROWS_AS(cu::repack_rows(mixed), g4::InternalError);
}

TEST_CASE("cuda activation quantization bounds its error", "[cuda]") {
  const std::vector<float> x = random_values(32, 5, 1.0f);
  int8_t q[32];
  float d = 0, s = 0;
  ck::quantize_block32(x.data(), q, d, s);
  float amax = 0;
  int sum = 0;
  for (int i = 0; i < 32; ++i) {
    amax = std::max(amax, std::fabs(x[static_cast<size_t>(i)]));
    sum += q[i];
    CHECK(std::fabs(x[static_cast<size_t>(i)] - d * q[i]) <= 0.5f * d * 1.0001f);
  }
  CHECK(d == amax / 127.0f);
  CHECK(s == d * static_cast<float>(sum));
  const float zeros[32] = {};
  ck::quantize_block32(zeros, q, d, s);
  CHECK(d == 0.0f);
  CHECK(s == 0.0f);
  CHECK(std::all_of(q, q + 32, [](int8_t v) { return v == 0; }));
}

TEST_CASE("cuda gemv units sum to the float64 dot product", "[cuda]") {
  const int64_t rows = 3, cols = 1024;
  const std::vector<float> xf = random_values(static_cast<size_t>(cols), 99, 1.0f);
  std::vector<uint16_t> xb(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) xb[static_cast<size_t>(c)] = g4::f32_to_bf16(xf[static_cast<size_t>(c)]);
  // The integer paths see the activations quantized per 32 (as the kernel's quantize_x writes them).
  std::vector<int8_t> xq(static_cast<size_t>(cols));
  std::vector<float> xd(static_cast<size_t>(cols / 32)), xs(static_cast<size_t>(cols / 32)), xval(xf.size());
  for (int64_t b = 0; b < cols / 32; ++b) {
    float blk[32];
    for (int k = 0; k < 32; ++k) blk[k] = g4::bf16_to_f32(xb[static_cast<size_t>(32 * b + k)]);
    ck::quantize_block32(blk, xq.data() + 32 * b, xd[static_cast<size_t>(b)], xs[static_cast<size_t>(b)]);
    for (int k = 0; k < 32; ++k)
      xval[static_cast<size_t>(32 * b + k)] =
          xd[static_cast<size_t>(b)] * xq[static_cast<size_t>(32 * b + k)];
  }
  const ck::XQRow xr{xq.data(), xd.data(), xs.data()};
  for (Format f : kAllFormats) {
    HostMatrix hm = quantized(f, rows, cols, 21 + static_cast<uint32_t>(f));
    const g4::engine::QTensor* parts[] = {&hm.q};
    std::vector<uint8_t> bytes = cu::repack_rows(parts);
    const ck::DevMatrix m = cu::host_view(cu::to_wformat(f), rows, cols, bytes);
    const bool integer = f != Format::F32 && f != Format::BF16;
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<float> w = reference_row(hm.q, r);
      double exact = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double xv =
            integer ? xval[static_cast<size_t>(c)] : g4::bf16_to_f32(xb[static_cast<size_t>(c)]);
        exact += static_cast<double>(w[static_cast<size_t>(c)]) * xv;
        mag += std::fabs(static_cast<double>(w[static_cast<size_t>(c)]) * xv);
      }
      const double got = gemv_unit_sum(m, r, xb.data(), xr);
      INFO(g4::quant::info(f).name << " row " << r << " got " << got << " exact " << exact);
      // fp32 sums of ~1024 terms: a few hundred ulps of the magnitude at most.
      CHECK(std::fabs(got - exact) <= 2e-5 * mag);
    }
  }
}

TEST_CASE("cuda q4_k scale packing round-trips", "[cuda]") {
  std::mt19937 rng(4);
  for (int it = 0; it < 1000; ++it) {
    int sc[8], mn[8];
    for (int j = 0; j < 8; ++j) {
      sc[j] = static_cast<int>(rng() % 64);
      mn[j] = static_cast<int>(rng() % 64);
    }
    uint8_t packed[12];
    ck::q4k_pack_scales(sc, mn, packed);
    for (int j = 0; j < 8; ++j) {
      int s, m;
      ck::q4k_scale_min(j, packed, s, m);
      REQUIRE(s == sc[j]);
      REQUIRE(m == mn[j]);
    }
  }
}

TEST_CASE("cuda shape-only generator spreads values like N(0 0.02)", "[cuda]") {
  for (Format f : kAllFormats) {
    const ck::WFormat wf = cu::to_wformat(f);
    const int64_t rows = 64, cols = 1024;
    std::vector<uint8_t> bytes(static_cast<size_t>(ck::matrix_bytes(wf, rows, cols)));
    const ck::DevMatrix m = cu::host_view(wf, rows, cols, bytes);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < cols / ck::format_block_elems(wf); ++b) ck::init_block(m, r, b, 7, 3, 0.02f);
    double s = 0, s2 = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const double v = ck::dequant1(m, r, c);
        s += v;
        s2 += v * v;
      }
    const double n = static_cast<double>(rows * cols), mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
    INFO(g4::quant::info(f).name << " mean " << mean << " sd " << sd);
    CHECK(std::fabs(mean) < 0.001);
    CHECK(sd > 0.017);
    CHECK(sd < 0.023);
    // Same seed, same bytes; another seed, other bytes.
    std::vector<uint8_t> again(bytes.size()), other(bytes.size());
    const ck::DevMatrix ma = cu::host_view(wf, rows, cols, again), mo = cu::host_view(wf, rows, cols, other);
    for (int64_t b = 0; b < cols / ck::format_block_elems(wf); ++b) {
      ck::init_block(ma, 0, b, 7, 3, 0.02f);
      ck::init_block(mo, 0, b, 8, 3, 0.02f);
    }
    const size_t row0 = static_cast<size_t>(m.drb);
    CHECK(std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(row0), again.begin()));
    CHECK_FALSE(std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(row0), other.begin()));
  }
}

TEST_CASE("cuda mask and key ranges follow spec 2.7", "[cuda]") {
  // 40 positions, a vision block at [10, 25) and one at [30, 33).
  std::vector<int> block(40, -1);
  std::vector<int64_t> lo(40, -1), hi(40, -1);
  for (int t = 10; t < 25; ++t)
    block[static_cast<size_t>(t)] = 0, lo[static_cast<size_t>(t)] = 10, hi[static_cast<size_t>(t)] = 25;
  for (int t = 30; t < 33; ++t)
    block[static_cast<size_t>(t)] = 1, lo[static_cast<size_t>(t)] = 30, hi[static_cast<size_t>(t)] = 33;
  for (bool sliding : {false, true})
    for (int64_t window : {4, 8, 64})
      for (int64_t i = 0; i < 40; ++i) {
        const ck::KeyRange kr =
            ck::query_key_range(i, sliding, window, lo[static_cast<size_t>(i)], hi[static_cast<size_t>(i)]);
        int64_t first = -1, last = -1;
        for (int64_t j = 0; j < 40; ++j) {
          const bool want = spec_visible(i, j, sliding, window, block);
          REQUIRE(ck::key_visible(i, j, sliding, window, block[static_cast<size_t>(i)],
                                  block[static_cast<size_t>(j)]) == want);
          if (want) {
            if (first < 0) first = j;
            last = j;
          }
        }
        // The range holds every visible key and starts and ends on one.
        REQUIRE(kr.lo == first);
        REQUIRE(kr.hi == last + 1);
      }
}

TEST_CASE("cuda ring cache keeps every key a chunk can see", "[cuda]") {
  // Simulates the sliding-layer ring: each chunk writes its keys at cache_slot(pos, cap), then every query of
  // the chunk reads its key range; a slot overwritten by a later position would hand it the wrong key.
  for (int64_t window : {4, 7, 32})
    for (int64_t chunk_cap : {1, 3, 16, 50}) {
      const int64_t max_ctx = 300, cap = cu::ring_capacity(window, chunk_cap, max_ctx);
      std::vector<int64_t> slot_pos(static_cast<size_t>(cap), -1);
      std::mt19937 rng(static_cast<uint32_t>(window * 100 + chunk_cap));
      int64_t len = 0;
      while (len < max_ctx) {
        const int64_t T = std::min<int64_t>(
            1 + static_cast<int64_t>(rng() % static_cast<uint32_t>(chunk_cap)), max_ctx - len);
        for (int64_t p = len; p < len + T; ++p) slot_pos[static_cast<size_t>(ck::cache_slot(p, cap))] = p;
        for (int64_t i = len; i < len + T; ++i) {
          const ck::KeyRange kr = ck::query_key_range(i, true, window, -1, -1);
          for (int64_t j = kr.lo; j < kr.hi; ++j)
            REQUIRE(slot_pos[static_cast<size_t>(ck::cache_slot(j, cap))] == j);
        }
        len += T;
      }
    }
}

TEST_CASE("cuda key splits partition the tiles in order", "[cuda]") {
  for (int64_t n : {0, 1, 5, 64, 1000})
    for (int ns : {1, 2, 3, 7, 64, 300}) {
      int64_t expect = 0;
      for (int z = 0; z < ns; ++z) {
        int64_t b, e;
        ck::split_range(n, ns, z, b, e);
        REQUIRE(b == expect);
        REQUIRE(e >= b);
        expect = e;
      }
      REQUIRE(expect == n);
    }
}

TEST_CASE("cuda split softmax merge equals one softmax", "[cuda]") {
  std::mt19937 rng(8);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  const int n = 200, D = 4;
  std::vector<float> s(n), v(static_cast<size_t>(n * D));
  for (auto& x : s) x = nd(rng);
  for (auto& x : v) x = nd(rng);
  // Direct softmax in float64.
  double mx = -1e300, tot = 0;
  for (float x : s) mx = std::max(mx, static_cast<double>(x));
  std::vector<double> want(D, 0.0);
  for (int j = 0; j < n; ++j) {
    const double p = std::exp(s[static_cast<size_t>(j)] - mx);
    tot += p;
    for (int d = 0; d < D; ++d) want[static_cast<size_t>(d)] += p * v[static_cast<size_t>(j * D + d)];
  }
  // Splits of uneven sizes, one empty, as the kernel writes them: (m, l, unnormalized o).
  const std::vector<int> cuts = {0, 13, 13, 90, 91, 200};
  const int ns = static_cast<int>(cuts.size()) - 1;
  std::vector<float> m(static_cast<size_t>(ns)), l(static_cast<size_t>(ns)), o(static_cast<size_t>(ns * D)),
      w(static_cast<size_t>(ns));
  for (int z = 0; z < ns; ++z) {
    float mz = -INFINITY;
    for (int j = cuts[static_cast<size_t>(z)]; j < cuts[static_cast<size_t>(z + 1)]; ++j)
      mz = std::max(mz, s[static_cast<size_t>(j)]);
    float lz = 0;
    for (int j = cuts[static_cast<size_t>(z)]; j < cuts[static_cast<size_t>(z + 1)]; ++j) {
      const float p = std::exp(s[static_cast<size_t>(j)] - mz);
      lz += p;
      for (int d = 0; d < D; ++d) o[static_cast<size_t>(z * D + d)] += p * v[static_cast<size_t>(j * D + d)];
    }
    m[static_cast<size_t>(z)] = mz;
    l[static_cast<size_t>(z)] = lz;
  }
  ck::merge_weights(m.data(), l.data(), ns, w.data());
  CHECK(w[1] == 0.0f);  // the empty split
  for (int d = 0; d < D; ++d) {
    double got = 0;
    for (int z = 0; z < ns; ++z) got += w[static_cast<size_t>(z)] * o[static_cast<size_t>(z * D + d)];
    CHECK(got == Approx(want[static_cast<size_t>(d)] / tot).epsilon(1e-5).margin(1e-6));
  }
}

TEST_CASE("cuda plans pick the matrix path and attention geometry", "[cuda]") {
  using cu::LinearPath;
  CHECK(cu::plan_linear(ck::WFormat::Q4_0, 1) == LinearPath::Gemv);
  CHECK(cu::plan_linear(ck::WFormat::Q4_0, ck::kMaxGemvTokens) == LinearPath::Gemv);
  CHECK(cu::plan_linear(ck::WFormat::Q4_0, ck::kMaxGemvTokens + 1) == LinearPath::DequantGemm);
  CHECK(cu::plan_linear(ck::WFormat::BF16, 512) == LinearPath::GemmBf16);
  CHECK(cu::plan_linear(ck::WFormat::F32, 512) == LinearPath::GemmF32);
  CHECK(cu::dequant_chunk_rows(30720, 3840, int64_t{64} << 20) == 17476);
  CHECK(cu::dequant_chunk_rows(100, 3840, int64_t{64} << 20) == 100);

  // 12B decode on a full layer (MQA 16:1, D 512) at 128K keys: one row tile, split over the keys.
  cu::AttnPlan p = cu::plan_attention(1, 16, 1, 512, 131072, 132, int64_t{4} << 20);
  CHECK(p.bq == 16);
  CHECK(p.row_tiles == 1);
  CHECK(p.nsplit == 264);
  // Sliding decode (GQA 2:1, D 256, window 1024): 8 kv heads, splits capped by the 16 key tiles.
  p = cu::plan_attention(1, 16, 8, 256, 1024, 132, int64_t{4} << 20);
  CHECK(p.bq == 16);
  CHECK(p.nsplit == 16);
  // Prefill of 4096 tokens fills the GPU with row tiles alone.
  p = cu::plan_attention(4096, 16, 1, 512, 4096, 132, int64_t{4} << 20);
  CHECK(p.bq == 32);
  CHECK(p.row_tiles == 2048);
  CHECK(p.nsplit == 1);
  p = cu::plan_attention(4096, 16, 8, 256, 5119, 132, int64_t{4} << 20);
  CHECK(p.bq == 64);
  CHECK(p.row_tiles == 128);
  // The workspace bounds the split: 8 tokens × 16 heads × 512 × nsplit floats <= 65536.
  p = cu::plan_attention(8, 16, 1, 512, 131072, 132, 65536);
  CHECK(p.nsplit == 1);
  p = cu::plan_attention(1, 16, 1, 512, 131072, 132, 65536);
  CHECK(p.nsplit == 8);
}

TEST_CASE("cuda prefill chunks never cut a vision block", "[cuda]") {
  std::vector<int64_t> b(100, -1);
  for (int t = 8; t < 20; ++t) b[static_cast<size_t>(t)] = 0;
  for (int t = 40; t < 45; ++t) b[static_cast<size_t>(t)] = 1;
  const auto chunks = cu::plan_chunks(b, 16);
  int64_t at = 0;
  for (const auto& c : chunks) {
    CHECK(c.begin == at);
    CHECK(c.end - c.begin <= 16);
    CHECK(c.end > c.begin);
    if (c.end < 100)
      CHECK_FALSE((b[static_cast<size_t>(c.end)] >= 0 &&
                   b[static_cast<size_t>(c.end)] == b[static_cast<size_t>(c.end - 1)]));
    at = c.end;
  }
  CHECK(at == 100);
  CHECK(chunks[0].end == 8);  // [0, 16) would cut block 0 at 16: the cut moves back to its start
  CHECK(chunks[1].end == 24);
  CHECK_THROWS_AS(cu::plan_chunks(b, 10), g4::InputError);  // block 0 has 12 tokens
  CHECK(cu::plan_chunks(std::vector<int64_t>(5, -1), 16).size() == 1);
}

TEST_CASE("cuda chunk block arrays name each block's positions", "[cuda]") {
  const std::vector<int64_t> b = {-1, 3, 3, -1, 4, 4, 4};
  const cu::ChunkBlocks cb = cu::chunk_blocks(b, 100);
  CHECK(cb.id == std::vector<int32_t>{-1, 3, 3, -1, 4, 4, 4});
  CHECK(cb.lo == std::vector<int32_t>{-1, 101, 101, -1, 104, 104, 104});
  CHECK(cb.hi == std::vector<int32_t>{-1, 103, 103, -1, 107, 107, 107});
  CHECK(cu::chunk_blocks(std::vector<int64_t>{-1, -1}, 0).id.empty());
}

TEST_CASE("cuda vision block ids and rope frequencies follow the spec", "[cuda]") {
  g4::ModelConfig cfg = g4::gemma4_12b_config();
  const int32_t img = static_cast<int32_t>(cfg.image_token_id),
                vid = static_cast<int32_t>(cfg.video_token_id);
  const std::vector<int32_t> ids = {2, img, img, 5, img, vid, 7, vid};
  CHECK(cu::vision_block_ids(cfg, ids, 3) == std::vector<int64_t>{-1, 3, 3, -1, 4, 4, -1, 5});
  // Full layers: proportional, 64 angles of 1/1e6^(2i/512), zeros after (spec §2.6).
  const auto full = cu::rope_inv_freq(cfg.text.rope_full, 512);
  REQUIRE(full.size() == 256);
  CHECK(full[0] == 1.0f);
  CHECK(full[63] == Approx(std::pow(1e6, -126.0 / 512.0)).epsilon(1e-6));
  CHECK(full[64] == 0.0f);
  CHECK(full[255] == 0.0f);
  const auto sl = cu::rope_inv_freq(cfg.text.rope_sliding, 256);
  CHECK(sl[127] == Approx(std::pow(1e4, -254.0 / 256.0)).epsilon(1e-6));
}

TEST_CASE("cuda out of memory message says what was asked and what was free", "[cuda]") {
  const std::string m =
      cu::memory_message("layer 3 K cache", size_t{3} << 30, size_t{1} << 29, size_t{80} << 30);
  CHECK(m == "out of device memory allocating layer 3 K cache: asked 3.00 GiB, 0.50 GiB free of 80.00 GiB");
}

TEST_CASE("cuda backend without a device is a one-line input error", "[cuda]") {
  const g4::GpuStatus s = g4::probe_gpu();
  if (s.available) {
    std::printf("SKIP no-device error path: a GPU is present (%s)\n", s.name.c_str());
    SUCCEED();
    return;
  }
  try {
    cu::make_cuda_shape_only_model(g4::gemma4_12b_config(), g4::engine::parse_weight_plan("q4_0"), 1);
    FAIL("expected an InputError");
  } catch (const g4::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.rfind("--backend cuda: ", 0) == 0);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

#endif  // G4_HAVE_CUDA
