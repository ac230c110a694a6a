// Tests for image decoding, §3.1 target size, antialiased bicubic resize and patchify.
// Run: ./build-NAME/tests/g4eval_tests "[image]"
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/image.h"
#include "core/image_resize.h"

namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  fs::path dir = fs::temp_directory_path() / ("g4_test_image_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Expects an InputError whose one-line message names `file`.
void require_input_error_naming(const std::string& file) {
  try {
    g4::load_image(file);
    FAIL("no error for " << file);
  } catch (const g4::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(file) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

// Straightforward double-precision 2-D antialiased bicubic (PIL/PyTorch filter, no fixed point, no
// intermediate rounding): an independent model of what the uint8 kernel approximates.
double reference_pixel(const std::vector<uint8_t>& src, int64_t h, int64_t w, int64_t oy, int64_t ox,
                       int64_t out_h, int64_t out_w) {
  auto axis = [](int64_t in, int64_t out, int64_t o, std::vector<std::pair<int64_t, double>>& taps) {
    const double scale = double(in) / double(out), fs_ = std::max(scale, 1.0), center = (o + 0.5) * scale;
    double total = 0;
    for (int64_t j = 0; j < in; ++j) {
      const double t = std::abs((j + 0.5 - center) / fs_);
      const double v = t < 1   ? 1.5 * t * t * t - 2.5 * t * t + 1
                       : t < 2 ? -0.5 * t * t * t + 2.5 * t * t - 4 * t + 2
                               : 0;
      if (v != 0) taps.emplace_back(j, v), total += v;
    }
    for (auto& tp : taps) tp.second /= total;
  };
  std::vector<std::pair<int64_t, double>> ty, tx;
  axis(h, out_h, oy, ty);
  axis(w, out_w, ox, tx);
  double acc = 0;
  for (auto [y, wy] : ty)
    for (auto [x, wx] : tx) acc += wy * wx * src[static_cast<size_t>(y * w + x)];
  return acc;
}

}  // namespace

TEST_CASE("image_target_size follows spec 3.1", "[image]") {
  // Square: factor = sqrt(2520*256/1e6) = 0.80319; 1000*0.80319/48 = 16.73 -> 16*48 = 768 -> 256 tokens.
  CHECK(g4::image_target_size(1000, 1000, 280) == std::pair<int64_t, int64_t>{768, 768});
  // Small squares are upscaled to the same size: 50*sqrt(645120/2500)/48 = 16.73.
  CHECK(g4::image_target_size(50, 50, 280) == std::pair<int64_t, int64_t>{768, 768});
  // 100 (h) x 1000 (w): factor = sqrt(645120/100000) = 2.539921; 253.99/48 = 5.29 -> 240;
  // 2539.92/48 = 52.9 -> 2496. 5*52 = 260 tokens.
  CHECK(g4::image_target_size(100, 1000, 280) == std::pair<int64_t, int64_t>{240, 2496});
  CHECK(g4::image_target_size(1000, 100, 280) == std::pair<int64_t, int64_t>{2496, 240});
  // Zero-side rule: 10 x 10000: 10*2.54/48 = 0.53 -> 0 -> 48; other = min(1000*48, 280*48) = 13440.
  CHECK(g4::image_target_size(10, 10000, 280) == std::pair<int64_t, int64_t>{48, 13440});
  CHECK(g4::image_target_size(10000, 10, 280) == std::pair<int64_t, int64_t>{13440, 48});
  // budget 70: 1 x 100: factor = sqrt(630*256/100) = 40.16 -> 0 -> 48; min(100*48, 70*48) = 3360.
  CHECK(g4::image_target_size(1, 100, 70) == std::pair<int64_t, int64_t>{48, 3360});
  CHECK_THROWS_AS(g4::image_target_size(100, 100, 300), g4::InputError);

  // Invariant: sides are multiples of 48 and th*tw <= H*W*factor^2 = budget*48^2.
  std::mt19937 rng(7);
  for (int64_t budget : {70, 140, 280, 560, 1120}) {
    for (int k = 0; k < 300; ++k) {
      const int64_t h = 1 + rng() % 6000, w = 1 + rng() % 6000;
      const auto [th, tw] = g4::image_target_size(h, w, budget);
      INFO(h << "x" << w << " budget " << budget);
      REQUIRE(th % 48 == 0);
      REQUIRE(tw % 48 == 0);
      REQUIRE(th >= 48);
      REQUIRE(tw >= 48);
      REQUIRE((th / 48) * (tw / 48) <= budget);
    }
  }
}

TEST_CASE("bicubic AA weights / 4 -> 2 / worked by hand", "[image]") {
  // scale = 2, support = 2*2 = 4. Output 0: center = 1, taps 0..3 at (j - 1 + 0.5)/2 = -0.25, 0.25, 0.75,
  // 1.25. Keys a=-0.5: k(0.25) = 111/128, k(0.75) = 29/128, k(1.25) = -9/128; sum 242/128.
  const g4::AaAxisWeights ax = g4::aa_bicubic_weights(4, 2);
  REQUIRE(ax.count[0] == 4);
  REQUIRE(ax.first[0] == 0);
  const double expect0[] = {111.0 / 242, 111.0 / 242, 29.0 / 242, -9.0 / 242};
  for (int j = 0; j < 4; ++j) CHECK(ax.real[j] == Approx(expect0[j]).epsilon(1e-12));
  // Output 1 mirrors it.
  for (int j = 0; j < 4; ++j) CHECK(ax.real[ax.max_taps + j] == Approx(expect0[3 - j]).epsilon(1e-12));
  // Precision: largest p with round(111/242 * 2^(p+1)) < 2^15 -> 2^16*0.4587 = 30062 fits, 2^17 doesn't.
  CHECK(ax.precision == 16);

  // Pixels [0, 100, 200, 255] (width 4, height 1):
  //   out0 = (111*0 + 111*100 + 29*200 - 9*255)/242 = 14605/242 = 60.35 -> 60
  //   out1 = (-9*0 + 29*100 + 111*200 + 111*255)/242 = 53405/242 = 220.68 -> 221
  const std::vector<uint8_t> row = {0, 100, 200, 255};
  CHECK(g4::resize_bicubic_aa_u8(row, 1, 4, 1, 1, 2) == std::vector<uint8_t>{60, 221});
  // The same along the vertical axis (4 rows, 1 column).
  CHECK(g4::resize_bicubic_aa_u8(row, 4, 1, 1, 2, 1) == std::vector<uint8_t>{60, 221});
}

TEST_CASE("bicubic AA upsample 2 -> 4 / worked by hand", "[image]") {
  // scale = 0.5, support 2, no stretching. Centers 0.25, 0.75, 1.25, 1.75 (only taps 0 and 1 exist):
  //   out0: k(0.25)=111, k(1.25)=-9 (/128) -> (111*100 - 9*202)/102 = 91.0
  //   out1: k(-0.25)=111, k(0.75)=29      -> (111*100 + 29*202)/140 = 121.1 -> 121
  //   out2, out3 mirror: (29*100 + 111*202)/140 = 180.9 -> 181; (-9*100 + 111*202)/102 = 211.0
  const std::vector<uint8_t> row = {100, 202};
  CHECK(g4::resize_bicubic_aa_u8(row, 1, 2, 1, 1, 4) == std::vector<uint8_t>{91, 121, 181, 211});
}

TEST_CASE("resize keeps identity and constant images", "[image]") {
  std::vector<uint8_t> img(5 * 7 * 3);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 37 % 256);
  CHECK(g4::resize_bicubic_aa_u8(img, 5, 7, 3, 5, 7) == img);
  for (uint8_t c : {uint8_t{0}, uint8_t{1}, uint8_t{137}, uint8_t{255}}) {
    const std::vector<uint8_t> flat(37 * 23 * 3, c);
    for (auto [oh, ow] : {std::pair<int64_t, int64_t>{96, 48}, {5, 3}, {37, 100}, {1, 1}}) {
      INFO("value " << int(c) << " -> " << oh << "x" << ow);
      CHECK(g4::resize_bicubic_aa_u8(flat, 37, 23, 3, oh, ow) == std::vector<uint8_t>(oh * ow * 3, c));
    }
  }
}

TEST_CASE("uint8 resize stays within 2 LSB of a double-precision 2-D resize", "[image]") {
  // Values kept in [40, 215] so no overshoot is clamped; the bound is the separable pass's uint8
  // intermediate (±0.5 × Σ|w| ≈ 0.6) plus the final rounding (0.5) plus int16 weight rounding.
  std::mt19937 rng(3);
  const int64_t h = 29, w = 41;
  std::vector<uint8_t> src(static_cast<size_t>(h * w));
  for (auto& v : src) v = static_cast<uint8_t>(40 + rng() % 176);
  for (auto [oh, ow] : {std::pair<int64_t, int64_t>{11, 17}, {48, 96}, {29, 13}, {60, 41}}) {
    const auto out = g4::resize_bicubic_aa_u8(src, h, w, 1, oh, ow);
    double worst = 0;
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x)
        worst = std::max(
            worst, std::abs(out[static_cast<size_t>(y * ow + x)] - reference_pixel(src, h, w, y, x, oh, ow)));
    INFO(oh << "x" << ow << " worst " << worst);
    CHECK(worst <= 2.0);
  }
}

