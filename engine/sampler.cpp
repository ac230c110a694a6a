#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>

#include "core/error.h"

namespace g4::engine {
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Top-p keeps a token while the mass above it is below top_p. A mass that equals top_p up to rounding
// (0.5 + 0.3 for top_p 0.8) counts as reaching it, so the exact-fraction cases come out as the arithmetic
// says rather than by the last bit of exp().
constexpr double kTopPSlack = 1e-12;

void check_logit(float x, size_t id) {
  if (std::isnan(x) || x == std::numeric_limits<float>::infinity())
    fail_internal(__FILE__, __LINE__, "sampler: logit of token " + std::to_string(id) + " is " + num(x));
}

}  // namespace

void validate_sampler_params(const SamplerParams& p) {
  if (!(std::isfinite(p.temperature) && p.temperature >= 0))
    fail_input("sampler", "temperature " + num(p.temperature) + " must be a finite number >= 0 (0 = greedy)");
  if (!(p.top_p > 0 && p.top_p <= 1)) fail_input("sampler", "top_p " + num(p.top_p) + " must be in (0, 1]");
  if (!(p.min_p >= 0 && p.min_p <= 1)) fail_input("sampler", "min_p " + num(p.min_p) + " must be in [0, 1]");
  if (p.top_k < 0) fail_input("sampler", "top_k " + std::to_string(p.top_k) + " must be >= 0 (0 = off)");
  for (const int64_t id : p.suppress)
    if (id < 0 || id > std::numeric_limits<int32_t>::max())
      fail_input("sampler", "suppressed token id " + std::to_string(id) + " is not a valid id");
}

SamplerParams sampler_params(const GenerationConfig& gc, const SamplerOverrides& o) {
  SamplerParams p;
  p.temperature = gc.do_sample ? gc.temperature : 0.0;
  p.top_k = gc.top_k;
  p.top_p = gc.top_p;
  p.min_p = gc.min_p;
  p.suppress = gc.suppress_tokens;
  if (o.temperature) p.temperature = *o.temperature;
  if (o.top_k) p.top_k = *o.top_k;
  if (o.top_p) p.top_p = *o.top_p;
  if (o.min_p) p.min_p = *o.min_p;
  if (o.seed) p.seed = *o.seed;
  validate_sampler_params(p);
  return p;
}

double sampler_uniform(uint64_t seed, uint64_t step) {
  const uint64_t h = splitmix64(splitmix64(seed) ^ splitmix64(step ^ 0x5851F42D4C957F2Dull));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

Sampler::Sampler(SamplerParams p) : p_(std::move(p)) { validate_sampler_params(p_); }

void Sampler::prepare_mask(size_t vocab) {
  if (suppressed_.size() == vocab) return;
  suppressed_.assign(vocab, 0);
  // Ids past this model's vocabulary cannot be produced, so there is nothing to suppress.
  for (const int64_t id : p_.suppress)
    if (static_cast<uint64_t>(id) < vocab) suppressed_[static_cast<size_t>(id)] = 1;
}

int32_t Sampler::argmax(std::span<const float> logits) {
  prepare_mask(logits.size());
  int64_t best = -1;
  float best_v = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    const float x = logits[i];
    check_logit(x, i);
    if (suppressed_[i] || x == -std::numeric_limits<float>::infinity()) continue;
    if (best < 0 || x > best_v) {  // strict: the lowest id wins ties
      best = static_cast<int64_t>(i);
      best_v = x;
    }
  }
  if (best < 0) fail_input("sampler", "every token is suppressed or has logit -inf");
  return static_cast<int32_t>(best);
}

