#include "engine/cpu/multimodal.h"

#include <cblas.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "engine/cpu/kernels.h"

namespace g4::engine::cpu {
namespace {

constexpr float kLayerNormEps = 1e-5f;  // nn.LayerNorm's default, as the public implementation builds it
constexpr const char* kWhere = "forward input";

void layernorm(float* x, int64_t rows, int64_t n, const std::vector<float>& w, const std::vector<float>& b) {
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x + r * n;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += v[i];
    const double mean = sum / static_cast<double>(n);
    double sq = 0;
    for (int64_t i = 0; i < n; ++i) sq += (v[i] - mean) * (v[i] - mean);
    const float rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(n) + kLayerNormEps));
    const float m = static_cast<float>(mean);
    for (int64_t i = 0; i < n; ++i)
      v[i] = (v[i] - m) * rstd * w[static_cast<size_t>(i)] + b[static_cast<size_t>(i)];
  }
}

// y [n, out] = x [n, in] · Wᵀ (+ bias)
std::vector<float> dense(const std::vector<float>& x, int64_t n, int64_t in, const std::vector<float>& W,
                         int64_t out, const std::vector<float>* bias = nullptr) {
  std::vector<float> y(static_cast<size_t>(n * out));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(out),
              static_cast<int>(in), 1.0f, x.data(), static_cast<int>(in), W.data(), static_cast<int>(in),
              0.0f, y.data(), static_cast<int>(out));
  if (bias != nullptr)
    for (int64_t t = 0; t < n; ++t)
      for (int64_t o = 0; o < out; ++o)
        y[static_cast<size_t>(t * out + o)] += (*bias)[static_cast<size_t>(o)];
  return y;
}

std::vector<float> embed_image(const ModelConfig& cfg, const EngineVisionWeights& w,
                               const SoftTokenInput& in) {
  if (!w.present) fail_input(kWhere, "an image was given but the checkpoint has no vision_embedder weights");
  const int64_t n = in.n, P = cfg.vision.patch_dim(), E = cfg.vision.mm_embed_dim, H = cfg.text.hidden_size;
  const int64_t N = cfg.vision.mm_posemb_size;
  if (n < 0 || static_cast<int64_t>(in.data.size()) != n * P ||
      static_cast<int64_t>(in.positions.size()) != n)
    fail_input(kWhere, "image data has " + std::to_string(in.data.size()) + " values and " +
                           std::to_string(in.positions.size()) + " positions, expected n x " +
                           std::to_string(P) + " and n with n = " + std::to_string(n));
  for (const auto& [px, py] : in.positions)
    if (px < 0 || py < 0 || px >= N || py >= N)
      fail_input(kWhere, "image patch position (" + std::to_string(px) + ", " + std::to_string(py) +
                             ") outside [0, " + std::to_string(N) + ")");
  std::vector<float> x = in.data;
  layernorm(x.data(), n, P, w.ln1_w, w.ln1_b);
  std::vector<float> e = dense(x, n, P, w.dense_w, E, &w.dense_b);
  layernorm(e.data(), n, E, w.ln2_w, w.ln2_b);
  for (int64_t t = 0; t < n; ++t) {  // factorized 2-D table: axis 0 by column x, axis 1 by row y
    const auto [px, py] = in.positions[static_cast<size_t>(t)];
    const float* col = w.pos_embedding.data() + (static_cast<int64_t>(px) * 2 + 0) * E;
    const float* row = w.pos_embedding.data() + (static_cast<int64_t>(py) * 2 + 1) * E;
    for (int64_t d = 0; d < E; ++d) e[static_cast<size_t>(t * E + d)] += col[d] + row[d];
  }
  layernorm(e.data(), n, E, w.pos_norm_w, w.pos_norm_b);
  rmsnorm(e.data(), n, E, nullptr, static_cast<float>(cfg.vision.rms_norm_eps));
  return dense(e, n, E, w.projection, H);
}

std::vector<float> embed_audio(const ModelConfig& cfg, const EngineAudioWeights& w,
                               const SoftTokenInput& in) {
  if (!w.present) fail_input(kWhere, "audio was given but the checkpoint has no embed_audio weights");
  const int64_t n = in.n, A = cfg.audio.audio_embed_dim, H = cfg.text.hidden_size;
  if (n < 0 || static_cast<int64_t>(in.data.size()) != n * A)
    fail_input(kWhere, "audio data has " + std::to_string(in.data.size()) + " values, expected n x " +
                           std::to_string(A) + " with n = " + std::to_string(n));
  std::vector<float> x = in.data;
  rmsnorm(x.data(), n, A, nullptr, static_cast<float>(cfg.audio.rms_norm_eps));
  return dense(x, n, A, w.projection, H);
}

}  // namespace

void scatter_media(const ModelConfig& cfg, const EngineWeights& w, const ForwardInput& in, float* h,
                   const TraceFn* trace) {
  const int64_t H = cfg.text.hidden_size;
  std::vector<float> image_tokens, audio_tokens;
  for (const SoftTokenInput& m : in.media) {
    const std::vector<float> e =
        m.kind == SoftTokenInput::Image ? embed_image(cfg, w.vision, m) : embed_audio(cfg, w.audio, m);
    auto& dst = m.kind == SoftTokenInput::Image ? image_tokens : audio_tokens;
    dst.insert(dst.end(), e.begin(), e.end());
  }
  int64_t n_image = 0, n_audio = 0;
  for (const int32_t id : in.ids) {
    n_image += id == cfg.image_token_id;
    n_audio += id == cfg.audio_token_id;
    if (cfg.video_token_id != 0 && id == cfg.video_token_id)
      fail_input(kWhere, "video placeholders are not supported");
  }
  if (n_image * H != static_cast<int64_t>(image_tokens.size()) ||
      n_audio * H != static_cast<int64_t>(audio_tokens.size()))
    fail_input(kWhere, std::to_string(n_image) + " image and " + std::to_string(n_audio) +
                           " audio placeholder ids but " +
                           std::to_string(image_tokens.size() / static_cast<size_t>(H)) + " image and " +
                           std::to_string(audio_tokens.size() / static_cast<size_t>(H)) +
                           " audio soft tokens");
  if (n_image > 0) emit(trace, "vision.tokens", {n_image, H}, image_tokens);
  if (n_audio > 0) emit(trace, "audio.tokens", {n_audio, H}, audio_tokens);
  int64_t next_image = 0, next_audio = 0;
  for (size_t t = 0; t < in.ids.size(); ++t) {
    const float* src = nullptr;
    if (in.ids[t] == cfg.image_token_id) src = image_tokens.data() + (next_image++) * H;
    if (in.ids[t] == cfg.audio_token_id) src = audio_tokens.data() + (next_audio++) * H;
    if (src != nullptr) std::copy(src, src + H, h + static_cast<int64_t>(t) * H);
  }
}

}  // namespace g4::engine::cpu