TEST_CASE("patchify puts pixel (r/c) of patch (x/y) at (r*48+c)*3+ch", "[image]") {
  g4::Image img;
  img.height = 96;  // 2 patch rows
  img.width = 144;  // 3 patch columns
  img.rgb.resize(96 * 144 * 3);
  auto f = [](int64_t y, int64_t x, int64_t ch) {
    return static_cast<uint8_t>((y * 7 + x * 13 + ch * 101) % 256);
  };
  for (int64_t y = 0; y < 96; ++y)
    for (int64_t x = 0; x < 144; ++x)
      for (int64_t ch = 0; ch < 3; ++ch) img.rgb[(y * 144 + x) * 3 + ch] = f(y, x, ch);
  const g4::ImagePatches p = g4::patchify(img);
  REQUIRE(p.n == 6);
  REQUIRE(p.grid_w == 3);
  REQUIRE(p.grid_h == 2);
  REQUIRE(p.values.size() == 6u * 6912u);
  const std::vector<std::pair<int32_t, int32_t>> pos = {{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}, {2, 1}};
  CHECK(p.positions == pos);
  int bad = 0;
  for (int64_t py = 0; py < 2; ++py)
    for (int64_t px = 0; px < 3; ++px)
      for (int64_t r = 0; r < 48; ++r)
        for (int64_t c = 0; c < 48; ++c)
          for (int64_t ch = 0; ch < 3; ++ch) {
            const float got = p.values[(py * 3 + px) * 6912 + (r * 48 + c) * 3 + ch];
            const float want = static_cast<float>(f(py * 48 + r, px * 48 + c, ch)) / 255.0f;
            bad += std::abs(got - want) > 1e-7f;
          }
  CHECK(bad == 0);
  // Rescale endpoints.
  img.rgb.assign(img.rgb.size(), 255);
  CHECK(g4::patchify(img).values[6911] == 1.0f);
}

