// The sampler against hand-computed distributions, a full-sort implementation written here, and binomial
// bounds on empirical frequencies (spec §5.4).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "core/error.h"
#include "engine/sampler.h"

using g4::engine::Sampler;
using g4::engine::SamplerParams;

namespace {

SamplerParams params(double temperature, int64_t top_k = 0, double top_p = 1, double min_p = 0,
                     uint64_t seed = 0) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.seed = seed;
  return p;
}

// log-probabilities 0.15, 0.5, 0.05, 0.3 at ids 0..3 (shuffled so that id order is not probability order).
std::vector<float> four_logits() {
  return {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
}

std::map<int32_t, double> as_map(const std::vector<std::pair<int32_t, double>>& d) {
  return {d.begin(), d.end()};
}

// Checks the sampler's distribution against {id: probability} written in the test.
void check_distribution(Sampler& s, const std::vector<float>& logits, const std::map<int32_t, double>& want,
                        double tol = 1e-6) {
  const auto got = as_map(s.distribution(logits));
  REQUIRE(got.size() == want.size());
  double worst = 0;  // one assertion per call: the large-vocabulary case compares 262144 entries
  int32_t worst_id = -1;
  for (const auto& [id, p] : want) {
    const auto it = got.find(id);
    const double err = it == got.end() ? INFINITY : std::abs(it->second - p);
    if (worst_id < 0 || err > worst) worst = err, worst_id = id;
  }
  INFO("worst id " << worst_id);
  CHECK(worst <= tol);
}

std::vector<float> random_logits(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// HF's warpers written the plain way: one full sort, then top-k (ties kept), top-p over the renormalized
// top-k survivors (drop a token once the mass above it reaches top_p), min-p against the max.
std::map<int32_t, double> full_sort_distribution(const std::vector<float>& logits, const SamplerParams& p) {
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  size_t n = order.size();
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < n) {
    const float kth = logits[order[static_cast<size_t>(p.top_k) - 1]];
    n = static_cast<size_t>(p.top_k);
    while (n < order.size() && logits[order[n]] == kth) ++n;
  }
  const double mx = logits[order[0]];
  std::vector<double> w(n);
  double z = 0;
  for (size_t i = 0; i < n; ++i) z += w[i] = std::exp((logits[order[i]] - mx) / p.temperature);
  size_t keep = n;
  if (p.top_p < 1) {
    double above = 0;
    for (keep = 0; keep < n && (keep == 0 || above / z < p.top_p);) above += w[keep++];
  }
  std::map<int32_t, double> out;
  double zk = 0;
  const auto kept = [&](size_t i) { return w[i] > 0 && w[i] >= p.min_p; };
  for (size_t i = 0; i < keep; ++i)
    if (kept(i)) zk += w[i];
  for (size_t i = 0; i < keep; ++i)
    if (kept(i)) out[order[i]] = w[i] / zk;
  return out;
}

// |count - N p| within 5 standard deviations of Binomial(N, p): a correct sampler fails with probability
// about 6e-7 per check.
void check_frequencies(const std::map<int32_t, int>& counts, int n, const std::map<int32_t, double>& want) {
  int total = 0;
  for (const auto& [id, c] : counts) {
    INFO("id " << id << " was drawn " << c << " times");
    CHECK(want.count(id) == 1);
    total += c;
  }
  CHECK(total == n);
  for (const auto& [id, p] : want) {
    const double expected = n * p, sigma = std::sqrt(n * p * (1 - p));
    const int c = counts.count(id) ? counts.at(id) : 0;
    INFO("id " << id << ": " << c << " draws, expected " << expected << " +- " << sigma);
    CHECK(std::abs(c - expected) <= 5 * sigma);
  }
}

}  // namespace

TEST_CASE("sampler greedy picks the argmax with the lowest id on ties", "[sampler]") {
  const std::vector<float> logits = {0.1f, 3.0f, -2.0f, 3.0f, 1.0f};
  Sampler greedy(params(0, 0, 1, 0, 123));
  for (int i = 0; i < 5; ++i) CHECK(greedy.sample(logits) == 1);
  SamplerParams p = params(0);
  p.suppress = {1};
  Sampler suppressed(p);
  CHECK(suppressed.sample(logits) == 3);
  // Greedy ignores top-k/top-p/min-p and the seed.
  Sampler greedy_filters(params(0, 3, 0.1, 0.9, 99));
  CHECK(greedy_filters.sample(logits) == 1);
  const auto d = greedy.distribution(logits);
  REQUIRE(d.size() == 1);
  CHECK(d[0].first == 1);
  CHECK(d[0].second == 1.0);
}

