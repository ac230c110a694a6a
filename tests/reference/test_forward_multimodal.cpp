// `g4eval forward --chat` end to end with an image and an audio clip on the make-tiny checkpoint (which has
// vision and audio weights): the soft-token counts follow spec §3.1 / §3.3 computed here by hand, the
// placeholders are bracketed as §3.5 says, the soft tokens land in the embedding rows of their
// placeholders, and everything is finite. A chat naming a missing image exits 2 with one line naming it.
#include <sndfile.h>
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/chat_messages.h"
#include "core/chat_template.h"
#include "core/safetensors.h"
#include "core/tokenizer.h"
#include "tests/test_util.h"

using namespace g4;

namespace {

namespace fs = std::filesystem;

constexpr int32_t kBoi = 255999, kImage = 258880, kEoi = 258882;  // <|image>, <|image|>, <image|>
constexpr int32_t kBoa = 256000, kAudio = 258881, kEoa = 258883;  // <|audio>, <|audio|>, <audio|>
constexpr int kImgW = 100, kImgH = 60;
constexpr int kAudioSamples = 16100;  // 1.00625 s at 16 kHz: the last 640-sample frame is partial

// Runs the binary; stdout and stderr go to files in `dir`. Returns the exit status.
int run_g4eval(const std::string& args, const fs::path& dir) {
  const std::string cmd = std::string(G4_BINARY_PATH) + " " + args + " >" + (dir / "stdout.txt").string() +
                          " 2>" + (dir / "stderr.txt").string();
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_png(const fs::path& p) {
  std::vector<uint8_t> rgb(static_cast<size_t>(kImgW * kImgH * 3));
  for (int y = 0; y < kImgH; ++y)
    for (int x = 0; x < kImgW; ++x) {
      uint8_t* px = &rgb[static_cast<size_t>((y * kImgW + x) * 3)];
      px[0] = static_cast<uint8_t>(x * 255 / (kImgW - 1));  // horizontal ramp
      px[1] = static_cast<uint8_t>(y * 255 / (kImgH - 1));  // vertical ramp
      px[2] = static_cast<uint8_t>(((x / 10 + y / 10) % 2) * 200);
    }
  REQUIRE(stbi_write_png(p.c_str(), kImgW, kImgH, 3, rgb.data(), kImgW * 3) != 0);
}

void write_wav(const fs::path& p) {
  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
  REQUIRE(f != nullptr);
  std::vector<float> s(kAudioSamples);
  for (int i = 0; i < kAudioSamples; ++i) s[static_cast<size_t>(i)] = 0.3f * std::sin(0.05f * float(i));
  REQUIRE(sf_write_float(f, s.data(), kAudioSamples) == kAudioSamples);
  sf_close(f);
}

// Spec §3.1 step 2 for max_soft_tokens 280, written out independently of core/image.cpp.
int64_t image_soft_tokens(int64_t h, int64_t w) {
  const double max_patches = 280.0 * 9;
  const double factor = std::sqrt(max_patches * 16 * 16 / double(h * w));
  const int64_t th = int64_t(std::floor(double(h) * factor / 48)) * 48;
  const int64_t tw = int64_t(std::floor(double(w) * factor / 48)) * 48;
  REQUIRE(th > 0);
  REQUIRE(tw > 0);  // neither side collapses for 100×60, so the 0-side rule does not apply
  return (th / 48) * (tw / 48);
}

// Index of the first occurrence of `id`, or -1.
int64_t find_id(const std::vector<int32_t>& ids, int32_t id) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == id) return int64_t(i);
  return -1;
}

// Checks ids = ... open, n × soft, close ... with no other soft id anywhere; returns the first soft index.
int64_t check_bracketed(const std::vector<int32_t>& ids, int32_t open, int32_t soft, int32_t close,
                        int64_t n) {
  const int64_t b = find_id(ids, open);
  REQUIRE(b >= 0);
  REQUIRE(b + n + 1 < int64_t(ids.size()));
  for (int64_t i = 1; i <= n; ++i) CHECK(ids[size_t(b + i)] == soft);
  CHECK(ids[size_t(b + n + 1)] == close);
  CHECK(std::count(ids.begin(), ids.end(), soft) == n);
  return b + 1;
}

void check_finite(const TensorView& t) {
  INFO(t.name);
  const std::vector<float> v = to_f32(t);
  size_t bad = 0;
  for (const float x : v) bad += !std::isfinite(x);
  CHECK(bad == 0);
}

// Row `r` of a [rows, H] tensor.
std::vector<float> row(const std::vector<float>& v, int64_t H, int64_t r) {
  return {v.begin() + r * H, v.begin() + (r + 1) * H};
}

}  // namespace

