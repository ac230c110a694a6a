// Element-wise and row-wise ops of the reference forward pass (spec §2.1-§2.8), written as plain loops.
// Every op takes the Precision mode and rounds its OUTPUT to bf16 in mode bf16 (one rounding per op, as a
// PyTorch bf16 op that computes in fp32 internally); in mode fp32 nothing is rounded.
// Determinism: reductions run in ascending index order, no FMA contraction (-ffp-contract=off for
// reference/), transcendental functions are glibc's scalar float functions (expf, tanhf, powf, sinf,
// cosf), so results do not depend on the vector width or the thread count.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/config.h"
#include "reference/precision.h"

namespace g4::reference {

// Number of worker threads for parallel_for: set_num_threads(n) if called, else the G4_THREADS environment
// variable, else the hardware concurrency. Results are bit-identical for every value (only independent
// rows are split among threads).
int num_threads();
void set_num_threads(int n);
// Calls fn(i) for i in [0, n), split into contiguous ranges over num_threads() threads.
void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

// y[t, o] = R( Σ_k x[t, k] · W[o, k]  (+ bias[o]) ), k ascending, fp32 accumulation; bias added after the
// sum. x: [T, in], W: [out, in] (PyTorch nn.Linear layout), y: [T, out].
std::vector<float> linear(std::span<const float> x, int64_t T, int64_t in, std::span<const float> W,
                          int64_t out, Precision p, std::span<const float> bias = {});

// RMSNorm over rows of length n (spec §2.3): y = x · pow(mean(x²) + eps, -0.5) · w, plain weight (not 1+w).
// An empty `w` is the no-scale variant (v_norm, multimodal pre-projection norms). In place.
void rmsnorm_rows(std::span<float> x, int64_t n, std::span<const float> w, float eps, Precision p);

// LayerNorm over rows of length n (spec §3.2): biased variance, y = (x - mean) · (1/sqrt(var + eps)) · w + b.
void layernorm_rows(std::span<float> x, int64_t n, std::span<const float> w, std::span<const float> b,
                    float eps, Precision p);

// PyTorch gelu(approximate="tanh") in fp32: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Not rounded.
float gelu_tanh(float x);

// Final logit softcap as HF does it on bf16 logits: three rounded ops, R(R(tanh(R(x / cap))) · cap).
float softcap(float x, float cap, Precision p);

// RoPE frequencies of one layer type (spec §2.6), in fp32 as HF computes them:
//   default:      inv_freq[i] = 1 / base^(2i/D), i < D/2
//   proportional: the same for i < int(partial·D // 2), 0 for the rest (exponent denominator is the full D).
std::vector<float> rope_inv_freq(const RopeParams& rope, int64_t head_dim);

// Applies NeoX RoPE in place to rows of length D (one head), all at position `pos`:
//   out = x·cos + rotate_half(x)·sin, rotate_half(x) = concat(-x[D/2:], x[:D/2]), cos/sin of θ = pos·inv_freq
// computed in fp32 and rounded to bf16 in mode bf16 (each product rounded, then the sum rounded).
void rope_row(std::span<float> x, std::span<const float> inv_freq, int64_t pos, Precision p);

}  // namespace g4::reference
