// Antialiased bicubic uint8 resize; see image_resize.h for the PyTorch functions this follows.
#include "core/image_resize.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace g4 {

double keys_cubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
  return 0.0;
}

AaAxisWeights aa_bicubic_weights(int64_t in_size, int64_t out_size) {
  G4_CHECK(in_size > 0 && out_size > 0, "resize sizes must be positive");
  AaAxisWeights ax;
  // area_pixel_compute_scale<double>, align_corners=False, no explicit scale factor.
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  constexpr int kInterpSize = 4;  // bicubic
  // Antialias: when downsampling, the kernel is stretched by the scale factor.
  const double support = scale >= 1.0 ? (kInterpSize * 0.5) * scale : kInterpSize * 0.5;
  ax.max_taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
  ax.first.resize(static_cast<size_t>(out_size));
  ax.count.resize(static_cast<size_t>(out_size));
  ax.real.assign(static_cast<size_t>(out_size * ax.max_taps), 0.0);
  double wt_max = 0.0;
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = scale * (static_cast<double>(i) + 0.5);
    // static_cast truncates toward zero, as PyTorch's does (not floor).
    const int64_t xmin = std::max(static_cast<int64_t>(center - support + 0.5), int64_t{0});
    int64_t xsize = std::min(static_cast<int64_t>(center + support + 0.5), in_size) - xmin;
    xsize = std::clamp(xsize, int64_t{0}, ax.max_taps);
    double* w = &ax.real[static_cast<size_t>(i * ax.max_taps)];
    double total = 0.0;
    for (int64_t j = 0; j < xsize; ++j) {
      w[j] = keys_cubic((static_cast<double>(j + xmin) - center + 0.5) * invscale);
      total += w[j];
    }
    if (total != 0.0) {
      for (int64_t j = 0; j < xsize; ++j) {
        w[j] /= total;
        wt_max = std::max(wt_max, w[j]);
      }
    }
    ax.first[static_cast<size_t>(i)] = xmin;
    ax.count[static_cast<size_t>(i)] = xsize;
  }
  // Largest precision (< 22 bits) at which the largest weight still fits int16.
  unsigned p = 0;
  for (; p < 22; ++p) {
    const int next = static_cast<int>(0.5 + wt_max * static_cast<double>(1 << (p + 1)));
    if (next >= (1 << 15)) break;
  }
  G4_CHECK(p > 0, "resize weight precision must be positive");
  ax.precision = p;
  ax.weights.resize(ax.real.size());
  for (size_t k = 0; k < ax.real.size(); ++k) {
    const double v = ax.real[k] * static_cast<double>(1 << p);
    ax.weights[k] = static_cast<int16_t>(v < 0 ? static_cast<int>(-0.5 + v) : static_cast<int>(0.5 + v));
  }
  return ax;
}

namespace {

// Resamples one axis. The data is viewed as [outer][axis][inner]; `inner` is 1 row of pixels' channels
// for the horizontal pass (axis = width, inner = channels) and width*channels for the vertical pass.
std::vector<uint8_t> resample_axis(const std::vector<uint8_t>& src, int64_t outer, int64_t in_len,
                                   int64_t out_len, int64_t inner) {
  const AaAxisWeights ax = aa_bicubic_weights(in_len, out_len);
  std::vector<uint8_t> dst(static_cast<size_t>(outer * out_len * inner));
  const int rounding = 1 << (ax.precision - 1);  // the +0.5 of round-to-nearest
  for (int64_t o = 0; o < outer; ++o) {
    const uint8_t* s = src.data() + o * in_len * inner;
    uint8_t* d = dst.data() + o * out_len * inner;
    for (int64_t i = 0; i < out_len; ++i) {
      const int16_t* w = &ax.weights[static_cast<size_t>(i * ax.max_taps)];
      const int64_t first = ax.first[static_cast<size_t>(i)];
      const int64_t count = ax.count[static_cast<size_t>(i)];
      for (int64_t c = 0; c < inner; ++c) {
        int acc = rounding;
        for (int64_t j = 0; j < count; ++j) acc += static_cast<int>(s[(first + j) * inner + c]) * w[j];
        // Arithmetic shift (floor) then clamp, as basic_loop_aa_*<uint8_t>.
        d[i * inner + c] = static_cast<uint8_t>(std::clamp(acc >> ax.precision, 0, 255));
      }
    }
  }
  return dst;
}

}  // namespace

std::vector<uint8_t> resize_bicubic_aa_u8(const std::vector<uint8_t>& pixels, int64_t height, int64_t width,
                                          int64_t channels, int64_t out_h, int64_t out_w) {
  G4_CHECK(height > 0 && width > 0 && channels > 0 && out_h > 0 && out_w > 0, "bad resize shape");
  G4_CHECK(static_cast<int64_t>(pixels.size()) == height * width * channels, "pixel buffer size mismatch");
  std::vector<uint8_t> cur = pixels;
  if (out_w != width) cur = resample_axis(cur, height, width, out_w, channels);
  if (out_h != height) cur = resample_axis(cur, 1, height, out_h, out_w * channels);
  return cur;
}

}  // namespace g4
