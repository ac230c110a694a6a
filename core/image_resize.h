// Antialiased bicubic resize of uint8 images, bit-compatible with PyTorch's CPU uint8 kernel
// (aten/src/ATen/native/cpu/UpSampleKernel.cpp: _compute_indices_min_size_weights_aa +
// _compute_index_ranges_int16_weights + basic_loop_aa_{horizontal,vertical}<uint8_t>), which is what
// torchvision's `resize(img_uint8, size, BICUBIC, antialias=True)` runs on CPU (spec §3.1 step 3).
//
// [assumed] The HF fast processor hands torchvision a uint8 CPU tensor and rescales by 1/255 only after
// the resize, so the uint8 kernel (int16 fixed-point weights, uint8 intermediate) is the one to match,
// not the float kernel. A processor run on GPU would take the float path and differ by about ±1 LSB.
// [assumed] The AVX2 uint8 kernel (UpSampleKernelAVXAntialias.h) gives the same bytes as the generic one.
#pragma once
#include <cstdint>
#include <vector>

namespace g4 {

// Weights for one axis, as PyTorch computes them for uint8 input.
struct AaAxisWeights {
  int64_t max_taps = 0;          // weights stored per output sample
  unsigned precision = 0;        // fixed-point bits of `weights`
  std::vector<int64_t> first;    // [out] first input index
  std::vector<int64_t> count;    // [out] number of input samples used
  std::vector<double> real;      // [out * max_taps] normalized double weights
  std::vector<int16_t> weights;  // [out * max_taps] real weights scaled by 2^precision, rounded
};

// Keys cubic kernel with a = -0.5 (the antialias variant; a = -0.75 is only used without antialias).
double keys_cubic(double x);

AaAxisWeights aa_bicubic_weights(int64_t in_size, int64_t out_size);

// rgb: row-major [height][width][channels]. Returns [out_h][out_w][channels]. Horizontal pass first,
// then vertical, each skipped when its size is unchanged (as PyTorch's separable kernel does).
std::vector<uint8_t> resize_bicubic_aa_u8(const std::vector<uint8_t>& pixels, int64_t height, int64_t width,
                                          int64_t channels, int64_t out_h, int64_t out_w);

}  // namespace g4
