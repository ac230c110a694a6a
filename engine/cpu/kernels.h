// Row-wise and element-wise kernels of the CPU engine (spec §2.3-§2.8), in f32. Plain loops written so the
// compiler vectorizes them (-O3); rows split among OpenMP threads, never a reduction, so results do not
// depend on the thread count.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/config.h"
#include "engine/rope.h"

namespace g4::engine::cpu {

// RMSNorm over `rows` rows of n: x · (mean(x²) + eps)^-½ · w (w empty: no scale). In place.
void rmsnorm(float* x, int64_t rows, int64_t n, const float* w, float eps);

using engine::rope_inv_freq;  // engine/rope.h, shared with the CUDA backend

// NeoX rotation of `heads` rows of D at position pos (θ = pos·inv_freq in f32).
void rope(float* x, int64_t heads, int64_t D, const float* inv_freq, int64_t pos);

// The GPT-J pairing (2i, 2i+1): not Gemma's; only the checker's fault-injection tests use it.
void rope_interleaved(float* x, int64_t heads, int64_t D, const float* inv_freq, int64_t pos);

// gate[i] = gelu_tanh(gate[i]) · up[i].
void gelu_tanh_mul(float* gate, const float* up, int64_t n);

// logits = tanh(x / cap) · cap.
void softcap(float* x, int64_t n, float cap);

}  // namespace g4::engine::cpu
