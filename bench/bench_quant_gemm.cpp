// Prefill GEMM of quantized weights, one thread: a 4096 × 3840 weight tile times T tokens per format
// (T = 512 unless the name ends in /T).
//   Gemm/<fmt>/T        gemm_rows (engine/quant/gemm.h): int8 VNNI on activations converted to q8_0 / q8_k
//   OneDnnBf16/<fmt>    the existing path of engine/cpu/matmul.cpp: weight tiles dequantized to bf16, oneDNN
//                       bf16 matmul (OpenMP limited to 1 thread), float activations in and out
//   Bf16DotLoop/<fmt>   dequantize_row_to_bf16 + one bf16 vec_dot per output (a plain baseline)
//   VecDotLoop/<fmt>/T  vec_dot per output, what matmul.cpp does for T <= 4 (small T: where gemm_rows
//                       starts to win; the 4096 rows mostly sit in L3 here, decoding streams them from DRAM)
//   QuantizeActs/<fmt>  quantize_activation_row of the 512 tokens, which the gemm path needs first
// Counters: GOPS (2 · rows · cols · tokens per second), ops_per_cycle (GOPS over a clock estimated from a
// chain of dependent 1-cycle adds, so a boosting or shared core shows here) and of_vnni_peak (over 128
// int8 ops per cycle: one 512-bit vpdpbusd per cycle, Zen 4 and Ice Lake and later).
//   cmake -DG4_BUILD_BENCH=ON ... && ./bench/bench_quant_gemm [--benchmark_filter=Gemm/]
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "engine/cpu/matmul.h"
#include "engine/quant/dequant.h"
#include "engine/quant/format.h"
#include "engine/quant/gemm.h"

namespace {

using g4::quant::Format;

constexpr int64_t kRows = 4096, kCols = 3840, kTokens = 512;

// Clock in GHz: a chain of dependent adds retires one per cycle; best of 20 short runs.
double clock_ghz() {
  static const double ghz = [] {
    double best = 0;
    for (int rep = 0; rep < 20; ++rep) {
      constexpr uint64_t kIters = 4000000;
      uint64_t x = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (uint64_t i = 0; i < kIters; ++i)
        asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 4.0 * kIters / s / 1e9);
    }
    return best;
  }();
  return ghz;
}

struct Problem {
  std::vector<uint8_t> weights, acts;  // stored rows; converted activation rows
  std::vector<float> x;                // the float activations [kTokens, kCols]
  size_t row_bytes = 0, act_bytes = 0;
};

// 64 quantized Gaussian rows tiled over the 4096; Gaussian activations. Only the latest format is kept.
const Problem& problem(Format f) {
  static std::mutex mu;
  static Format cached = Format::kSentinel;
  static std::unique_ptr<Problem> slot;
  std::lock_guard lock(mu);
  if (cached != f) {
    slot = std::make_unique<Problem>();
    cached = f;
    Problem& p = *slot;
    p.row_bytes = g4::quant::row_bytes(f, kCols);
    p.act_bytes = g4::quant::activation_row_bytes(f, kCols);
    p.weights.resize(p.row_bytes * kRows);
    std::mt19937 rng(1);
    std::normal_distribution<float> g(0.0f, 0.02f);
    std::vector<float> row(kCols);
    for (int64_t r = 0; r < 64; ++r) {
      for (float& v : row) v = g(rng);
      g4::quant::quantize_row(f, row.data(), p.weights.data() + r * p.row_bytes, kCols);
    }
    for (int64_t r = 64; r < kRows; ++r)
      std::memcpy(p.weights.data() + r * p.row_bytes, p.weights.data() + (r % 64) * p.row_bytes, p.row_bytes);
    p.x.resize(static_cast<size_t>(kTokens * kCols));
    for (float& v : p.x) v = g(rng) * 50;
    p.acts.resize(p.act_bytes * kTokens);
    for (int64_t t = 0; t < kTokens; ++t)
      g4::quant::quantize_activation_row(f, p.x.data() + t * kCols, p.acts.data() + t * p.act_bytes, kCols);
  }
  return *slot;
}

// Times the benchmark loop itself (the counters are plain numbers, not Google Benchmark's per-second rates).
struct Timer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

void set_counters(benchmark::State& state, const Timer& timer, int64_t tokens) {
  const double ops =
      2.0 * kRows * kCols * static_cast<double>(tokens) * static_cast<double>(state.iterations());
  const double gops = ops / timer.seconds() / 1e9;
  state.counters["GOPS"] = gops;
  state.counters["ops_per_cycle"] = gops / clock_ghz();
  state.counters["of_vnni_peak"] = gops / clock_ghz() / 128;
}

