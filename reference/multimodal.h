// The encoder-free multimodal path: vision embedder (spec §3.2), audio embedder (§3.3), the scatter of soft
// tokens into the embedded sequence (§3.5) and the bidirectional vision blocks of the mask (§2.7).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "core/config.h"
#include "reference/input.h"
#include "reference/precision.h"
#include "reference/trace.h"
#include "reference/weights.h"

namespace g4::reference {

// [n, patch_dim] patches + (x, y) positions -> [n, H] soft tokens (not ×sqrt(H)).
std::vector<float> embed_image(const ModelConfig& cfg, const VisionWeights& w, const SoftTokenInput& in,
                               Precision p);
// [n, audio_embed_dim] frames -> [n, H] soft tokens.
std::vector<float> embed_audio(const ModelConfig& cfg, const AudioWeights& w, const SoftTokenInput& in,
                               Precision p);

// Replaces the rows of `h` [T, H] at image / audio placeholder ids by the media's soft tokens, in order.
// Emits vision.tokens / audio.tokens (all images, all audio clips, concatenated). InputError on count
// mismatch.
void scatter_media(const ModelConfig& cfg, const ModelWeights& w, const ForwardInput& in,
                   std::vector<float>& h, Precision p, const TraceFn* trace);

// Block id of each position: maximal runs of image/video placeholder ids get ids first_block, first_block+1,
// ...; other positions get -1.
std::vector<int64_t> vision_block_ids(const ModelConfig& cfg, std::span<const int32_t> ids,
                                      int64_t first_block);

}  // namespace g4::reference