TEST_CASE("preprocess_image: no resize at target size / token counts", "[image]") {
  g4::Image sq{768, 768, std::vector<uint8_t>(768 * 768 * 3)};
  for (size_t i = 0; i < sq.rgb.size(); ++i) sq.rgb[i] = static_cast<uint8_t>(i % 251);
  const auto p = g4::preprocess_image(sq, 280);
  CHECK(p.n == 256);
  CHECK(p.values == g4::patchify(sq).values);  // already 768x768: untouched
  g4::Image wide{1000, 100, std::vector<uint8_t>(1000 * 100 * 3, 9)};
  const auto q = g4::preprocess_image(wide, 280);
  CHECK(q.grid_w == 52);
  CHECK(q.grid_h == 5);
  CHECK(q.n == 260);
  CHECK(q.values.front() == 9.0f / 255.0f);
}

TEST_CASE("load_image decodes PNG and JPEG to RGB", "[image]") {
  const fs::path dir = temp_dir();
  // RGB PNG, 3x2, known pixels back exactly.
  const std::vector<uint8_t> rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3, 100, 150, 200, 7, 8, 9};
  const std::string rgb_png = (dir / "rgb.png").string();
  REQUIRE(stbi_write_png(rgb_png.c_str(), 3, 2, 3, rgb.data(), 3 * 3));
  const g4::Image a = g4::load_image(rgb_png);
  CHECK(a.width == 3);
  CHECK(a.height == 2);
  CHECK(a.rgb == rgb);

  // RGBA: alpha is dropped, not composited (a fully transparent pixel keeps its colour).
  const std::vector<uint8_t> rgba = {10, 20, 30, 0, 40, 50, 60, 128};
  const std::string rgba_png = (dir / "rgba.png").string();
  REQUIRE(stbi_write_png(rgba_png.c_str(), 2, 1, 4, rgba.data(), 2 * 4));
  CHECK(g4::load_image(rgba_png).rgb == std::vector<uint8_t>{10, 20, 30, 40, 50, 60});

  // Gray: replicated to three channels.
  const std::vector<uint8_t> gray = {0, 77, 255};
  const std::string gray_png = (dir / "gray.png").string();
  REQUIRE(stbi_write_png(gray_png.c_str(), 3, 1, 1, gray.data(), 3));
  CHECK(g4::load_image(gray_png).rgb == std::vector<uint8_t>{0, 0, 0, 77, 77, 77, 255, 255, 255});

  // JPEG (libjpeg path): a flat colour survives lossy coding within a few LSB.
  const std::vector<uint8_t> flat(16 * 8 * 3, 0);
  std::vector<uint8_t> colour(flat.size());
  for (size_t i = 0; i < colour.size(); i += 3) colour[i] = 200, colour[i + 1] = 60, colour[i + 2] = 120;
  const std::string jpg = (dir / "flat.jpg").string();
  REQUIRE(stbi_write_jpg(jpg.c_str(), 16, 8, 3, colour.data(), 100));
  const g4::Image j = g4::load_image(jpg);
  REQUIRE(j.width == 16);
  REQUIRE(j.height == 8);
  int worst = 0;
  for (size_t i = 0; i < colour.size(); ++i)
    worst = std::max(worst, std::abs(int(j.rgb[i]) - int(colour[i])));
  CHECK(worst <= 4);
  fs::remove_all(dir);
}

