// Time of ONE 12B-shaped decoder layer in the reference (plain loops, bf16 mode): hidden 3840,
// intermediate 15360, a sliding layer (16 q heads, 8 kv heads of 256) and a full layer (1 kv head of 512,
// k_eq_v), seeded random weights generated in memory (~0.9 GB of floats per layer).
//   ./build/bench/bench_reference_layer --benchmark_min_time=1x     (G4_THREADS sets the thread count)
// Reports ms per call and the per-token time as a counter.
#include <benchmark/benchmark.h>

#include <random>

#include "core/config.h"
#include "core/dtype.h"
#include "reference/decoder.h"
#include "reference/ops.h"

namespace {

using namespace g4;
using namespace g4::reference;

std::vector<float> random_vec(std::mt19937& rng, int64_t n, float mean, float stddev) {
  std::normal_distribution<float> d(mean, stddev);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = round_bf16(d(rng));
  return v;
}

LayerWeights random_layer(const TextConfig& t, int64_t layer) {
  std::mt19937 rng(static_cast<uint32_t>(layer + 1));
  const int64_t H = t.hidden_size, I = t.intermediate_size, Hq = t.num_attention_heads;
  const int64_t D = t.layer_head_dim(layer), Hkv = t.layer_kv_heads(layer);
  const float s = 1.0f / 62.0f;  // ~1/sqrt(H)
  LayerWeights w;
  w.input_norm = random_vec(rng, H, 1, 0.1f);
  w.post_attn_norm = random_vec(rng, H, 0.5f, 0.1f);
  w.pre_ffn_norm = random_vec(rng, H, 1, 0.1f);
  w.post_ffn_norm = random_vec(rng, H, 0.5f, 0.1f);
  w.layer_scalar = 0.75f;
  w.q_proj = random_vec(rng, Hq * D * H, 0, s);
  w.k_proj = random_vec(rng, Hkv * D * H, 0, s);
  if (t.layer_has_v_proj(layer)) w.v_proj = random_vec(rng, Hkv * D * H, 0, s);
  w.o_proj = random_vec(rng, H * Hq * D, 0, s);
  w.q_norm = random_vec(rng, D, 0.25f, 0.02f);
  w.k_norm = random_vec(rng, D, 0.25f, 0.02f);
  w.gate_proj = random_vec(rng, I * H, 0, s);
  w.up_proj = random_vec(rng, I * H, 0, s);
  w.down_proj = random_vec(rng, H * I, 0, 1.0f / 124.0f);
  return w;
}

void BM_Layer12B(benchmark::State& state) {
  const TextConfig t = gemma4_12b_config().text;
  const int64_t layer = state.range(0);  // 0: sliding, 5: full
  const int64_t T = state.range(1);
  const LayerWeights w = random_layer(t, layer);
  const std::vector<float> inv = rope_inv_freq(t.layer_rope(layer), t.layer_head_dim(layer));
  std::mt19937 rng(99);
  const std::vector<float> h = random_vec(rng, T * t.hidden_size, 0, 1);
  const std::vector<int64_t> blocks(static_cast<size_t>(T), -1);
  for (auto _ : state) {
    KvCache cache;
    ChunkContext c;
    c.cfg = &t;
    c.layer = layer;
    c.block_of = blocks;
    c.inv_freq = inv;
    c.precision = Precision::BF16;
    auto out = decoder_layer(c, w, h, T, cache);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["threads"] = num_threads();
  state.counters["s_per_token"] = benchmark::Counter(
      static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetLabel(t.is_full(layer) ? "full layer" : "sliding layer");
}

BENCHMARK(BM_Layer12B)
    ->Args({0, 1})
    ->Args({0, 4})
    ->Args({5, 4})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
