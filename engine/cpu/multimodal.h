// The encoder-free multimodal path on the CPU engine (spec §3.2, §3.3, §3.5): patch and audio-frame
// embedders in f32 (small matrices, OpenBLAS sgemm) and the scatter of their soft tokens over the
// placeholder rows of the embedded sequence.
#pragma once
#include <cstdint>
#include <vector>

#include "core/config.h"
#include "core/forward_input.h"
#include "core/trace.h"
#include "engine/weights.h"

namespace g4::engine::cpu {

// Replaces the rows of h [T, H] at image / audio placeholder ids with the media's soft tokens, in order;
// emits vision.tokens / audio.tokens. InputError on a count mismatch or missing embedder weights.
void scatter_media(const ModelConfig& cfg, const EngineWeights& w, const ForwardInput& in, float* h,
                   const TraceFn* trace);

}  // namespace g4::engine::cpu
