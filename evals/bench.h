// Throughput benchmark in llama-bench's terms (docs/benchmarks.md): for each depth d, "pp N @ d" times the
// prefill of N tokens after d tokens of context and "tg N @ d" times N single-token decode steps after d
// tokens; each is repeated R times on a fresh session each time, after one warm-up per kind of test. Records
// use llama-bench's field names (n_prompt, n_gen, n_depth, avg_ts, stddev_ts) plus backend and quant; a
// prompt record has n_gen 0, a generation record n_prompt 0.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/backend.h"

namespace g4::evals {

struct BenchOptions {
  int64_t n_prompt = 512, n_gen = 128;
  std::vector<int64_t> depths{0};
  int64_t reps = 3;
  std::string model_label;  // checkpoint directory or "shape:12b"
  int threads = 0;
};

struct BenchRecord {
  std::string test;  // "pp512 @ d0"
  int64_t n_prompt = 0, n_gen = 0, n_depth = 0;
  std::vector<double> samples_ts;
  double avg_ts = 0, stddev_ts = 0;
  double avg_ms_per_token = 0;
  size_t peak_session_bytes = 0;
  // Decode only: weight bytes streamed per token over the read bandwidth measured in the same run.
  double roofline_fraction = 0;
};

struct BenchResult {
  std::string backend, quant, model;
  size_t weight_bytes = 0;
  double read_bandwidth_gbs = 0;  // host read bandwidth, measured before the tests
  std::vector<BenchRecord> records;
  nlohmann::json to_json() const;  // {"records": [...]} with every record's fields plus the run's
};

// Streams a 1 GiB buffer with all engine threads and returns GB/s (best of 3).
double measure_read_bandwidth_gbs();

using BenchProgress = std::function<void(const BenchRecord&)>;
BenchResult run_bench(const engine::Model& model, const BenchOptions& opt,
                      const BenchProgress& progress = {});

std::vector<int64_t> parse_depths(const std::string& list);  // "0,4096,..." (InputError on junk)

}  // namespace g4::evals
