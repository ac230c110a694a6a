// Prefill GEMM efficiency of the CPU engine: its linear() on the 12B's FFN shapes (gate/up: 3840 -> 15360,
// down: 15360 -> 3840) over 512 tokens, for each weight format, against the library's own best case measured
// in the same binary: oneDNN's bf16 matmul on weights already in bf16 (what the hardware's bf16 dot
// instructions allow through the library), and OpenBLAS sgemm in f32.
//   ./build/bench/bench_engine_matmul --benchmark_min_time=2x       (G4_THREADS / OMP_NUM_THREADS: threads)
// Counters: GFLOP/s (2·T·in·out per call).
#include <benchmark/benchmark.h>

#include <random>

#include "engine/cpu/matmul.h"
#include "engine/weights.h"

namespace {

using namespace g4;
using namespace g4::engine;

constexpr int64_t kTokens = 512;

const std::vector<float>& random_values(int64_t n) {
  static std::vector<float> v;
  if (static_cast<int64_t>(v.size()) < n) {
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.f, 0.02f);
    v.resize(static_cast<size_t>(n));
    for (auto& x : v) x = d(rng);
  }
  return v;
}

void BM_linear(benchmark::State& state, quant::Format f, int64_t in, int64_t out) {
  const auto& w = random_values(in * out);
  const QTensor W =
      quantize_matrix(f, std::span<const float>(w.data(), static_cast<size_t>(in * out)), out, in);
  std::vector<float> x(static_cast<size_t>(kTokens * in)), y(static_cast<size_t>(kTokens * out));
  for (size_t i = 0; i < x.size(); ++i) x[i] = w[i % w.size()] * 50.f;
  cpu::MatmulScratch scratch;
  cpu::linear(W, x.data(), kTokens, y.data(), scratch);  // warm-up: primitive creation, buffers
  for (auto _ : state) {
    cpu::linear(W, x.data(), kTokens, y.data(), scratch);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * kTokens * in * out * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(cpu::matmul_path(W, kTokens));
}

void register_all() {
  const std::pair<int64_t, int64_t> shapes[] = {{3840, 15360}, {15360, 3840}};
  for (const auto f : {quant::Format::BF16, quant::Format::F32, quant::Format::Q8_0, quant::Format::Q4_0,
                       quant::Format::Q4_K, quant::Format::Q6_K, quant::Format::I8})
    for (const auto& [in, out] : shapes) {
      const std::string name = "linear/" + std::string(quant::info(f).name) + "/" + std::to_string(in) + "x" +
                               std::to_string(out) + "/T512";
      benchmark::RegisterBenchmark(name.c_str(),
                                   [f, in = in, out = out](benchmark::State& s) { BM_linear(s, f, in, out); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
