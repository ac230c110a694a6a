// Audio decoding, downmix, resampling and framing (spec §3.3).
#include "core/audio.h"

#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace g4 {
namespace {

// Refuse more than an hour at 192 kHz × 8 channels before reading: a header can claim any length.
constexpr int64_t kMaxDecodedSamples = int64_t{192000} * 3600 * 8;

struct SndFileCloser {
  SNDFILE* f;
  ~SndFileCloser() {
    if (f != nullptr) sf_close(f);
  }
};

}  // namespace

std::vector<float> downmix_to_mono(const std::vector<float>& interleaved, int64_t channels) {
  G4_CHECK(channels > 0, "channel count must be positive");
  G4_CHECK(static_cast<int64_t>(interleaved.size()) % channels == 0,
           "interleaved size not a multiple of channels");
  if (channels == 1) return interleaved;
  const int64_t frames = static_cast<int64_t>(interleaved.size()) / channels;
  std::vector<float> mono(static_cast<size_t>(frames));
  for (int64_t i = 0; i < frames; ++i) {
    float sum = 0.0f;
    for (int64_t c = 0; c < channels; ++c) sum += interleaved[static_cast<size_t>(i * channels + c)];
    mono[static_cast<size_t>(i)] = sum / static_cast<float>(channels);
  }
  return mono;
}

std::vector<float> resample_to_16k(const std::vector<float>& samples, int64_t in_rate,
                                   std::string_view name) {
  if (in_rate == kAudioSampleRate || samples.empty()) return samples;
  const double ratio = static_cast<double>(kAudioSampleRate) / static_cast<double>(in_rate);
  if (in_rate <= 0 || !src_is_valid_ratio(ratio)) {
    fail_input(name, "unsupported sample rate " + std::to_string(in_rate) + " Hz");
  }
  std::vector<float> out(static_cast<size_t>(std::ceil(static_cast<double>(samples.size()) * ratio)) + 16);
  SRC_DATA d{};
  d.data_in = samples.data();
  d.input_frames = static_cast<long>(samples.size());
  d.data_out = out.data();
  d.output_frames = static_cast<long>(out.size());
  d.src_ratio = ratio;
  d.end_of_input = 1;
  const int err = src_simple(&d, SRC_SINC_BEST_QUALITY, 1);
  if (err != 0) fail_input(name, std::string("resampling failed: ") + src_strerror(err));
  out.resize(static_cast<size_t>(d.output_frames_gen));
  return out;
}

std::vector<float> load_wav_mono_16k(const std::string& path) {
  SF_INFO info{};
  SndFileCloser file{sf_open(path.c_str(), SFM_READ, &info)};
  if (file.f == nullptr) fail_input(path, std::string("cannot read audio: ") + sf_strerror(nullptr));
  if (info.channels <= 0 || info.samplerate <= 0) fail_input(path, "audio header has no channels or no rate");
  if (info.frames < 0 || info.frames * info.channels > kMaxDecodedSamples) {
    fail_input(path, "audio is too long (" + std::to_string(info.frames) + " frames)");
  }
  std::vector<float> interleaved(static_cast<size_t>(info.frames * info.channels));
  const sf_count_t got = sf_readf_float(file.f, interleaved.data(), info.frames);
  if (got < 0 || sf_error(file.f) != SF_ERR_NO_ERROR) {
    fail_input(path, std::string("corrupt audio: ") + sf_strerror(file.f));
  }
  // A file cut short holds fewer frames than its header says; keep what was there.
  interleaved.resize(static_cast<size_t>(got * info.channels));
  for (float v : interleaved) {
    if (!std::isfinite(v)) fail_input(path, "audio holds a NaN or infinite sample");
  }
  return resample_to_16k(downmix_to_mono(interleaved, info.channels), info.samplerate, path);
}

AudioFrames frame_audio(const std::vector<float>& samples_16k, int64_t frame) {
  G4_CHECK(frame > 0, "frame length must be positive");
  AudioFrames f;
  const int64_t total = static_cast<int64_t>(samples_16k.size());
  f.n = (total + frame - 1) / frame;
  f.values.assign(static_cast<size_t>(f.n * frame), 0.0f);  // zero tail pads the last frame
  std::copy(samples_16k.begin(), samples_16k.end(), f.values.begin());
  return f;
}

AudioFrames load_audio_frames(const std::string& path, int64_t max_tokens) {
  const std::vector<float> samples = load_wav_mono_16k(path);
  if (samples.empty()) fail_input(path, "audio has no samples");
  AudioFrames f = frame_audio(samples);
  if (f.n > max_tokens) {
    fail_input(path, "clip is " + std::to_string(static_cast<double>(samples.size()) / kAudioSampleRate) +
                         " s = " + std::to_string(f.n) + " audio tokens, over the per-clip cap of " +
                         std::to_string(max_tokens) + " (" +
                         std::to_string(max_tokens * kAudioFrameSamples / kAudioSampleRate) +
                         " s); split it into shorter clips");
  }
  return f;
}

}  // namespace g4
