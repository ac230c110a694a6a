#include "reference/multimodal.h"

#include <string>

#include "core/error.h"
#include "reference/ops.h"

namespace g4::reference {

namespace {
constexpr float kLayerNormEps = 1e-5f;  // nn.LayerNorm default, as HF and vLLM build it (spec §3.2, §7.12)
constexpr const char* kWhere = "forward input";
}  // namespace

std::vector<float> embed_image(const ModelConfig& cfg, const VisionWeights& w, const SoftTokenInput& in,
                               Precision p) {
  if (!w.present) fail_input(kWhere, "an image was given but the checkpoint has no vision_embedder weights");
  const int64_t n = in.n, P = cfg.vision.patch_dim(), E = w.embed_dim, H = cfg.text.hidden_size;
  const int64_t N = cfg.vision.mm_posemb_size;
  if (n < 0 || static_cast<int64_t>(in.data.size()) != n * P)
    fail_input(kWhere, "image data has " + std::to_string(in.data.size()) + " values, expected n x " +
                           std::to_string(P) + " with n = " + std::to_string(n));
  if (static_cast<int64_t>(in.positions.size()) != n)
    fail_input(kWhere, "image needs one (x, y) position per patch");
  for (const auto& [px, py] : in.positions)
    if (px < 0 || py < 0 || px >= N || py >= N)
      fail_input(kWhere, "image patch position (" + std::to_string(px) + ", " + std::to_string(py) +
                             ") outside [0, " + std::to_string(N) + ")");
  const float rms_eps = static_cast<float>(cfg.vision.rms_norm_eps);

  std::vector<float> x(in.data.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = at_boundary(p, in.data[i]);
  layernorm_rows(x, P, w.ln1_w, w.ln1_b, kLayerNormEps, p);
  std::vector<float> e = linear(x, n, P, w.dense_w, E, p, w.dense_b);
  layernorm_rows(e, E, w.ln2_w, w.ln2_b, kLayerNormEps, p);
  for (int64_t t = 0; t < n; ++t) {
    // Factorized 2-D table: axis 0 indexed by x (column), axis 1 by y (row); the pair sum is one bf16 op.
    const auto [px, py] = in.positions[static_cast<size_t>(t)];
    const float* col = w.pos_embedding.data() + (static_cast<int64_t>(px) * 2 + 0) * E;
    const float* row = w.pos_embedding.data() + (static_cast<int64_t>(py) * 2 + 1) * E;
    for (int64_t d = 0; d < E; ++d) {
      float& v = e[static_cast<size_t>(t * E + d)];
      v = at_boundary(p, v + at_boundary(p, col[d] + row[d]));
    }
  }
  layernorm_rows(e, E, w.pos_norm_w, w.pos_norm_b, kLayerNormEps, p);
  rmsnorm_rows(e, E, {}, rms_eps, p);  // embedding_pre_projection_norm (no scale)
  return linear(e, n, E, w.projection, H, p);
}

std::vector<float> embed_audio(const ModelConfig& cfg, const AudioWeights& w, const SoftTokenInput& in,
                               Precision p) {
  if (!w.present) fail_input(kWhere, "audio was given but the checkpoint has no embed_audio weights");
  const int64_t n = in.n, A = cfg.audio.audio_embed_dim, H = cfg.text.hidden_size;
  if (n < 0 || static_cast<int64_t>(in.data.size()) != n * A)
    fail_input(kWhere, "audio data has " + std::to_string(in.data.size()) + " values, expected n x " +
                           std::to_string(A) + " with n = " + std::to_string(n));
  std::vector<float> x(in.data.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = at_boundary(p, in.data[i]);
  rmsnorm_rows(x, A, {}, static_cast<float>(cfg.audio.rms_norm_eps), p);
  return linear(x, n, A, w.projection, H, p);
}

void scatter_media(const ModelConfig& cfg, const ModelWeights& w, const ForwardInput& in,
                   std::vector<float>& h, Precision p, const TraceFn* trace) {
  const int64_t H = cfg.text.hidden_size;
  std::vector<float> image_tokens, audio_tokens;
  for (const SoftTokenInput& m : in.media) {
    const std::vector<float> e =
        m.kind == SoftTokenInput::Image ? embed_image(cfg, w.vision, m, p) : embed_audio(cfg, w.audio, m, p);
    auto& dst = m.kind == SoftTokenInput::Image ? image_tokens : audio_tokens;
    dst.insert(dst.end(), e.begin(), e.end());
  }
  int64_t n_image = 0, n_audio = 0, n_video = 0;
  for (const int32_t id : in.ids) {
    n_image += id == cfg.image_token_id;
    n_audio += id == cfg.audio_token_id;
    n_video += id == cfg.video_token_id;
  }
  if (n_video > 0) fail_input(kWhere, "video placeholders are not supported by the reference yet");
  if (n_image * H != static_cast<int64_t>(image_tokens.size()))
    fail_input(kWhere, std::to_string(n_image) + " image placeholder ids but " +
                           std::to_string(image_tokens.size() / static_cast<size_t>(H)) +
                           " image soft tokens");
  if (n_audio * H != static_cast<int64_t>(audio_tokens.size()))
    fail_input(kWhere, std::to_string(n_audio) + " audio placeholder ids but " +
                           std::to_string(audio_tokens.size() / static_cast<size_t>(H)) +
                           " audio soft tokens");
  if (n_image > 0) emit(trace, "vision.tokens", {n_image, H}, image_tokens);
  if (n_audio > 0) emit(trace, "audio.tokens", {n_audio, H}, audio_tokens);
  int64_t next_image = 0, next_audio = 0;
  for (size_t t = 0; t < in.ids.size(); ++t) {
    const float* src = nullptr;
    if (in.ids[t] == cfg.image_token_id) src = image_tokens.data() + (next_image++) * H;
    if (in.ids[t] == cfg.audio_token_id) src = audio_tokens.data() + (next_audio++) * H;
    if (src != nullptr) std::copy(src, src + H, h.begin() + static_cast<int64_t>(t) * H);
  }
}

std::vector<int64_t> vision_block_ids(const ModelConfig& cfg, std::span<const int32_t> ids,
                                      int64_t first_block) {
  std::vector<int64_t> block(ids.size(), -1);
  int64_t next = first_block;
  for (size_t t = 0; t < ids.size(); ++t) {
    const bool vision = ids[t] == cfg.image_token_id || ids[t] == cfg.video_token_id;
    if (!vision) continue;
    const bool continues = t > 0 && block[t - 1] >= 0;
    block[t] = continues ? block[t - 1] : next++;
  }
  return block;
}

}  // namespace g4::reference
