// Tests for audio decoding, downmix, 16 kHz resampling and 640-sample framing (spec §3.3).
// Run: ./build-NAME/tests/g4eval_tests "[audio]"
#include <sndfile.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/audio.h"
#include "core/error.h"

namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  fs::path dir = fs::temp_directory_path() / ("g4_test_audio_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

void write_wav(const fs::path& p, const std::vector<float>& interleaved, int channels, int rate,
               int subtype) {
  SF_INFO info{};
  info.channels = channels;
  info.samplerate = rate;
  info.format = SF_FORMAT_WAV | subtype;
  SNDFILE* f = sf_open(p.string().c_str(), SFM_WRITE, &info);
  REQUIRE(f != nullptr);
  REQUIRE(sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels)) ==
          static_cast<sf_count_t>(interleaved.size() / channels));
  sf_close(f);
}

// Sign changes between consecutive samples, ignoring exact zeros.
int zero_crossings(const std::vector<float>& x, size_t from, size_t to) {
  int n = 0;
  float prev = 0;
  for (size_t i = from; i < to; ++i) {
    if (x[i] == 0) continue;
    if (prev != 0 && (x[i] > 0) != (prev > 0)) ++n;
    prev = x[i];
  }
  return n;
}

void require_input_error_naming(const std::string& file) {
  try {
    g4::load_wav_mono_16k(file);
    FAIL("no error for " << file);
  } catch (const g4::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(file) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

}  // namespace

TEST_CASE("downmix averages channels", "[audio]") {
  CHECK(g4::downmix_to_mono({1, 3, 2, 4, -1, 1}, 2) == std::vector<float>{2, 3, 0});
  CHECK(g4::downmix_to_mono({3, 6, 9}, 3) == std::vector<float>{6});
  CHECK(g4::downmix_to_mono({0.25f, 0.5f}, 1) == std::vector<float>{0.25f, 0.5f});
}

TEST_CASE("frame_audio: ceil(N/640) frames / last one zero-padded", "[audio]") {
  CHECK(g4::frame_audio({}).n == 0);
  std::vector<float> s(1300);
  for (size_t i = 0; i < s.size(); ++i) s[i] = 1.0f + static_cast<float>(i);  // never zero
  const g4::AudioFrames f = g4::frame_audio(s);
  REQUIRE(f.n == 3);  // ceil(1300/640) = 3
  REQUIRE(f.values.size() == 3u * 640u);
  for (size_t i = 0; i < 1300; ++i) REQUIRE(f.values[i] == s[i]);
  for (size_t i = 1300; i < 1920; ++i) REQUIRE(f.values[i] == 0.0f);
  CHECK(g4::frame_audio(std::vector<float>(640, 1.0f)).n == 1);
  CHECK(g4::frame_audio(std::vector<float>(641, 1.0f)).n == 2);
  CHECK(g4::frame_audio(std::vector<float>(10, 1.0f), 4).n == 3);
}

TEST_CASE("stereo 8 kHz WAV -> mono 16 kHz / length doubled / pitch kept", "[audio]") {
  const fs::path dir = temp_dir();
  const int rate = 8000;
  const double hz = 440.0;
  std::vector<float> st(2 * rate);  // 1 s; right channel at half amplitude -> mono amplitude 0.75
  for (int i = 0; i < rate; ++i) {
    const float v = static_cast<float>(0.8 * std::sin(2 * M_PI * hz * i / rate));
    st[2 * i] = v;
    st[2 * i + 1] = 0.5f * v;
  }
  const fs::path wav = dir / "stereo8k.wav";
  write_wav(wav, st, 2, rate, SF_FORMAT_FLOAT);
  const std::vector<float> m = g4::load_wav_mono_16k(wav.string());
  // 8000 samples at ratio 2 -> 16000, give or take the resampler's edge handling.
  CHECK(std::abs(static_cast<long>(m.size()) - 16000) <= 16);
  // 440 Hz = 880 sign changes per second; count over the middle 0.5 s to skip edge transients.
  const int zc = zero_crossings(m, 4000, 12000);
  CHECK(std::abs(zc - 440) <= 2);
  float peak = 0;
  for (size_t i = 4000; i < 12000; ++i) peak = std::max(peak, std::abs(m[i]));
  CHECK(peak == Approx(0.6).margin(0.01));  // 0.8 * (1 + 0.5)/2
  fs::remove_all(dir);
}

TEST_CASE("16 kHz mono WAV is returned unchanged", "[audio]") {
  const fs::path dir = temp_dir();
  std::vector<float> s(1000);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<float>(std::sin(0.01 * i)) * 0.5f;
  write_wav(dir / "m16.wav", s, 1, 16000, SF_FORMAT_FLOAT);
  CHECK(g4::load_wav_mono_16k((dir / "m16.wav").string()) == s);
  // 16-bit PCM is scaled by 1/32768: a sample written as 0.5 comes back as 16384/32768 = 0.5.
  write_wav(dir / "pcm16.wav", {0.5f, -0.25f}, 1, 16000, SF_FORMAT_PCM_16);
  CHECK(g4::load_wav_mono_16k((dir / "pcm16.wav").string()) == std::vector<float>{0.5f, -0.25f});
  fs::remove_all(dir);
}

TEST_CASE("load_audio_frames enforces the per-clip cap", "[audio]") {
  const fs::path dir = temp_dir();
  write_wav(dir / "c.wav", std::vector<float>(1300, 0.1f), 1, 16000, SF_FORMAT_FLOAT);
  const std::string path = (dir / "c.wav").string();
  CHECK(g4::load_audio_frames(path, 3).n == 3);
  try {
    g4::load_audio_frames(path, 2);
    FAIL("over-cap clip accepted");
  } catch (const g4::InputError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find("split") != std::string::npos);
  }
  // Default cap is 750 tokens = 30 s: 750*640 samples pass, one more sample does not.
  write_wav(dir / "30s.wav", std::vector<float>(750 * 640, 0.1f), 1, 16000, SF_FORMAT_PCM_16);
  CHECK(g4::load_audio_frames((dir / "30s.wav").string()).n == 750);
  write_wav(dir / "30s1.wav", std::vector<float>(750 * 640 + 1, 0.1f), 1, 16000, SF_FORMAT_PCM_16);
  CHECK_THROWS_AS(g4::load_audio_frames((dir / "30s1.wav").string()), g4::InputError);
  fs::remove_all(dir);
}

