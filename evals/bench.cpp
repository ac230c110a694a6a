#include "evals/bench.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <random>

#include "core/error.h"
#include "core/number_list.h"
#include "core/special_tokens.h"

namespace g4::evals {
namespace {

using Clock = std::chrono::steady_clock;

bool is_media_placeholder(const ModelConfig& cfg, int64_t id) {
  return id == cfg.image_token_id || id == cfg.audio_token_id || id == cfg.video_token_id ||
         id == cfg.boi_token_id || id == cfg.eoi_token_id || id == cfg.boa_token_id ||
         id == cfg.eoa_token_index;
}

std::vector<int32_t> random_ids(const ModelConfig& cfg, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t lo = std::min<int64_t>(1000, cfg.text.vocab_size / 2), span = cfg.text.vocab_size - lo;
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) {
    do {
      id = static_cast<int32_t>(lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(span)));
    } while (is_media_placeholder(cfg, id));  // plain text: placeholders would need soft tokens
  }
  return ids;
}

// Fills a fresh session with d tokens of context (untimed).
std::unique_ptr<engine::Session> session_at_depth(const engine::Model& m, int64_t depth, int64_t extra) {
  auto s = m.session(std::min(m.config().text.max_position_embeddings, depth + extra + 1));
  if (depth > 0) {
    ForwardInput in;
    in.ids = random_ids(m.config(), depth, 7);
    in.ids[0] = tok::kBos;
    s->prefill(in, engine::LogitsWanted::None);
  }
  return s;
}

void finish(BenchRecord& r, int64_t n) {
  double sum = 0;
  for (const double x : r.samples_ts) sum += x;
  r.avg_ts = sum / static_cast<double>(r.samples_ts.size());
  double var = 0;
  for (const double x : r.samples_ts) var += (x - r.avg_ts) * (x - r.avg_ts);
  r.stddev_ts = r.samples_ts.size() > 1 ? std::sqrt(var / static_cast<double>(r.samples_ts.size() - 1)) : 0.0;
  r.avg_ms_per_token = 1000.0 / r.avg_ts;
  (void)n;
}

}  // namespace

double measure_read_bandwidth_gbs() {
  const size_t n = (size_t{1} << 30) / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) buf[i] = i;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    uint64_t acc = 0;
#pragma omp parallel for schedule(static) reduction(^ : acc)
    for (size_t i = 0; i < n; ++i) acc ^= buf[i];
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (acc == 42) best += 0;  // keeps the loop from being optimized away
    best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / s / 1e9);
  }
  return best;
}

std::vector<int64_t> parse_depths(const std::string& list) {
  return parse_number_list(list, "--depths", 0, INT64_MAX, "a token count");
}

BenchResult run_bench(const engine::Model& model, const BenchOptions& opt, const BenchProgress& progress) {
  if (opt.reps < 1) fail_input("--reps", "must be at least 1");
  if (opt.n_prompt < 0 || opt.n_gen < 0 || (opt.n_prompt == 0 && opt.n_gen == 0))
    fail_input("--n-prompt/--n-gen", "need a positive prompt or generation length");
  const int64_t max_pos = model.config().text.max_position_embeddings;
  BenchResult res;
  res.backend = model.backend();
  res.quant = model.plan();
  res.model = opt.model_label;
  res.weight_bytes = model.memory().weight_bytes;
  res.read_bandwidth_gbs = model.backend() == "cuda" ? 0.0 : measure_read_bandwidth_gbs();
  // One warm-up per kind of test (first use of kernels, buffers, primitives), not per depth: filling a deep
  // context again only to throw the result away would double the run at 128K.
  bool warm_pp = false, warm_tg = false;
  for (const int64_t d : opt.depths) {
    if (d + std::max(opt.n_prompt, opt.n_gen) > max_pos)
      fail_input("--depths", "depth " + std::to_string(d) +
                                 " plus the test length exceeds max_position_embeddings " +
                                 std::to_string(max_pos));
    if (opt.n_prompt > 0) {
      BenchRecord r;
      r.test = "pp" + std::to_string(opt.n_prompt) + " @ d" + std::to_string(d);
      r.n_prompt = opt.n_prompt;
      r.n_depth = d;
      ForwardInput in;
      in.ids = random_ids(model.config(), opt.n_prompt, 11);
      for (int64_t rep = warm_pp ? 0 : -1; rep < opt.reps; ++rep) {  // rep -1: warm-up, once per run
        auto s = session_at_depth(model, d, opt.n_prompt);
        const auto t0 = Clock::now();
        s->prefill(in, engine::LogitsWanted::Last);
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        r.peak_session_bytes = std::max(r.peak_session_bytes, s->memory_bytes());
        if (rep >= 0) r.samples_ts.push_back(static_cast<double>(opt.n_prompt) / secs);
      }
      warm_pp = true;
      finish(r, opt.n_prompt);
      res.records.push_back(r);
      if (progress) progress(r);
    }
    if (opt.n_gen > 0) {
      BenchRecord r;
      r.test = "tg" + std::to_string(opt.n_gen) + " @ d" + std::to_string(d);
      r.n_gen = opt.n_gen;
      r.n_depth = d;
      const std::vector<int32_t> ids = random_ids(model.config(), opt.n_gen, 13);
      for (int64_t rep = warm_tg ? 0 : -1; rep < opt.reps; ++rep) {
        auto s = session_at_depth(model, d, opt.n_gen);
        const auto t0 = Clock::now();
        for (const int32_t id : ids) s->decode(id);
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        r.peak_session_bytes = std::max(r.peak_session_bytes, s->memory_bytes());
        if (rep >= 0) r.samples_ts.push_back(static_cast<double>(opt.n_gen) / secs);
      }
      warm_tg = true;
      finish(r, opt.n_gen);
      if (res.read_bandwidth_gbs > 0)
        r.roofline_fraction =
            r.avg_ts * static_cast<double>(res.weight_bytes) / (res.read_bandwidth_gbs * 1e9);
      res.records.push_back(r);
      if (progress) progress(r);
    }
  }
  return res;
}

nlohmann::json BenchResult::to_json() const {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : records)
    arr.push_back({{"test", r.test},
                   {"backend", backend},
                   {"quant", quant},
                   {"model", model},
                   {"n_prompt", r.n_prompt},
                   {"n_gen", r.n_gen},
                   {"n_depth", r.n_depth},
                   {"n_threads", omp_get_max_threads()},
                   {"avg_ts", r.avg_ts},
                   {"stddev_ts", r.stddev_ts},
                   {"samples_ts", r.samples_ts},
                   {"avg_ms_per_token", r.avg_ms_per_token},
                   {"weight_bytes", weight_bytes},
                   {"peak_session_bytes", r.peak_session_bytes},
                   {"read_bandwidth_gbs", read_bandwidth_gbs},
                   {"roofline_fraction", r.roofline_fraction},
                   {"build", G4_VERSION}});
  return {{"records", arr}};
}

}  // namespace g4::evals