TEST_CASE("sampler never draws a suppressed token", "[sampler]") {
  const std::vector<float> logits = {5.0f, 0.0f, 0.5f, -1.0f, 0.25f};
  SamplerParams p = params(1.0, 0, 1, 0, 5);
  p.suppress = {0, 3, 1000};  // 1000 is past the vocabulary: ignored
  Sampler s(p);
  for (int i = 0; i < 2000; ++i) {
    const int32_t id = s.sample(logits);
    REQUIRE(id != 0);
    REQUIRE(id != 3);
  }
  const double z = 1 + std::exp(0.5) + std::exp(0.25);
  check_distribution(s, logits, {{1, 1 / z}, {2, std::exp(0.5) / z}, {4, std::exp(0.25) / z}}, 1e-12);

  // -inf logits are never drawn either; NaN or +inf logits are a bug in the model, not a choice.
  const float inf = INFINITY;
  Sampler masked(params(1.0, 0, 0.9));
  check_distribution(masked, {-inf, 0.0f, -inf, 0.0f}, {{1, 0.5}, {3, 0.5}}, 1e-12);
  CHECK_THROWS_AS(masked.sample(std::vector<float>{0.0f, NAN}), g4::InternalError);
  CHECK_THROWS_AS(masked.sample(std::vector<float>{0.0f, inf}), g4::InternalError);
  Sampler greedy(params(0));
  CHECK_THROWS_AS(greedy.sample(std::vector<float>{NAN, 0.0f}), g4::InternalError);

  p.suppress = {0, 1, 2, 3, 4};
  Sampler all(p);
  CHECK_THROWS_AS(all.sample(logits), g4::InputError);
  p.temperature = 0;
  Sampler all_greedy(p);
  CHECK_THROWS_AS(all_greedy.sample(logits), g4::InputError);
}

TEST_CASE("sampler top-k of 1 equals greedy", "[sampler]") {
  for (uint32_t seed = 0; seed < 20; ++seed) {
    const std::vector<float> logits = random_logits(1000, seed, 2.0f);
    const int32_t want =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    Sampler top1(params(1.0, 1, 1, 0, seed));
    Sampler top1_hot(params(5.0, 1, 0.99, 0, seed + 100));
    for (int step = 0; step < 5; ++step) {
      CHECK(top1.sample(logits) == want);
      CHECK(top1_hot.sample(logits) == want);
    }
  }
  // HF's top-k keeps every logit >= the k-th largest, so a tie at the edge survives.
  Sampler tie(params(1.0, 1));
  check_distribution(tie, {2.0f, 1.0f, 2.0f}, {{0, 0.5}, {2, 0.5}}, 1e-12);
}