TEST_CASE("g4eval forward --chat with an image and audio on the tiny checkpoint", "[reference][multimodal]") {
  g4::testing::require_gemma_vocab();  // make-tiny needs the npm vocabulary
  const fs::path dir = fs::temp_directory_path() / ("g4_ref_mm_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path model = dir / "model";
  REQUIRE(run_g4eval("make-tiny --out " + model.string(), dir) == 0);
  write_png(dir / "img.png");
  write_wav(dir / "clip.wav");
  std::ofstream(dir / "chat.json") << R"({"messages": [{"role": "user", "content": [
      {"type": "text", "text": "What do you see and hear?"},
      {"type": "image", "path": "img.png"},
      {"type": "audio", "path": "clip.wav"}]}]})";

  // §3.1: factor = sqrt(2520·256 / (60·100)) = 10.369…, th = floor(622.2/48)·48 = 576,
  // tw = floor(1036.9/48)·48 = 1008, so 12 × 21 = 252 soft tokens. §3.3: ceil(16100 / 640) = 26 frames.
  const int64_t n_image = image_soft_tokens(kImgH, kImgW);
  REQUIRE(n_image == 252);
  const int64_t n_audio = (kAudioSamples + 639) / 640;
  REQUIRE(n_audio == 26);

  // The ids the chat must render to, given those counts (the template and tokenizer are tested elsewhere).
  ChatRequest req = load_chat_file(dir / "chat.json");
  REQUIRE(req.messages.size() == 1);
  REQUIRE(req.messages[0].content.size() == 3);
  req.messages[0].content[1].n_soft_tokens = n_image;
  req.messages[0].content[2].n_soft_tokens = n_audio;
  const std::vector<int32_t> ids =
      tokenize_chat(*Tokenizer::load_dir(model), render_chat(req.messages, TemplateOptions{}));
  const int64_t first_image = check_bracketed(ids, kBoi, kImage, kEoi, n_image);
  const int64_t first_audio = check_bracketed(ids, kBoa, kAudio, kEoa, n_audio);
  CHECK(first_image < first_audio);  // content order is kept

  const fs::path out = dir / "out.safetensors";
  const std::string forward = "forward --model " + model.string() + " --backend reference --precision bf16";
  const int rc = run_g4eval(
      forward + " --chat " + (dir / "chat.json").string() + " --dump " + out.string() + " --trace", dir);
  INFO("stderr: " << read_text(dir / "stderr.txt"));
  REQUIRE(rc == 0);
  {
    const auto f = SafetensorsFile::open(out);
    const TensorView* logits = f->find("logits");
    const TensorView* vision = f->find("vision.tokens");
    const TensorView* audio = f->find("audio.tokens");
    const TensorView* embed = f->find("embed");
    REQUIRE(logits != nullptr);
    REQUIRE(vision != nullptr);
    REQUIRE(audio != nullptr);
    REQUIRE(embed != nullptr);
    const int64_t T = int64_t(ids.size()), V = 262144;
    CHECK(logits->shape == std::vector<int64_t>{T, V});
    REQUIRE(vision->shape.size() == 2);
    const int64_t H = vision->shape[1];
    CHECK(vision->shape == std::vector<int64_t>{n_image, H});
    CHECK(audio->shape == std::vector<int64_t>{n_audio, H});
    REQUIRE(embed->shape == std::vector<int64_t>{T, H});
    for (const TensorView& t : f->tensors()) check_finite(t);

    // §3.5: soft token k replaces the embedding row of the k-th placeholder of its kind (not ×sqrt(H)).
    const std::vector<float> e = to_f32(*embed), vt = to_f32(*vision), at = to_f32(*audio);
    for (int64_t k : {int64_t{0}, n_image / 2, n_image - 1})
      CHECK(row(e, H, first_image + k) == row(vt, H, k));
    for (int64_t k : {int64_t{0}, n_audio - 1}) CHECK(row(e, H, first_audio + k) == row(at, H, k));
    // Different grid positions and frames give different soft tokens.
    CHECK(row(vt, H, 0) != row(vt, H, 1));
    CHECK(row(at, H, 0) != row(at, H, n_audio - 1));
  }

  // A chat naming a missing image: exit 2, one stderr line naming the file.
  std::ofstream(dir / "bad.json")
      << R"({"messages": [{"role": "user", "content": [{"type": "image", "path": "no_such.png"}]}]})";
  CHECK(
      run_g4eval(forward + " --chat " + (dir / "bad.json").string() + " --dump " + (dir / "bad.st").string(),
                 dir) == 2);
  const std::string err = read_text(dir / "stderr.txt");
  INFO("stderr: " << err);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  CHECK(err.find("no_such.png") != std::string::npos);
  CHECK(!fs::exists(dir / "bad.st"));
  fs::remove_all(dir);
}
