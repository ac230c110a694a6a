// What a forward pass (reference or engine) takes: token ids, plus the media whose soft tokens replace
// placeholder ids.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace g4 {

struct SoftTokenInput {
  enum Kind { Image, Audio } kind = Image;
  // Image: n preprocessed merged patches [n, patch_dim] (spec §3.1, pixels in [0,1], (r·48+c)·3+ch order).
  // Audio: n frames [n, audio_embed_dim] of 16 kHz samples (spec §3.3).
  std::vector<float> data;
  int64_t n = 0;
  std::vector<std::pair<int32_t, int32_t>> positions;  // image only: (x, y) = (column, row) per patch
};

struct ForwardInput {
  std::vector<int32_t> ids;
  // In order of appearance. Image soft tokens fill the image placeholder ids in order, audio soft tokens the
  // audio placeholder ids (spec §3.5); the counts must match exactly.
  std::vector<SoftTokenInput> media;
};

}  // namespace g4