// Top-p: in descending order keep each token while the mass above it is below top_p. Only the order near
// the cut matters: the tokens are bucketed by z, everything in the buckets above the cut's bucket is kept
// in any order, and only the cut's bucket is sorted (a full sort of 262,144 tokens costs ~20 ms a step).
// Reorders cand_ so that the kept tokens come first; returns how many.
size_t Sampler::top_p_cut(double total) {
  const double needed = (p_.top_p - kTopPSlack) * total;
  const size_t n = cand_.size();
  double zmin = 0;  // z is -inf where a tiny temperature overflowed it; those go to the last bucket
  for (const Candidate& c : cand_)
    if (std::isfinite(c.z)) zmin = std::min(zmin, c.z);
  constexpr size_t kBins = 1024;
  const double scale = zmin < 0 ? static_cast<double>(kBins) / -zmin : 0.0;
  const auto bin_of = [&](double z) {
    const double b = std::isfinite(z) ? -z * scale : static_cast<double>(kBins);
    return b < static_cast<double>(kBins - 1) ? static_cast<size_t>(b) : kBins - 1;
  };
  bin_mass_.assign(kBins, 0.0);
  for (const Candidate& c : cand_) bin_mass_[bin_of(c.z)] += c.w;
  // The cut's bucket: the first whose cumulative mass reaches `needed`; the rounding of this sum differs
  // from the walk's below, which is why the walk may continue past the bucket.
  size_t cut_bin = 0;
  for (double cum = 0; cut_bin + 1 < kBins; ++cut_bin)
    if ((cum += bin_mass_[cut_bin]) >= needed) break;

  const auto desc = [](const Candidate& a, const Candidate& b) {
    return a.z > b.z || (a.z == b.z && a.id < b.id);
  };
  const auto above_end =
      std::partition(cand_.begin(), cand_.end(), [&](const Candidate& c) { return bin_of(c.z) < cut_bin; });
  const auto bin_end =
      std::partition(above_end, cand_.end(), [&](const Candidate& c) { return bin_of(c.z) == cut_bin; });
  std::sort(above_end, bin_end, desc);
  double above = 0;
  size_t cut = static_cast<size_t>(above_end - cand_.begin());
  for (size_t j = 0; j < cut; ++j) above += cand_[j].w;
  bool rest_sorted = false;
  while (cut < n && (cut == 0 || above < needed)) {
    if (cut == static_cast<size_t>(bin_end - cand_.begin()) && !rest_sorted) {
      std::sort(bin_end, cand_.end(), desc);
      rest_sorted = true;
    }
    above += cand_[cut++].w;
  }
  return cut;
}

double Sampler::filter(std::span<const float> logits) {
  prepare_mask(logits.size());
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  // One pass: validity, the max, and (with top-k) a min-heap of the k largest logits seen so far. Top-k runs
  // on the raw logits: dividing by a positive temperature keeps their order (and, in double, keeps distinct
  // floats distinct).
  const size_t k = p_.top_k > 0 ? static_cast<size_t>(p_.top_k) : 0;
  heap_.clear();
  float lmax = kNegInf;
  size_t allowed = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float x = logits[i];
    check_logit(x, i);
    if (suppressed_[i] || x == kNegInf) continue;
    ++allowed;
    lmax = std::max(lmax, x);
    if (k == 0) continue;
    if (heap_.size() < k) {
      heap_.push_back(x);
      std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    } else if (x > heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
      heap_.back() = x;
      std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    }
  }
  if (allowed == 0) fail_input("sampler", "every token is suppressed or has logit -inf");
  // Everything >= the k-th largest survives, so ties at the edge are kept (as HF does).
  const float threshold = k > 0 && heap_.size() == k ? heap_.front() : kNegInf;

  // Temperature: z = (logit - max) / T <= 0, so exp(z) never overflows and the max token has weight 1.
  cand_.clear();
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float x = logits[i];
    if (suppressed_[i] || x == kNegInf || x < threshold) continue;
    const double z = (static_cast<double>(x) - static_cast<double>(lmax)) / p_.temperature;
    const double w = std::exp(z);
    cand_.push_back({z, w, static_cast<int32_t>(i)});
    total += w;
  }
  const size_t keep = p_.top_p < 1 ? top_p_cut(total) : cand_.size();

  // Min-p: p_i >= min_p * p_max, i.e. exp(z_i) >= min_p since the max token's weight is exp(0) = 1.
  kept_.clear();
  double kept_total = 0;
  for (size_t j = 0; j < keep; ++j) {
    const double w = cand_[j].w;
    if (w == 0 || (p_.min_p > 0 && w < p_.min_p)) continue;  // weight 0: exp underflowed, never drawn
    kept_.push_back({cand_[j].id, w});
    kept_total += w;
  }
  G4_CHECK(!kept_.empty() && kept_total > 0, "the max-logit token always survives the filters");
  return kept_total;
}

int32_t Sampler::sample(std::span<const float> logits) { return sample_at(logits, step_++); }

int32_t Sampler::sample_at(std::span<const float> logits, uint64_t step) {
  if (p_.temperature == 0) return argmax(logits);
  const double total = filter(logits);
  const double target = sampler_uniform(p_.seed, step) * total;
  double cum = 0;
  for (const auto& [id, w] : kept_) {
    cum += w;
    if (target < cum) return id;
  }
  return kept_.back().first;  // the target rounded up to the very top of the total
}

std::vector<std::pair<int32_t, double>> Sampler::distribution(std::span<const float> logits) {
  if (p_.temperature == 0) return {{argmax(logits), 1.0}};
  const double total = filter(logits);
  std::vector<std::pair<int32_t, double>> out = kept_;
  for (auto& e : out) e.second /= total;
  return out;
}

}  // namespace g4::engine