void BM_Gemm(benchmark::State& state, Format f) {
  const Problem& p = problem(f);
  const int64_t T = state.range(0);
  std::vector<float> y(static_cast<size_t>(kRows * T));
  g4::quant::gemm_rows(f, kCols, p.weights.data(), p.row_bytes, kRows, p.acts.data(), p.act_bytes, T,
                       y.data(),
                       kRows);  // warm-up: scratch allocation
  const Timer timer;
  for (auto _ : state) {
    g4::quant::gemm_rows(f, kCols, p.weights.data(), p.row_bytes, kRows, p.acts.data(), p.act_bytes, T,
                         y.data(), kRows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, timer, T);
  state.SetLabel(g4::quant::gemm_kernel_name(f) + ", " + std::to_string(clock_ghz()).substr(0, 4) + " GHz");
}

void BM_OneDnnBf16(benchmark::State& state, Format f) {
  const Problem& p = problem(f);
  g4::engine::QTensor w;
  w.format = f;
  w.rows = kRows;
  w.cols = kCols;
  w.data = p.weights.data();
  g4::engine::cpu::MatmulScratch scratch;
  std::vector<float> y(static_cast<size_t>(kRows * kTokens));
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  g4::engine::cpu::linear(w, p.x.data(), kTokens, y.data(), scratch);  // warm-up: primitive creation
  const Timer timer;
  for (auto _ : state) {
    g4::engine::cpu::linear(w, p.x.data(), kTokens, y.data(), scratch);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, timer, kTokens);
  omp_set_num_threads(threads);
  state.SetLabel(g4::engine::cpu::matmul_path(w, kTokens));
}

void BM_Bf16DotLoop(benchmark::State& state, Format f) {
  const Problem& p = problem(f);
  constexpr int64_t kTile = 64;  // weight rows dequantized at a time (L2-sized)
  std::vector<uint16_t> w16(static_cast<size_t>(kTile * kCols)), x16(p.x.size());
  for (size_t i = 0; i < p.x.size(); ++i) x16[i] = g4::f32_to_bf16(p.x[i]);
  std::vector<float> y(static_cast<size_t>(kRows * kTokens));
  const Timer timer;
  for (auto _ : state) {
    for (int64_t r0 = 0; r0 < kRows; r0 += kTile) {
      for (int64_t r = 0; r < kTile; ++r)
        g4::quant::dequantize_row_to_bf16(f, p.weights.data() + (r0 + r) * p.row_bytes,
                                          w16.data() + r * kCols, kCols);
      for (int64_t t = 0; t < kTokens; ++t)
        for (int64_t r = 0; r < kTile; ++r)
          y[t * kRows + r0 + r] =
              g4::quant::vec_dot(Format::BF16, kCols, w16.data() + r * kCols, x16.data() + t * kCols);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, timer, kTokens);
}

void BM_VecDotLoop(benchmark::State& state, Format f) {
  const Problem& p = problem(f);
  const int64_t T = state.range(0);
  std::vector<float> y(static_cast<size_t>(kRows * T));
  const Timer timer;
  for (auto _ : state) {
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t t = 0; t < T; ++t)
        y[t * kRows + r] =
            g4::quant::vec_dot(f, kCols, p.weights.data() + r * p.row_bytes, p.acts.data() + t * p.act_bytes);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, timer, T);
  state.SetLabel(g4::quant::kernel_name(f));
}

void BM_QuantizeActs(benchmark::State& state, Format f) {
  const Problem& p = problem(f);
  std::vector<uint8_t> acts(p.acts.size());
  for (auto _ : state) {
    for (int64_t t = 0; t < kTokens; ++t)
      g4::quant::quantize_activation_row(f, p.x.data() + t * kCols, acts.data() + t * p.act_bytes, kCols);
    benchmark::DoNotOptimize(acts.data());
  }
  state.SetItemsProcessed(state.iterations() * kTokens * kCols);
}

const Format kFormats[] = {Format::I8, Format::Q8_0, Format::Q4_0, Format::Q4_K, Format::Q6_K};

[[maybe_unused]] const bool registered = [] {
  for (Format f : kFormats) {
    const std::string name(g4::quant::info(f).name);
    benchmark::RegisterBenchmark(("Gemm/" + name).c_str(), BM_Gemm, f)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(1.0)
        ->ArgName("T")
        ->Arg(kTokens)
        ->Arg(1)
        ->Arg(4)
        ->Arg(16)
        ->Arg(64);
    benchmark::RegisterBenchmark(("VecDotLoop/" + name).c_str(), BM_VecDotLoop, f)
        ->Unit(benchmark::kMillisecond)
        ->ArgName("T")
        ->Arg(1)
        ->Arg(4)
        ->Arg(16);
    benchmark::RegisterBenchmark(("OneDnnBf16/" + name).c_str(), BM_OneDnnBf16, f)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(1.0);
    benchmark::RegisterBenchmark(("Bf16DotLoop/" + name).c_str(), BM_Bf16DotLoop, f)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
    benchmark::RegisterBenchmark(("QuantizeActs/" + name).c_str(), BM_QuantizeActs, f)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
