#include "engine/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace g4::engine::cpu {
namespace {

// Keys per split when one query row is spread over threads (decode): a fixed size, so the summation order,
// and so the result, does not depend on the thread count.
constexpr int64_t kKeySplit = 256;

inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Softmax-weighted sum over keys [a, b] for the G query heads of one kv head: writes the running max m[g],
// the sum of exponentials l[g] and the unnormalized output acc[g][D].
void attend_range(const float* q /*[G, D]*/, int64_t G, int64_t D, int64_t kvh, int64_t Hkv,
                  const LayerKvCache& c, int64_t a, int64_t b, float* scores, float* m, float* l,
                  float* acc) {
  const int64_t n = b - a + 1;
  for (int64_t j = 0; j < n; ++j) {
    const float* kj = c.k(a + j) + kvh * D;
    for (int64_t g = 0; g < G; ++g) scores[g * n + j] = dot(q + g * D, kj, D);
  }
  for (int64_t g = 0; g < G; ++g) {
    float* s = scores + g * n;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, s[j]);
    float sum = 0.f;
    for (int64_t j = 0; j < n; ++j) {
      s[j] = std::exp(s[j] - mx);
      sum += s[j];
    }
    m[g] = mx;
    l[g] = sum;
    std::fill(acc + g * D, acc + (g + 1) * D, 0.f);
  }
  (void)Hkv;
  for (int64_t j = 0; j < n; ++j) {
    const float* vj = c.v(a + j) + kvh * D;
    for (int64_t g = 0; g < G; ++g) {
      const float p = scores[g * n + j];
      float* o = acc + g * D;
#pragma omp simd
      for (int64_t d = 0; d < D; ++d) o[d] += p * vj[d];
    }
  }
}

}  // namespace

KeyRange visible_keys(int64_t i, int64_t window, int64_t block_lo, int64_t block_hi) {
  KeyRange r{window > 0 ? std::max<int64_t>(0, i - window + 1) : 0, i};
  if (block_lo >= 0) {
    r.lo = std::min(r.lo, block_lo);
    r.hi = std::max(r.hi, block_hi);
  }
  return r;
}

void attention(const AttentionShape& s, const float* q, const LayerKvCache& cache,
               std::span<const std::pair<int64_t, int64_t>> blocks, float* o, AttentionScratch& scratch) {
  const int64_t G = s.Hq / s.Hkv, D = s.D;
  G4_CHECK(s.Hkv > 0 && s.Hq % s.Hkv == 0 && static_cast<int64_t>(blocks.size()) == s.T, "attention: shape");
  auto range_of = [&](int64_t t) {
    const auto [blo, bhi] = blocks[static_cast<size_t>(t)];
    KeyRange r = visible_keys(s.pos0 + t, s.window, blo, bhi);
    G4_CHECK(r.lo >= cache.first_kept() && r.hi < cache.len(), "attention: key range outside the cache");
    return r;
  };
  const int nthreads = omp_get_max_threads();

  if (s.T > 4) {
    // Prefill: one task per (query, kv head), all its keys in one pass.
    int64_t max_n = 0;
    for (int64_t t = 0; t < s.T; ++t) {
      const KeyRange r = range_of(t);
      max_n = std::max(max_n, r.hi - r.lo + 1);
    }
    const size_t per_thread = static_cast<size_t>(G * max_n + 2 * G + G * D);
    scratch.scores.resize(per_thread * static_cast<size_t>(nthreads));
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t task = 0; task < s.T * s.Hkv; ++task) {
      const int64_t t = task / s.Hkv, kvh = task % s.Hkv;
      float* buf = scratch.scores.data() + per_thread * static_cast<size_t>(omp_get_thread_num());
      float *m = buf + G * max_n, *l = m + G, *acc = l + G;
      const KeyRange r = range_of(t);
      attend_range(q + (t * s.Hq + kvh * G) * D, G, D, kvh, s.Hkv, cache, r.lo, r.hi, buf, m, l, acc);
      for (int64_t g = 0; g < G; ++g) {
        float* out = o + (t * s.Hq + kvh * G + g) * D;
        const float inv = 1.0f / l[g];
        for (int64_t d = 0; d < D; ++d) out[d] = acc[g * D + d] * inv;
      }
    }
    return;
  }

  // Decode (few queries, long context): split each query's keys into fixed chunks, then merge
  // (flash-decoding).
  std::vector<AttentionJob>& jobs = scratch.jobs;  // T·Hkv·(keys/256)
  std::vector<size_t>& first_job = scratch.first_job;
  jobs.clear();
  first_job.clear();
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t kvh = 0; kvh < s.Hkv; ++kvh) {
      first_job.push_back(jobs.size());
      const KeyRange r = range_of(t);
      for (int64_t a = r.lo; a <= r.hi; a += kKeySplit)
        jobs.push_back({t, kvh, a, std::min(r.hi, a + kKeySplit - 1)});
    }
  first_job.push_back(jobs.size());
  const size_t per_job = static_cast<size_t>(2 * G + G * D);
  scratch.partial.resize(per_job * jobs.size());
  scratch.scores.resize(static_cast<size_t>(G * kKeySplit) * static_cast<size_t>(nthreads));
#pragma omp parallel for schedule(static)
  for (size_t jb = 0; jb < jobs.size(); ++jb) {
    const AttentionJob& J = jobs[jb];
    float* res = scratch.partial.data() + per_job * jb;
    float* sc = scratch.scores.data() +
                static_cast<size_t>(G * kKeySplit) * static_cast<size_t>(omp_get_thread_num());
    attend_range(q + (J.t * s.Hq + J.kvh * G) * D, G, D, J.kvh, s.Hkv, cache, J.a, J.b, sc, res, res + G,
                 res + 2 * G);
  }
  for (size_t row = 0; row + 1 < first_job.size(); ++row) {
    const int64_t t = static_cast<int64_t>(row) / s.Hkv, kvh = static_cast<int64_t>(row) % s.Hkv;
    for (int64_t g = 0; g < G; ++g) {
      float mx = -std::numeric_limits<float>::infinity();
      for (size_t jb = first_job[row]; jb < first_job[row + 1]; ++jb)
        mx = std::max(mx, scratch.partial[per_job * jb + static_cast<size_t>(g)]);
      float* out = o + (t * s.Hq + kvh * G + g) * D;
      std::fill(out, out + D, 0.f);
      float l = 0.f;
      for (size_t jb = first_job[row]; jb < first_job[row + 1]; ++jb) {
        const float* res = scratch.partial.data() + per_job * jb;
        const float w = std::exp(res[g] - mx);
        l += res[G + g] * w;
        const float* acc = res + 2 * G + g * D;
        for (int64_t d = 0; d < D; ++d) out[d] += acc[d] * w;
      }
      const float inv = 1.0f / l;
      for (int64_t d = 0; d < D; ++d) out[d] *= inv;
    }
  }
}

}  // namespace g4::engine::cpu