TEST_CASE("sampler top-p and min-p keep the hand-computed sets", "[sampler]") {
  // Probabilities by id: 0: 0.15, 1: 0.5, 2: 0.05, 3: 0.3. Descending: 0.5, 0.3, 0.15, 0.05 with masses above
  // each of 0, 0.5, 0.8, 0.95; top-p keeps a token while the mass above it is < top_p.
  const std::vector<float> l = four_logits();
  const auto topp = [&](double top_p, const std::map<int32_t, double>& want) {
    INFO("top_p " << top_p);
    Sampler s(params(1.0, 0, top_p));
    check_distribution(s, l, want);
  };
  topp(0.8, {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});
  topp(0.79, {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});
  topp(0.81, {{1, 0.5 / 0.95}, {3, 0.3 / 0.95}, {0, 0.15 / 0.95}});
  topp(0.5, {{1, 1.0}});
  topp(0.51, {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});
  topp(0.1, {{1, 1.0}});
  topp(1.0, {{0, 0.15}, {1, 0.5}, {2, 0.05}, {3, 0.3}});

  // min-p keeps p >= min_p * 0.5: 0.35 -> p >= 0.175 keeps 0.5 and 0.3; 0.25 -> p >= 0.125 also keeps 0.15.
  Sampler minp35(params(1.0, 0, 1, 0.35));
  check_distribution(minp35, l, {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});
  Sampler minp25(params(1.0, 0, 1, 0.25));
  check_distribution(minp25, l, {{1, 0.5 / 0.95}, {3, 0.3 / 0.95}, {0, 0.15 / 0.95}});
  // top-p 0.95 keeps three (mass above 0.05 is 0.95), then min-p 0.35 drops 0.15.
  Sampler both(params(1.0, 0, 0.95, 0.35));
  check_distribution(both, l, {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});

  // Order: top-p sees the top-k survivors renormalized. top-k 2 leaves 0.625 and 0.375, so top-p 0.6
  // keeps only the first (without top-k the mass above 0.3 is 0.5 < 0.6 and both would stay).
  Sampler k2p6(params(1.0, 2, 0.6));
  check_distribution(k2p6, l, {{1, 1.0}});
  Sampler p6(params(1.0, 0, 0.6));
  check_distribution(p6, l, {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});

  // Temperature comes before top-p: at T = 2 the weights are sqrt(p), normalized 0.379, 0.294, 0.208,
  // 0.120, so the mass above the third is 0.672 < 0.8 and top-p 0.8 keeps three.
  const double a = std::sqrt(0.5), b = std::sqrt(0.3), c = std::sqrt(0.15);
  Sampler hot(params(2.0, 0, 0.8));
  check_distribution(hot, l, {{1, a / (a + b + c)}, {3, b / (a + b + c)}, {0, c / (a + b + c)}});
}

TEST_CASE("sampler temperature matches a hand-computed softmax", "[sampler]") {
  const std::vector<float> l = {1.0f, 2.0f, 3.0f};
  // T = 0.5: weights e^2, e^4, e^6. T = 3: e^(1/3), e^(2/3), e^1.
  const double z05 = std::exp(2.0) + std::exp(4.0) + std::exp(6.0);
  Sampler cold(params(0.5));
  check_distribution(cold, l, {{0, std::exp(2.0) / z05}, {1, std::exp(4.0) / z05}, {2, std::exp(6.0) / z05}},
                     1e-12);
  const double z3 = std::exp(1 / 3.0) + std::exp(2 / 3.0) + std::exp(1.0);
  Sampler warm(params(3.0));
  check_distribution(
      warm, l, {{0, std::exp(1 / 3.0) / z3}, {1, std::exp(2 / 3.0) / z3}, {2, std::exp(1.0) / z3}}, 1e-12);
  // A tiny temperature is greedy in effect, without overflow: at 1e-308, z = -2/1e-308 overflows to -inf.
  for (const double top_p : {1.0, 0.9}) {
    Sampler icy(params(1e-308, 0, top_p));
    check_distribution(icy, l, {{2, 1.0}}, 0);
    CHECK(icy.sample(l) == 2);
  }
}

TEST_CASE("sampler frequencies match the renormalized distribution", "[sampler]") {
  const std::vector<float> l = four_logits();
  const std::map<int32_t, double> want = {{1, 0.5 / 0.95}, {3, 0.3 / 0.95}, {0, 0.15 / 0.95}};
  constexpr int kN = 20000;
  // Across seeds (step 0 of each) and across the steps of one seed.
  std::map<int32_t, int> by_seed, by_step;
  for (int i = 0; i < kN; ++i) {
    Sampler s(params(1.0, 0, 0.95, 0, static_cast<uint64_t>(i)));
    ++by_seed[s.sample(l)];
  }
  Sampler one(params(1.0, 0, 0.95, 0, 42));
  for (int i = 0; i < kN; ++i) ++by_step[one.sample(l)];
  check_frequencies(by_seed, kN, want);
  check_frequencies(by_step, kN, want);

  // At temperature 2 without filters: weights sqrt(p).
  double z = 0;
  for (const double p : {0.15, 0.5, 0.05, 0.3}) z += std::sqrt(p);
  const std::map<int32_t, double> hot_want = {
      {0, std::sqrt(0.15) / z}, {1, std::sqrt(0.5) / z}, {2, std::sqrt(0.05) / z}, {3, std::sqrt(0.3) / z}};
  std::map<int32_t, int> hot;
  Sampler s(params(2.0, 0, 1, 0, 9));
  for (int i = 0; i < kN; ++i) ++hot[s.sample(l)];
  check_frequencies(hot, kN, hot_want);
}