TEST_CASE("shipped JFK clip loads", "[audio]") {
  const std::string path = "/work/shared/datasets/asr/jfk_16k_mono.wav";
  if (!fs::exists(path)) {
    WARN("skipped: " << path << " is absent on this machine");
    return;
  }
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  REQUIRE(f != nullptr);
  sf_close(f);
  const std::vector<float> s = g4::load_wav_mono_16k(path);
  CHECK(static_cast<int64_t>(s.size()) == info.frames);   // already 16 kHz mono: no resampling
  CHECK(s.size() / 16000.0 == Approx(11.0).margin(0.5));  // the JFK excerpt is about 11 s
  const g4::AudioFrames fr = g4::load_audio_frames(path);
  CHECK(fr.n == (static_cast<int64_t>(s.size()) + 639) / 640);
}

TEST_CASE("corrupt or missing audio is rejected", "[audio]") {
  const fs::path dir = temp_dir();
  require_input_error_naming((dir / "missing.wav").string());
  {
    std::ofstream junk(dir / "junk.wav", std::ios::binary);
    junk << "RIFF\x10\x00\x00\x00WAVEnot really a wav file";
  }
  require_input_error_naming((dir / "junk.wav").string());
  { std::ofstream empty(dir / "empty.wav", std::ios::binary); }
  require_input_error_naming((dir / "empty.wav").string());
  fs::remove_all(dir);
}
