// Audio input for the encoder-free audio path (spec §3.3): decode (libsndfile) -> mono by averaging
// channels -> 16 kHz (libsamplerate, SRC_SINC_BEST_QUALITY) -> frames of 640 samples, the last one
// zero-padded. One frame is one soft token; the embedder (§3.3) consumes AudioFrames::values as [n, 640].
//
//   g4::AudioFrames f = g4::load_audio_frames("clip.wav");   // InputError if unreadable or > 30 s
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace g4 {

inline constexpr int64_t kAudioSampleRate = 16000;
inline constexpr int64_t kAudioFrameSamples = 640;  // 40 ms
inline constexpr int64_t kAudioMaxTokens = 750;     // processor's audio_seq_length: 30 s per clip

// Any format libsndfile reads (WAV, FLAC, OGG, AIFF...). Samples are floats in [-1, 1] (integer PCM is
// scaled by 1/2^(bits-1), as Python's soundfile does).
std::vector<float> load_wav_mono_16k(const std::string& path);

// interleaved: [frames][channels] -> [frames], the plain mean of the channels.
std::vector<float> downmix_to_mono(const std::vector<float>& interleaved, int64_t channels);

// Returns `samples` unchanged when in_rate is already 16 kHz. `name` is only used in error messages.
// [assumed] HF's processor expects 16 kHz input and users usually resample with librosa (soxr); a
// different resampler changes samples slightly, which the per-frame RMSNorm (§3.3) mostly hides.
std::vector<float> resample_to_16k(const std::vector<float>& samples, int64_t in_rate, std::string_view name);

struct AudioFrames {
  int64_t n = 0;              // ceil(N / frame)
  std::vector<float> values;  // [n][frame]
};

AudioFrames frame_audio(const std::vector<float>& samples_16k, int64_t frame = kAudioFrameSamples);

// load_wav_mono_16k + frame_audio. A clip longer than max_tokens frames is rejected with an InputError
// that suggests splitting it, rather than silently truncated: a truncated clip would score a
// transcription task against audio the model never heard.
AudioFrames load_audio_frames(const std::string& path, int64_t max_tokens = kAudioMaxTokens);

}  // namespace g4
