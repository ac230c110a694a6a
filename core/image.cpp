// Image decoding and §3.1 preprocessing. JPEG goes through libjpeg-turbo with its defaults (ISLOW IDCT,
// fancy upsampling), which is what PIL uses, so decoded pixels match PIL; stb_image's own JPEG decoder
// would differ by a few LSB. Everything else goes through stb_image.
#include "core/image.h"

#include <jpeglib.h>
#include <stb/stb_image.h>

#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/image_resize.h"

namespace g4 {
namespace {

void check_dimensions(int64_t w, int64_t h, std::string_view name) {
  if (w <= 0 || h <= 0) fail_input(name, "image has no pixels");
  if (w > kMaxImageSide || h > kMaxImageSide || w * h > kMaxImagePixels) {
    fail_input(name, "image is " + std::to_string(w) + "x" + std::to_string(h) + "; the limit is " +
                         std::to_string(kMaxImageSide) + " px per side and " +
                         std::to_string(kMaxImagePixels / 1000000) + " MP");
  }
}

// ---- JPEG via libjpeg. libjpeg reports fatal errors through error_exit, which must not return; we
// longjmp back. Nothing with a destructor lives between setjmp and the longjmp sites.
struct JpegErr {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void jpeg_silence(j_common_ptr /*cinfo*/, int /*level*/) {}  // corrupt-data warnings are not fatal

struct JpegResult {
  unsigned char* pixels = nullptr;  // malloc'd [h][w][3]
  int64_t width = 0, height = 0;
  bool too_big = false;
  char message[JMSG_LENGTH_MAX] = {0};
};

// Returns false with result.message set on a decode error.
bool decode_jpeg_c(const unsigned char* data, size_t size, JpegResult& result) {
  jpeg_decompress_struct cinfo;
  JpegErr err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit;
  err.mgr.emit_message = jpeg_silence;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    std::free(result.pixels);
    result.pixels = nullptr;
    jpeg_destroy_decompress(&cinfo);
    std::memcpy(result.message, err.message, sizeof(result.message));
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  result.width = cinfo.image_width;
  result.height = cinfo.image_height;
  if (result.width <= 0 || result.height <= 0 || result.width > kMaxImageSide ||
      result.height > kMaxImageSide || result.width * result.height > kMaxImagePixels) {
    result.too_big = true;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  // libjpeg converts gray and YCbCr to RGB itself; CMYK/YCCK is not supported here (PIL inverts Adobe CMYK).
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t row_bytes = static_cast<size_t>(cinfo.output_width) * 3;
  result.pixels = static_cast<unsigned char*>(std::malloc(row_bytes * cinfo.output_height));
  if (result.pixels == nullptr) {
    std::strcpy(result.message, "out of memory");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = result.pixels + row_bytes * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Image decode_jpeg(const std::vector<uint8_t>& bytes, std::string_view name) {
  JpegResult r;
  if (!decode_jpeg_c(bytes.data(), bytes.size(), r)) {
    if (r.too_big) check_dimensions(r.width, r.height, name);
    fail_input(name, std::string("corrupt JPEG: ") + r.message);
  }
  Image img;
  img.width = r.width;
  img.height = r.height;
  img.rgb.assign(r.pixels, r.pixels + r.width * r.height * 3);
  std::free(r.pixels);
  return img;
}

Image decode_stb(const std::vector<uint8_t>& bytes, std::string_view name) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) fail_input(name, "image file is larger than 2 GiB");
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, comp = 0;
  // Check the header's size before decoding so a hostile header cannot make us allocate gigabytes.
  if (!stbi_info_from_memory(bytes.data(), len, &w, &h, &comp)) {
    fail_input(name, std::string("not a readable image (") + stbi_failure_reason() + ")");
  }
  check_dimensions(w, h, name);
  // req_comp = 3: stb drops alpha and replicates gray, as PIL's convert("RGB"); 16-bit keeps the high byte.
  unsigned char* px = stbi_load_from_memory(bytes.data(), len, &w, &h, &comp, 3);
  if (px == nullptr) fail_input(name, std::string("corrupt image (") + stbi_failure_reason() + ")");
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(px, px + static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  stbi_image_free(px);
  return img;
}

}  // namespace

Image decode_image(const std::vector<uint8_t>& bytes, std::string_view name) {
  if (bytes.empty()) fail_input(name, "image file is empty");
  const bool is_jpeg = bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
  return is_jpeg ? decode_jpeg(bytes, name) : decode_stb(bytes, name);
}

Image load_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input(path, "cannot open image file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode_image(bytes, path);
}

std::pair<int64_t, int64_t> image_target_size(int64_t height, int64_t width, int64_t max_soft_tokens) {
  if (max_soft_tokens != 70 && max_soft_tokens != 140 && max_soft_tokens != 280 && max_soft_tokens != 560 &&
      max_soft_tokens != 1120) {
    fail_input("--max-soft-tokens",
               "must be one of 70, 140, 280, 560, 1120 (got " + std::to_string(max_soft_tokens) + ")");
  }
  G4_CHECK(height > 0 && width > 0, "image sides must be positive");
  const int64_t max_patches = max_soft_tokens * 9;
  // Python: max_patches * 16**2 / (h * w) is a correctly rounded int/int division; the ints are exact
  // in double (< 2^53), so double division reproduces it.
  const double factor =
      std::sqrt(static_cast<double>(max_patches * 16 * 16) / static_cast<double>(height * width));
  int64_t th =
      static_cast<int64_t>(std::floor(static_cast<double>(height) * factor / kPatchSide)) * kPatchSide;
  int64_t tw =
      static_cast<int64_t>(std::floor(static_cast<double>(width) * factor / kPatchSide)) * kPatchSide;
  // Very elongated images: the short side rounds to 0 patches; give it one patch row and cap the long
  // side at the token budget.
  const int64_t cap = (max_patches / 9) * kPatchSide;
  if (th == 0) {
    th = kPatchSide;
    tw = std::min((width / height) * kPatchSide, cap);
  } else if (tw == 0) {
    tw = kPatchSide;
    th = std::min((height / width) * kPatchSide, cap);
  }
  return {th, tw};
}

ImagePatches patchify(const Image& image) {
  G4_CHECK(
      image.width % kPatchSide == 0 && image.height % kPatchSide == 0 && image.width > 0 && image.height > 0,
      "patchify needs sides that are positive multiples of 48");
  G4_CHECK(static_cast<int64_t>(image.rgb.size()) == image.width * image.height * 3, "bad image buffer");
  ImagePatches p;
  p.grid_w = image.width / kPatchSide;
  p.grid_h = image.height / kPatchSide;
  p.n = p.grid_w * p.grid_h;
  p.values.resize(static_cast<size_t>(p.n * kPatchDim));
  p.positions.reserve(static_cast<size_t>(p.n));
  for (int64_t py = 0; py < p.grid_h; ++py) {
    for (int64_t px = 0; px < p.grid_w; ++px) {
      float* dst = p.values.data() + (py * p.grid_w + px) * kPatchDim;
      for (int64_t r = 0; r < kPatchSide; ++r) {
        const uint8_t* src = image.rgb.data() + ((py * kPatchSide + r) * image.width + px * kPatchSide) * 3;
        for (int64_t k = 0; k < kPatchSide * 3; ++k) {
          // HF rescale is `float32_tensor * (1/255)`; torch's CPU mul casts the scalar to float32
          // [assumed], so x * float(1/255), not x / 255 (they differ in the last bit for some bytes).
          dst[r * kPatchSide * 3 + k] = static_cast<float>(src[k]) * (1.0f / 255.0f);
        }
      }
      p.positions.emplace_back(static_cast<int32_t>(px), static_cast<int32_t>(py));
    }
  }
  return p;
}

ImagePatches preprocess_image(const Image& image, int64_t max_soft_tokens) {
  const auto [th, tw] = image_target_size(image.height, image.width, max_soft_tokens);
  if (th == image.height && tw == image.width) return patchify(image);
  Image resized;
  resized.height = th;
  resized.width = tw;
  resized.rgb = resize_bicubic_aa_u8(image.rgb, image.height, image.width, 3, th, tw);
  return patchify(resized);
}

}  // namespace g4
