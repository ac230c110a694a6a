// Next-token sampling in HF's processor order (spec §5.4): suppress tokens (-> -inf), temperature, top-k,
// top-p, min-p, then a draw from the renormalized distribution. Temperature 0 is greedy: the argmax of the
// unsuppressed logits, the lowest id on ties.
//
// Reproducible: the uniform number of step n is a hash of (seed, n) alone (counter-based, no RNG state to
// carry), and the softmax, cumulative sums and the draw run in double in a fixed order on one thread, so
// the same logits, seed and step give the same id at any thread count, batch size or vector width.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/config.h"

namespace g4::engine {

struct SamplerParams {
  double temperature = 1.0;  // 0: greedy
  double top_p = 1.0;        // 1: off
  double min_p = 0.0;        // 0: off
  int64_t top_k = 0;         // 0: off
  std::vector<int64_t> suppress;
  uint64_t seed = 0;
};

// What a user may override on top of generation_config.json.
struct SamplerOverrides {
  std::optional<double> temperature, top_p, min_p;
  std::optional<int64_t> top_k;
  std::optional<uint64_t> seed;
};

// generation_config's values with the overrides applied; do_sample false means greedy unless a temperature
// is given. Validated (see validate_sampler_params).
SamplerParams sampler_params(const GenerationConfig& gc, const SamplerOverrides& overrides = {});

// InputError naming "sampler" for temperature < 0 (or not finite), top_p outside (0, 1], min_p outside
// [0, 1], top_k < 0 or a negative suppressed id.
void validate_sampler_params(const SamplerParams& p);

// The uniform number in [0, 1) that step `step` of a sampler seeded with `seed` draws with (53 bits).
double sampler_uniform(uint64_t seed, uint64_t step);

class Sampler {
 public:
  explicit Sampler(SamplerParams p);  // validates

  // Picks the next id from logits [V] with the current step's number, then advances the step.
  int32_t sample(std::span<const float> logits);
  // The same with an explicit step; does not advance.
  int32_t sample_at(std::span<const float> logits, uint64_t step);

  // The distribution sample() draws from: (id, probability) of every token that survives the filters, in
  // the order the draw walks them (fixed by the logits and parameters). Greedy: the argmax with
  // probability 1.
  std::vector<std::pair<int32_t, double>> distribution(std::span<const float> logits);

  uint64_t step() const { return step_; }
  void set_step(uint64_t s) { step_ = s; }
  const SamplerParams& params() const { return p_; }

 private:
  struct Candidate {
    double z;  // (logit - max logit) / temperature, <= 0
    double w;  // exp(z), the unnormalized probability
    int32_t id;
  };
  int32_t argmax(std::span<const float> logits);
  // Leaves the surviving tokens in kept_ (weights exp(z)) and returns their total weight.
  double filter(std::span<const float> logits);
  size_t top_p_cut(double total);
  void prepare_mask(size_t vocab);

  SamplerParams p_;
  uint64_t step_ = 0;
  std::vector<uint8_t> suppressed_;  // per id, sized to the vocabulary on first use
  std::vector<Candidate> cand_;      // scratch, reused across steps
  std::vector<std::pair<int32_t, double>> kept_;
  std::vector<float> heap_;
  std::vector<double> bin_mass_;
};

}  // namespace g4::engine