TEST_CASE("load_image rejects bad files with one line naming the file", "[image]") {
  const fs::path dir = temp_dir();
  require_input_error_naming((dir / "missing.png").string());
  const fs::path empty = dir / "empty.png";
  write_bytes(empty, {});
  require_input_error_naming(empty.string());
  const fs::path junk = dir / "junk.png";
  write_bytes(junk, {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  require_input_error_naming(junk.string());

  // Truncated PNG and JPEG: the first half of valid files.
  std::vector<uint8_t> px(32 * 32 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 31);
  const std::string png = (dir / "full.png").string(), jpg = (dir / "full.jpg").string();
  REQUIRE(stbi_write_png(png.c_str(), 32, 32, 3, px.data(), 32 * 3));
  REQUIRE(stbi_write_jpg(jpg.c_str(), 32, 32, 3, px.data(), 90));
  for (const std::string& full : {png, jpg}) {
    auto bytes = read_bytes(full);
    bytes.resize(bytes.size() / 2);
    const fs::path cut = dir / ("cut_" + fs::path(full).filename().string());
    write_bytes(cut, bytes);
    // libjpeg pads a truncated scan with grey and only warns, as PIL with LOAD_TRUNCATED_IMAGES would;
    // a cut inside the headers must still fail.
    if (full == jpg) bytes.resize(20), write_bytes(cut, bytes);
    require_input_error_naming(cut.string());
  }

  // Oversized: 20000 px wide (limit 16384 per side); rejected from the header before decoding.
  const std::vector<uint8_t> wide(20000, 0);
  const std::string big = (dir / "wide.png").string();
  REQUIRE(stbi_write_png(big.c_str(), 20000, 1, 1, wide.data(), 20000));
  try {
    g4::load_image(big);
    FAIL("oversized image accepted");
  } catch (const g4::InputError& e) {
    CHECK(std::string(e.what()).find("20000x1") != std::string::npos);
  }
  fs::remove_all(dir);
}