TEST_CASE("sampler same seed gives the same sequence", "[sampler]") {
  std::vector<std::vector<float>> steps;
  for (uint32_t i = 0; i < 40; ++i) steps.push_back(random_logits(2000, i, 1.0f));
  const auto run = [&](uint64_t seed) {
    Sampler s(params(1.0, 64, 0.95, 0, seed));
    std::vector<int32_t> ids;
    for (const auto& l : steps) ids.push_back(s.sample(l));
    return ids;
  };
  const std::vector<int32_t> a = run(7);
  CHECK(run(7) == a);
  CHECK(run(8) != a);
  // The draw of step n depends only on (seed, n): sample_at out of order gives the same ids.
  Sampler s(params(1.0, 64, 0.95, 0, 7));
  for (size_t n = steps.size(); n-- > 0;) CHECK(s.sample_at(steps[n], n) == a[n]);
  CHECK(g4::engine::sampler_uniform(7, 3) == g4::engine::sampler_uniform(7, 3));
  CHECK(g4::engine::sampler_uniform(7, 3) != g4::engine::sampler_uniform(7, 4));
}

TEST_CASE("sampler matches a full-sort implementation on a 262144 vocabulary", "[sampler]") {
  constexpr size_t kVocab = 262144;
  const std::vector<float> peaked = random_logits(kVocab, 1, 3.0f);
  const std::vector<float> flat = random_logits(kVocab, 2, 0.05f);  // top-p 0.95 keeps most of the vocab
  const std::vector<SamplerParams> cases = {
      params(1.0, 64, 0.95),   params(1.0, 0, 0.95),       params(0.7, 0, 0.5), params(1.5, 1000, 0.999),
      params(1.0, 0, 1, 0.05), params(1.0, 64, 0.95, 0.2), params(1.0, 0, 1),   params(2.0, 100000, 0.9),
  };
  for (const auto* logits : {&peaked, &flat})
    for (const SamplerParams& p : cases) {
      INFO("T " << p.temperature << " top_k " << p.top_k << " top_p " << p.top_p << " min_p " << p.min_p
                << (logits == &flat ? " flat" : " peaked"));
      Sampler s(p);
      const auto want = full_sort_distribution(*logits, p);
      check_distribution(s, *logits, want, 1e-9);
      const int32_t id = s.sample(*logits);
      CHECK(want.count(id) == 1);
    }
}

TEST_CASE("sampler rejects invalid parameters", "[sampler]") {
  const auto bad = [](SamplerParams p) { CHECK_THROWS_AS(Sampler(std::move(p)), g4::InputError); };
  bad(params(-1));
  bad(params(std::nan("")));
  bad(params(INFINITY));
  bad(params(1, -1));
  bad(params(1, 0, 0));
  bad(params(1, 0, 1.5));
  bad(params(1, 0, std::nan("")));
  bad(params(1, 0, 1, -0.1));
  bad(params(1, 0, 1, 1.1));
  SamplerParams neg = params(1);
  neg.suppress = {-3};
  bad(neg);

  g4::GenerationConfig gc;  // 12B defaults: T 1, top-k 64, top-p 0.95
  gc.suppress_tokens = {258883, 258882};
  SamplerParams p = g4::engine::sampler_params(gc);
  CHECK(p.temperature == 1.0);
  CHECK(p.top_k == 64);
  CHECK(p.top_p == 0.95);
  CHECK(p.min_p == 0.0);
  CHECK(p.suppress == gc.suppress_tokens);
  g4::engine::SamplerOverrides o;
  o.top_k = 0;
  o.min_p = 0.1;
  o.seed = 17;
  p = g4::engine::sampler_params(gc, o);
  CHECK(p.top_k == 0);
  CHECK(p.min_p == 0.1);
  CHECK(p.seed == 17);
  gc.do_sample = false;  // greedy unless a temperature is given
  CHECK(g4::engine::sampler_params(gc).temperature == 0.0);
  o.temperature = 0.6;
  CHECK(g4::engine::sampler_params(gc, o).temperature == 0.6);
  o.top_p = 2;
  CHECK_THROWS_AS(g4::engine::sampler_params(gc, o), g4::InputError);
}
