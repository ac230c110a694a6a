// Image input for the encoder-free vision path (spec §3.1): decode -> RGB -> target size -> antialiased
// bicubic resize -> ×1/255 -> 48×48 patches with (x, y) positions. The vision embedder (§3.2) consumes
// ImagePatches::values as [n, 6912].
//
//   g4::Image img = g4::load_image("cat.png");            // InputError on a bad or oversized file
//   g4::ImagePatches p = g4::preprocess_image(img, 280);    // p.n soft tokens
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace g4 {

inline constexpr int64_t kPatchSide = 48;                              // 3×3 merged 16-px patches
inline constexpr int64_t kPatchDim = kPatchSide * kPatchSide * 3;      // 6912
inline constexpr int64_t kMaxImageSide = 16384;                        // decode bound, per side
inline constexpr int64_t kMaxImagePixels = int64_t{64} * 1000 * 1000;  // decode bound, 64 MP
inline constexpr int64_t kDefaultMaxSoftTokens = 280;

struct Image {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major [height][width][3]
};

// Decodes PNG, JPEG (libjpeg-turbo, as PIL does) or anything else stb_image reads (BMP, GIF's first
// frame, TGA, PSD, PNM). Alpha is dropped without compositing and gray is replicated, as PIL's
// convert("RGB"). Not done: EXIF orientation (HF's load_image applies exif_transpose), 16-bit gray
// (PIL's "I;16" path); see the report in image.cpp.
Image load_image(const std::string& path);
// `name` is only used in error messages.
Image decode_image(const std::vector<uint8_t>& bytes, std::string_view name);

// (th, tw) for an h×w image, per §3.1 step 2. Throws InputError for a max_soft_tokens outside
// {70, 140, 280, 560, 1120}.
std::pair<int64_t, int64_t> image_target_size(int64_t height, int64_t width, int64_t max_soft_tokens);

struct ImagePatches {
  int64_t n = 0, grid_w = 0, grid_h = 0;
  std::vector<float> values;                           // [n][6912], index (r*48 + c)*3 + ch
  std::vector<std::pair<int32_t, int32_t>> positions;  // [n] (x, y) = (column, row) in the 48-px grid
};

// Cuts an image whose sides are multiples of 48 into patches, scaling bytes by 1/255.
ImagePatches patchify(const Image& image);

// Full §3.1 pipeline: target size, resize if it changed, rescale, patchify.
ImagePatches preprocess_image(const Image& image, int64_t max_soft_tokens = kDefaultMaxSoftTokens);

}  // namespace g4
