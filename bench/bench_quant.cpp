// Weight-format kernels: vec_dot over a 15360 × 3840 matrix (Gemma 4 12B's FFN up projection) reported as
// weight bytes read per second; successive iterations walk through copies of the matrix totalling at least
// 512 MiB, so the weights stream from memory as in decoding (one copy of a 4-bit matrix would nearly fit in
// a 32 MiB L3). Next to it a plain
// read of a 1 GiB buffer in the same binary, so "fraction of read bandwidth" can be read off directly;
// and dequantize_row_to_bf16 throughput on an L2-sized tile. Threads(2) splits the rows between 2 threads.
//   cmake -DG4_BUILD_BENCH=ON ... && ./bench/bench_quant
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "engine/quant/dequant.h"
#include "engine/quant/format.h"

namespace {

using g4::quant::Format;

constexpr int64_t kRows = 15360, kCols = 3840;

// A 64-byte aligned buffer that is written once (so its pages are really there).
struct Buffer {
  std::unique_ptr<uint8_t[], decltype(&std::free)> data{nullptr, &std::free};
  size_t size = 0;
  explicit Buffer(size_t n)
      : data(static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64)), &std::free), size(n) {}
};

constexpr size_t kStreamBytes = size_t{512} << 20;

struct Matrix {
  Buffer weights;  // `copies` consecutive copies of the matrix
  std::vector<uint8_t> activation;
  size_t row_bytes, copies;
  Matrix(size_t rb, size_t n_copies) : weights(rb * kRows * n_copies), row_bytes(rb), copies(n_copies) {}
  const uint8_t* row(size_t copy, int64_t r) const {
    return weights.data.get() + (copy * kRows + static_cast<size_t>(r)) * row_bytes;
  }
};

// Quantizes 64 rows of Gaussian values and tiles them over the matrices: real values, cheap to set up.
// Only the latest format's matrices are kept (benchmarks of one format run one after another).
const Matrix& matrix(Format f) {
  static std::mutex mu;
  static Format cached = Format::kSentinel;
  static std::unique_ptr<Matrix> slot;
  std::lock_guard lock(mu);
  if (cached != f) {
    slot.reset();
    cached = f;
    const size_t rb = g4::quant::row_bytes(f, kCols);
    slot = std::make_unique<Matrix>(rb, (kStreamBytes + rb * kRows - 1) / (rb * kRows));
    std::mt19937 rng(1);
    std::normal_distribution<float> g(0.0f, 0.02f);
    std::vector<float> x(kCols);
    constexpr int kTile = 64;
    for (int r = 0; r < kTile; ++r) {
      for (float& v : x) v = g(rng);
      g4::quant::quantize_row(f, x.data(), slot->weights.data.get() + r * rb, kCols);
    }
    for (size_t r = kTile; r < kRows * slot->copies; ++r)
      std::memcpy(slot->weights.data.get() + r * rb, slot->weights.data.get() + (r % kTile) * rb, rb);
    for (float& v : x) v = g(rng) * 50;
    slot->activation.resize(g4::quant::activation_row_bytes(f, kCols));
    g4::quant::quantize_activation_row(f, x.data(), slot->activation.data(), kCols);
  }
  return *slot;
}

void BM_Gemv(benchmark::State& state, Format f) {
  const Matrix& m = matrix(f);
  const int64_t rows_per_thread = kRows / state.threads();
  const int64_t first = rows_per_thread * state.thread_index();
  std::vector<float> out(static_cast<size_t>(rows_per_thread));
  size_t copy = 0;
  for (auto _ : state) {
    for (int64_t r = 0; r < rows_per_thread; ++r)
      out[r] = g4::quant::vec_dot(f, kCols, m.row(copy, first + r), m.activation.data());
    copy = (copy + 1) % m.copies;
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * rows_per_thread * static_cast<int64_t>(m.row_bytes));
  state.SetLabel(g4::quant::kernel_name(f));
}

// The baseline: sum 64-bit words of a 1 GiB buffer, 4 independent accumulators.
void BM_ReadBandwidth(benchmark::State& state) {
  static const Buffer buf = [] {
    Buffer b(size_t{1} << 30);
    std::memset(b.data.get(), 1, b.size);
    return b;
  }();
  const size_t words = buf.size / 8 / static_cast<size_t>(state.threads());
  const auto* p =
      reinterpret_cast<const uint64_t*>(buf.data.get()) + words * static_cast<size_t>(state.thread_index());
  for (auto _ : state) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < words; i += 4) {
      s0 += p[i];
      s1 += p[i + 1];
      s2 += p[i + 2];
      s3 += p[i + 3];
    }
    benchmark::DoNotOptimize(s0 + s1 + s2 + s3);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * words * 8));
}

// Dequantizing 64 rows (an L2-sized tile for the 4-bit formats) to bf16; reported as weight bytes read.
void BM_DequantToBf16(benchmark::State& state, Format f) {
  const Matrix& m = matrix(f);
  constexpr int64_t kTileRows = 64;
  std::vector<uint16_t> out(static_cast<size_t>(kTileRows * kCols));
  for (auto _ : state) {
    for (int64_t r = 0; r < kTileRows; ++r)
      g4::quant::dequantize_row_to_bf16(f, m.row(0, r), out.data() + r * kCols, kCols);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * kTileRows * static_cast<int64_t>(m.row_bytes));
  state.SetItemsProcessed(state.iterations() * kTileRows * kCols);
}

const Format kFormats[] = {Format::F32,  Format::BF16, Format::I8,  Format::Q8_0,
                           Format::Q4_0, Format::Q4_K, Format::Q6_K};

[[maybe_unused]] const bool registered = [] {
  benchmark::RegisterBenchmark("ReadBandwidth", BM_ReadBandwidth)->Threads(1)->Threads(2)->UseRealTime();
  for (Format f : kFormats) {
    const std::string name(g4::quant::info(f).name);
    benchmark::RegisterBenchmark(("Gemv/" + name).c_str(), BM_Gemv, f)->Threads(1)->Threads(2)->UseRealTime();
  }
  for (Format f : kFormats) {
    const std::string name(g4::quant::info(f).name);
    benchmark::RegisterBenchmark(("DequantToBf16/" + name).c_str(), BM_DequantToBf16, f);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
