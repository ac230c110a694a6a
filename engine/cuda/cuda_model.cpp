// CudaModel and CudaSession: the forward pass of reference/model.cpp, decoder.cpp and attention.cpp on the
// device, with the same trace names and shapes. A prefill runs in chunks of at most kChunkCap tokens (cut
// outside vision blocks); a decode step is one token whose kernels are captured once into a CUDA graph and
// replayed (positions and ids live in device memory, so the graph never changes).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "engine/cuda/check.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/dev_model.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/plan.h"

namespace g4::engine::cuda {
namespace {

constexpr int64_t kChunkCap = 4096;                   // tokens per prefill chunk
constexpr int64_t kLogitRows = 32;                    // LM-head rows per product in prefill
constexpr int64_t kPartFloats = int64_t{4} << 20;     // attention split workspace (16 MiB)
constexpr int64_t kDequantElems = int64_t{64} << 20;  // bf16 dequantization scratch (128 MiB)
constexpr float kVisionLayerNormEps = 1e-5f;          // nn.LayerNorm default (spec §3.2)
constexpr const char* kWhere = "forward input";

// Prefill chunk size: kChunkCap, or G4_CUDA_CHUNK_TOKENS (tests use small chunks to exercise the cuts).
int64_t chunk_tokens() {
  const char* s = std::getenv("G4_CUDA_CHUNK_TOKENS");
  if (s == nullptr) return kChunkCap;
  char* end = nullptr;
  const long long v = std::strtoll(s, &end, 10);
  if (end == s || *end != '\0' || v < 1 || v > (int64_t{1} << 20))
    fail_input("G4_CUDA_CHUNK_TOKENS", "expected an integer in [1, 1048576], got '" + std::string(s) + "'");
  return v;
}

bool has_format(const WeightPlan& p, quant::Format f) { return p.embed == f || p.attn == f || p.ffn == f; }

// Soft tokens of a prefill on the device: image tokens (in media order) then audio tokens, and which row
// replaces which position.
struct Media {
  DeviceBuffer tokens;                             // [n_image + n_audio, H] f32
  std::vector<std::pair<int64_t, int32_t>> pairs;  // (position in the call, token row)
};

class CudaSession final : public Session {
 public:
  CudaSession(std::shared_ptr<const ModelDev> m, int64_t max_context);
  ~CudaSession() override;
  CudaSession(const CudaSession&) = delete;
  CudaSession& operator=(const CudaSession&) = delete;

  std::vector<float> prefill(const ForwardInput& in, LogitsWanted want, const StepHooks& hooks) override;
  std::vector<float> decode(int32_t id, const StepHooks& hooks) override;
  int64_t length() const override { return len_; }
  size_t memory_bytes() const override { return bytes_; }

 private:
  DeviceBuffer alloc(size_t bytes, const std::string& what) {
    DeviceBuffer b(bytes, what);
    bytes_ += b.bytes();
    return b;
  }
  void sync() { G4_CUDA_CALL(cudaStreamSynchronize(stream_)); }
  Media embed_media(const ForwardInput& in, const TraceFn* trace);
  // The layers and the final norm over T tokens at device position step[0]; leaves final_norm in xin_.
  void forward(int64_t T, int64_t pos0, bool has_blocks, int n_pairs, const float* media,
               const StepHooks* hooks);
  // LM head + softcap of final-norm rows [r0, r0 + n) into host memory.
  void logits_to_host(int64_t r0, int64_t n, float* out);
  void emit_bf16(const TraceFn* tr, const std::string& name, std::vector<int64_t> shape, const uint16_t* d);
  void emit_f32(const TraceFn* tr, const std::string& name, std::vector<int64_t> shape, const float* d);
  void capture_decode();

  std::shared_ptr<const ModelDev> m_;
  int64_t max_ctx_ = 0, chunk_cap_ = 0, len_ = 0, next_block_ = 0;
  size_t bytes_ = 0;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Blas> blas_;
  LinearWork work_;
  cudaGraphExec_t graph_ = nullptr;

  std::vector<DeviceBuffer> kc_, vc_;
  std::vector<int64_t> cap_;
  DeviceBuffer step_, blocks_, pairs_, h_, xin_, qkv_, q_, kout_, vout_, attn_, proj_, normout_, gate_up_,
      act_, logits_, part_o_, part_ml_, xq_, xd_, xs_, xf32_, dequant_;
  PinnedBuffer step_host_, logits_host_;
};

CudaSession::CudaSession(std::shared_ptr<const ModelDev> m, int64_t max_context)
    : m_(std::move(m)), max_ctx_(max_context) {
  const TextConfig& tc = m_->cfg.text;
  const int64_t H = tc.hidden_size, I = tc.intermediate_size, Hq = tc.num_attention_heads, V = tc.vocab_size;
  const int64_t Dm = m_->max_head_dim;
  G4_CHECK(max_ctx_ > 0, "session: max_context");
  chunk_cap_ = std::min(chunk_tokens(), max_ctx_);
  const size_t C = static_cast<size_t>(chunk_cap_);
  G4_CUDA_CALL(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  cudak::attention_init();
  blas_ = std::make_unique<Blas>(stream_);

  for (int64_t i = 0; i < tc.num_hidden_layers; ++i) {
    const LayerDev& L = m_->layers[static_cast<size_t>(i)];
    const int64_t cap = L.sliding ? ring_capacity(tc.sliding_window, chunk_cap_, max_ctx_) : max_ctx_;
    const size_t n = static_cast<size_t>(L.Hkv * cap * L.D) * sizeof(uint16_t);
    kc_.push_back(alloc(n, "layer " + std::to_string(i) + " K cache"));
    vc_.push_back(alloc(n, "layer " + std::to_string(i) + " V cache"));
    cap_.push_back(cap);
  }
  step_ = alloc((C + 1) * sizeof(int32_t), "token ids");
  blocks_ = alloc(3 * C * sizeof(int32_t), "vision blocks");
  pairs_ = alloc(2 * C * sizeof(int32_t), "soft-token rows");
  h_ = alloc(C * H * sizeof(float), "residual stream");
  xin_ = alloc(C * H * sizeof(uint16_t), "normed input");
  qkv_ = alloc(C * m_->max_qkv_rows * sizeof(float), "q|k|v");
  q_ = alloc(C * Hq * Dm * sizeof(uint16_t), "q");
  kout_ = alloc(C * m_->max_kv_heads * Dm * sizeof(uint16_t), "k");
  vout_ = alloc(C * m_->max_kv_heads * Dm * sizeof(uint16_t), "v");
  attn_ = alloc(C * Hq * Dm * sizeof(uint16_t), "attention output");
  proj_ = alloc(C * H * sizeof(float), "projection output");
  normout_ = alloc(C * H * sizeof(uint16_t), "norm output");
  gate_up_ = alloc(C * 2 * I * sizeof(float), "gate|up");
  act_ = alloc(C * I * sizeof(uint16_t), "ffn activation");
  logits_ = alloc(static_cast<size_t>(std::min(kLogitRows, chunk_cap_) * V) * sizeof(float), "logits");
  part_o_ = alloc(kPartFloats * sizeof(float), "attention split workspace");
  part_ml_ = alloc(kPartFloats / 64 * 2 * sizeof(float), "attention split workspace");
  const int64_t kmax = std::max({H, I, Hq * Dm});
  work_.k_cap = kmax;
  xq_ = alloc(static_cast<size_t>(cudak::kMaxGemvTokens * kmax), "quantized activations");
  xd_ = alloc(static_cast<size_t>(cudak::kMaxGemvTokens * kmax / 32) * sizeof(float), "activation scales");
  xs_ = alloc(static_cast<size_t>(cudak::kMaxGemvTokens * kmax / 32) * sizeof(float), "activation sums");
  work_.xq = xq_.get<int8_t>();
  work_.xd = xd_.get<float>();
  work_.xs = xs_.get<float>();
  const WeightPlan& p = m_->plan;
  if (has_format(p, quant::Format::F32)) {
    work_.xf32_elems = static_cast<int64_t>(C) * kmax;
    xf32_ = alloc(static_cast<size_t>(work_.xf32_elems) * sizeof(float), "f32 activations");
    work_.xf32 = xf32_.get<float>();
  }
  const bool quantized = p.embed != quant::Format::BF16 && p.embed != quant::Format::F32;
  if (quantized || (p.attn != quant::Format::BF16 && p.attn != quant::Format::F32) ||
      (p.ffn != quant::Format::BF16 && p.ffn != quant::Format::F32)) {
    work_.dequant_elems = std::max(kDequantElems, kmax);
    dequant_ = alloc(static_cast<size_t>(work_.dequant_elems) * sizeof(uint16_t), "dequantization scratch");
    work_.dequant = dequant_.get<uint16_t>();
  }
  step_host_ = PinnedBuffer(2 * sizeof(int32_t));
  logits_host_ = PinnedBuffer(static_cast<size_t>(V) * sizeof(float));
}

CudaSession::~CudaSession() {
  if (graph_ != nullptr) cudaGraphExecDestroy(graph_);
  blas_.reset();
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void CudaSession::emit_bf16(const TraceFn* tr, const std::string& name, std::vector<int64_t> shape,
                            const uint16_t* d) {
  if (tr == nullptr || !*tr) return;
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<uint16_t> raw(static_cast<size_t>(n));
  G4_CUDA_CALL(
      cudaMemcpyAsync(raw.data(), d, raw.size() * sizeof(uint16_t), cudaMemcpyDeviceToHost, stream_));
  sync();
  std::vector<float> f(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) f[i] = cudak::bf16_to_f32(raw[i]);
  (*tr)(name, shape, f);
}

void CudaSession::emit_f32(const TraceFn* tr, const std::string& name, std::vector<int64_t> shape,
                           const float* d) {
  if (tr == nullptr || !*tr) return;
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<float> f(static_cast<size_t>(n));
  G4_CUDA_CALL(cudaMemcpyAsync(f.data(), d, f.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  sync();
  (*tr)(name, shape, f);
}

Media CudaSession::embed_media(const ForwardInput& in, const TraceFn* trace) {
  const ModelConfig& cfg = m_->cfg;
  const int64_t H = cfg.text.hidden_size;
  int64_t n_image = 0, n_audio = 0, n_video = 0, img_tokens = 0, aud_tokens = 0;
  for (const int32_t id : in.ids) {
    n_image += id == cfg.image_token_id;
    n_audio += id == cfg.audio_token_id;
    n_video += id == cfg.video_token_id;
  }
  if (n_video > 0) fail_input(kWhere, "video placeholders are not supported by the CUDA backend yet");
  for (const SoftTokenInput& s : in.media) (s.kind == SoftTokenInput::Image ? img_tokens : aud_tokens) += s.n;
  Media md;
  if (in.media.empty() && n_image == 0 && n_audio == 0) return md;
  // Shapes first (as the reference checks each medium while embedding it), then the placeholder counts.
  for (const SoftTokenInput& s : in.media) {
    if (s.kind == SoftTokenInput::Image) {
      if (!m_->vision.present)
        fail_input(kWhere, "an image was given but the checkpoint has no vision_embedder weights");
      const int64_t P = cfg.vision.patch_dim(), N = cfg.vision.mm_posemb_size;
      if (s.n < 0 || static_cast<int64_t>(s.data.size()) != s.n * P)
        fail_input(kWhere, "image data has " + std::to_string(s.data.size()) + " values, expected n x " +
                               std::to_string(P) + " with n = " + std::to_string(s.n));
      if (static_cast<int64_t>(s.positions.size()) != s.n)
        fail_input(kWhere, "image needs one (x, y) position per patch");
      for (const auto& [px, py] : s.positions)
        if (px < 0 || py < 0 || px >= N || py >= N)
          fail_input(kWhere, "image patch position (" + std::to_string(px) + ", " + std::to_string(py) +
                                 ") outside [0, " + std::to_string(N) + ")");
    } else {
      if (!m_->audio.present)
        fail_input(kWhere, "audio was given but the checkpoint has no embed_audio weights");
      const int64_t A = cfg.audio.audio_embed_dim;
      if (s.n < 0 || static_cast<int64_t>(s.data.size()) != s.n * A)
        fail_input(kWhere, "audio data has " + std::to_string(s.data.size()) + " values, expected n x " +
                               std::to_string(A) + " with n = " + std::to_string(s.n));
    }
  }
  if (n_image != img_tokens)
    fail_input(kWhere, std::to_string(n_image) + " image placeholder ids but " + std::to_string(img_tokens) +
                           " image soft tokens");
  if (n_audio != aud_tokens)
    fail_input(kWhere, std::to_string(n_audio) + " audio placeholder ids but " + std::to_string(aud_tokens) +
                           " audio soft tokens");

  md.tokens = DeviceBuffer(static_cast<size_t>((img_tokens + aud_tokens) * H) * sizeof(float), "soft tokens");
  float* out = md.tokens.get<float>();
  int64_t img_row = 0, aud_row = img_tokens;
  cublasHandle_t blas = blas_->get();
  for (const SoftTokenInput& s : in.media) {
    if (s.n == 0) continue;
    const int n = static_cast<int>(s.n);
    DeviceBuffer x = upload_floats(s.data, "media input");
    float* xp = x.get<float>();
    cudak::round_bf16_inplace(xp, static_cast<int64_t>(s.data.size()), stream_);
    if (s.kind == SoftTokenInput::Image) {
      const VisionDev& v = m_->vision;
      const int P = static_cast<int>(cfg.vision.patch_dim()), E = static_cast<int>(cfg.vision.mm_embed_dim);
      cudak::layernorm_rows(xp, n, P, v.ln1_w.get<float>(), v.ln1_b.get<float>(), kVisionLayerNormEps,
                            stream_);
      DeviceBuffer e(static_cast<size_t>(n) * E * sizeof(float), "vision embeddings");
      float* ep = e.get<float>();
      gemm_f32(blas, v.dense_w.get<float>(), E, P, xp, P, n, ep, E);
      cudak::add_bias_round(ep, n, E, v.dense_b.get<float>(), stream_);
      cudak::layernorm_rows(ep, n, E, v.ln2_w.get<float>(), v.ln2_b.get<float>(), kVisionLayerNormEps,
                            stream_);
      std::vector<int32_t> xy;
      for (const auto& [px, py] : s.positions) {
        xy.push_back(px);
        xy.push_back(py);
      }
      DeviceBuffer dxy(xy.size() * sizeof(int32_t), "vision positions");
      G4_CUDA_CALL(cudaMemcpyAsync(dxy.get(), xy.data(), xy.size() * sizeof(int32_t), cudaMemcpyHostToDevice,
                                   stream_));
      cudak::posemb_add(ep, n, E, v.pos_embedding.get<float>(), dxy.get<int32_t>(), stream_);
      cudak::layernorm_rows(ep, n, E, v.pos_norm_w.get<float>(), v.pos_norm_b.get<float>(),
                            kVisionLayerNormEps, stream_);
      cudak::rmsnorm_rows(ep, E, n, E, nullptr, static_cast<float>(cfg.vision.rms_norm_eps), false, nullptr,
                          0, ep, E, stream_);
      float* dst = out + img_row * H;
      gemm_f32(blas, v.projection.get<float>(), H, E, ep, E, n, dst, H);
      cudak::round_bf16_inplace(dst, s.n * H, stream_);
      img_row += s.n;
      sync();  // the temporaries are freed at scope exit
    } else {
      const int A = static_cast<int>(cfg.audio.audio_embed_dim);
      cudak::rmsnorm_rows(xp, A, n, A, nullptr, static_cast<float>(cfg.audio.rms_norm_eps), false, nullptr, 0,
                          xp, A, stream_);
      float* dst = out + aud_row * H;
      gemm_f32(blas, m_->audio.projection.get<float>(), H, A, xp, A, n, dst, H);
      cudak::round_bf16_inplace(dst, s.n * H, stream_);
      aud_row += s.n;
      sync();
    }
  }
  if (n_image > 0) emit_f32(trace, "vision.tokens", {n_image, H}, out);
  if (n_audio > 0) emit_f32(trace, "audio.tokens", {n_audio, H}, out + img_tokens * H);
  int32_t next_image = 0, next_audio = static_cast<int32_t>(img_tokens);
  for (size_t t = 0; t < in.ids.size(); ++t) {
    if (in.ids[t] == cfg.image_token_id) md.pairs.emplace_back(static_cast<int64_t>(t), next_image++);
    if (in.ids[t] == cfg.audio_token_id) md.pairs.emplace_back(static_cast<int64_t>(t), next_audio++);
  }
  return md;
}

void CudaSession::forward(int64_t T, int64_t pos0, bool has_blocks, int n_pairs, const float* media,
                          const StepHooks* hooks) {
  const TextConfig& tc = m_->cfg.text;
  const int64_t H = tc.hidden_size, I = tc.intermediate_size, Hq = tc.num_attention_heads;
  const float eps = static_cast<float>(tc.rms_norm_eps);
  const TraceFn* tr = hooks != nullptr ? hooks->trace : nullptr;
  const LayerInputFn* li = hooks != nullptr ? hooks->layer_input : nullptr;
  const bool hooking = li != nullptr && *li;
  cublasHandle_t blas = blas_->get();
  const int* d_pos = step_.get<int32_t>();
  const int32_t* d_ids = step_.get<int32_t>() + 1;
  float* h = h_.get<float>();
  uint16_t* xin = xin_.get<uint16_t>();
  const int Ti = static_cast<int>(T);
  const cudak::XQOut xq_out{work_.xq, work_.xd, work_.xs};

  auto layer_input = [&](int64_t layer) {
    if (!hooking) return;
    std::vector<float> host(static_cast<size_t>(T * H));
    G4_CUDA_CALL(
        cudaMemcpyAsync(host.data(), h, host.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    sync();
    (*li)(layer, host);
    G4_CUDA_CALL(
        cudaMemcpyAsync(h, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice, stream_));
    sync();
  };

  cudak::embed_rows(m_->embed.m, d_ids, Ti, m_->embed_scale, h, stream_);
  if (n_pairs > 0) cudak::scatter_rows(media, pairs_.get<int32_t>(), n_pairs, H, h, stream_);
  emit_f32(tr, "embed", {T, H}, h);

  bool x_ready = false;  // the previous layer's post_ffn already wrote this layer's input norm
  for (int64_t i = 0; i < tc.num_hidden_layers; ++i) {
    const LayerDev& L = m_->layers[static_cast<size_t>(i)];
    const int64_t D = L.D, Hkv = L.Hkv, qkv_ld = L.qkv.m.rows;
    const std::string pre = "layers." + std::to_string(i) + ".";
    layer_input(i);

    const bool qkv_xq = wants_xq(L.qkv.m, T);
    if (!x_ready)
      cudak::rmsnorm_rows(h, H, Ti, static_cast<int>(H), L.input_norm, eps, false, xin, H, nullptr, 0,
                          stream_, qkv_xq ? xq_out : cudak::XQOut{});
    emit_bf16(tr, pre + "attn_in", {T, H}, xin);
    linear(blas, stream_, work_, L.qkv.m, T, xin, H, qkv_.get<float>(), qkv_ld, qkv_xq);

    cudak::QkvParams qp;
    qp.qkv = qkv_.get<float>();
    qp.ld = qkv_ld;
    qp.v_col = L.v_col;
    qp.T = Ti;
    qp.Hq = static_cast<int>(Hq);
    qp.Hkv = static_cast<int>(Hkv);
    qp.D = static_cast<int>(D);
    qp.q_norm = L.q_norm;
    qp.k_norm = L.k_norm;
    qp.eps = eps;
    qp.inv_freq = L.inv_freq;
    qp.pos0 = d_pos;
    qp.q_out = q_.get<uint16_t>();
    qp.k_out = kout_.get<uint16_t>();
    qp.v_out = vout_.get<uint16_t>();
    qp.k_cache = kc_[static_cast<size_t>(i)].get<uint16_t>();
    qp.v_cache = vc_[static_cast<size_t>(i)].get<uint16_t>();
    qp.cap = cap_[static_cast<size_t>(i)];
    cudak::qkv_norm_rope(qp, stream_);
    emit_bf16(tr, pre + "q", {T, Hq, D}, qp.q_out);
    emit_bf16(tr, pre + "k", {T, Hkv, D}, qp.k_out);
    emit_bf16(tr, pre + "v", {T, Hkv, D}, qp.v_out);

    // Decode plans on the cache capacity, not the position, so every step (and the captured graph) agrees.
    const int64_t cap = cap_[static_cast<size_t>(i)];
    const int64_t span = T == 1 ? (L.sliding ? std::min<int64_t>(cap, tc.sliding_window) : cap)
                                : (L.sliding ? std::min(cap, tc.sliding_window - 1 + T) : pos0 + T);
    const AttnPlan ap = plan_attention(T, Hq, Hkv, D, span, m_->num_sms, kPartFloats);
    cudak::AttnParams a;
    a.q = qp.q_out;
    a.k_cache = qp.k_cache;
    a.v_cache = qp.v_cache;
    a.cap = cap;
    a.T = Ti;
    a.Hq = qp.Hq;
    a.Hkv = qp.Hkv;
    a.D = qp.D;
    a.pos0 = d_pos;
    a.sliding = L.sliding;
    a.window = static_cast<int>(tc.sliding_window);
    if (has_blocks) {
      const size_t C = static_cast<size_t>(chunk_cap_);
      a.block_id = blocks_.get<int32_t>();
      a.block_lo = blocks_.get<int32_t>() + C;
      a.block_hi = blocks_.get<int32_t>() + 2 * C;
    }
    a.bq = ap.bq;
    a.nsplit = ap.nsplit;
    a.out = attn_.get<uint16_t>();
    a.part_o = part_o_.get<float>();
    a.part_ml = part_ml_.get<float>();
    cudak::attention(a, stream_);
    emit_bf16(tr, pre + "attn", {T, Hq * D}, a.out);

    float* proj = proj_.get<float>();
    uint16_t* normout = normout_.get<uint16_t>();
    linear(blas, stream_, work_, L.o.m, T, a.out, Hq * D, proj, H);
    const bool gu_xq = wants_xq(L.gate_up.m, T);
    cudak::post_attention(proj, L.post_attn_norm, L.pre_ffn_norm, eps, Ti, static_cast<int>(H), h, normout,
                          xin, stream_, gu_xq ? xq_out : cudak::XQOut{});
    emit_bf16(tr, pre + "attn_out", {T, H}, normout);
    emit_f32(tr, pre + "mid", {T, H}, h);
    emit_bf16(tr, pre + "ffn_in", {T, H}, xin);

    linear(blas, stream_, work_, L.gate_up.m, T, xin, H, gate_up_.get<float>(), 2 * I, gu_xq);
    const bool down_xq = wants_xq(L.down.m, T);
    cudak::gelu_mul(gate_up_.get<float>(), Ti, I, act_.get<uint16_t>(), stream_,
                    down_xq ? xq_out : cudak::XQOut{});
    emit_bf16(tr, pre + "ffn_act", {T, I}, act_.get<uint16_t>());
    linear(blas, stream_, work_, L.down.m, T, act_.get<uint16_t>(), I, proj, H, down_xq);
    // Without a layer-input hook the next layer's input norm rides along (one launch fewer per layer).
    const LayerDev* next =
        !hooking && i + 1 < tc.num_hidden_layers ? &m_->layers[static_cast<size_t>(i + 1)] : nullptr;
    cudak::post_ffn(proj, L.post_ffn_norm, L.layer_scalar, eps, Ti, static_cast<int>(H), h, normout, stream_,
                    next != nullptr ? next->input_norm : nullptr, xin,
                    next != nullptr && wants_xq(next->qkv.m, T) ? xq_out : cudak::XQOut{});
    x_ready = next != nullptr;
    emit_bf16(tr, pre + "ffn_out", {T, H}, normout);
    emit_f32(tr, pre + "out", {T, H}, h);
  }
  layer_input(tc.num_hidden_layers);
  // A decode step's LM head reads the quantized form of this row (capture_decode); prefill quantizes its
  // rows.
  const bool head_xq = T == 1 && wants_xq(m_->embed.m, 1);
  cudak::rmsnorm_rows(h, H, Ti, static_cast<int>(H), m_->final_norm.get<float>(), eps, false, xin, H, nullptr,
                      0, stream_, head_xq ? xq_out : cudak::XQOut{});
  emit_bf16(tr, "final_norm", {T, H}, xin);
}

void CudaSession::logits_to_host(int64_t r0, int64_t n, float* out) {
  const TextConfig& tc = m_->cfg.text;
  const int64_t H = tc.hidden_size, V = tc.vocab_size;
  const int64_t group = std::min(kLogitRows, chunk_cap_);
  for (int64_t r = r0; r < r0 + n; r += group) {
    const int64_t g = std::min(group, r0 + n - r);
    linear(blas_->get(), stream_, work_, m_->embed.m, g, xin_.get<uint16_t>() + r * H, H,
           logits_.get<float>(), V);
    cudak::softcap(logits_.get<float>(), g * V, static_cast<float>(tc.final_logit_softcapping),
                   logits_.get<float>(), stream_);
    G4_CUDA_CALL(cudaMemcpyAsync(out + (r - r0) * V, logits_.get<float>(),
                                 static_cast<size_t>(g * V) * sizeof(float), cudaMemcpyDeviceToHost,
                                 stream_));
    sync();
  }
}

std::vector<float> CudaSession::prefill(const ForwardInput& in, LogitsWanted want, const StepHooks& hooks) {
  const ModelConfig& cfg = m_->cfg;
  const int64_t T = static_cast<int64_t>(in.ids.size()), V = cfg.text.vocab_size;
  if (T == 0) fail_input(kWhere, "no token ids");
  for (const int32_t id : in.ids)
    if (id < 0 || id >= V)
      fail_input(kWhere, "token id " + std::to_string(id) + " outside [0, " + std::to_string(V) + ")");
  if (len_ + T > max_ctx_)
    fail_input(kWhere, "the sequence would reach " + std::to_string(len_ + T) +
                           " tokens, past the session's " + "max_context of " + std::to_string(max_ctx_));
  const TraceFn* tr = hooks.trace;
  const bool tracing = tr != nullptr && *tr;
  const bool hooked = tracing || (hooks.layer_input != nullptr && *hooks.layer_input);
  if (hooked && T > chunk_cap_)
    fail_input(kWhere, "a traced or hooked prefill holds at most " + std::to_string(chunk_cap_) +
                           " tokens on the CUDA backend (one chunk), got " + std::to_string(T));

  Media media = embed_media(in, tr);
  const std::vector<int64_t> blocks = vision_block_ids(cfg, in.ids, next_block_);
  for (const int64_t b : blocks) next_block_ = std::max(next_block_, b + 1);
  const std::vector<Chunk> chunks = hooked ? std::vector<Chunk>{{0, T}} : plan_chunks(blocks, chunk_cap_);

  std::vector<float> out;
  if (want == LogitsWanted::All) out.resize(static_cast<size_t>(T * V));
  if (want == LogitsWanted::Last) out.resize(static_cast<size_t>(V));
  for (const Chunk& c : chunks) {
    const int64_t Tc = c.end - c.begin, pos0 = len_;
    std::vector<int32_t> step(static_cast<size_t>(Tc + 1));
    step[0] = static_cast<int32_t>(pos0);
    std::copy(in.ids.begin() + c.begin, in.ids.begin() + c.end, step.begin() + 1);
    G4_CUDA_CALL(cudaMemcpyAsync(step_.get(), step.data(), step.size() * sizeof(int32_t),
                                 cudaMemcpyHostToDevice, stream_));
    const ChunkBlocks cb = chunk_blocks(
        std::span<const int64_t>(blocks).subspan(static_cast<size_t>(c.begin), static_cast<size_t>(Tc)),
        pos0);
    if (!cb.id.empty()) {
      const size_t C = static_cast<size_t>(chunk_cap_), n = cb.id.size() * sizeof(int32_t);
      int32_t* d = blocks_.get<int32_t>();
      G4_CUDA_CALL(cudaMemcpyAsync(d, cb.id.data(), n, cudaMemcpyHostToDevice, stream_));
      G4_CUDA_CALL(cudaMemcpyAsync(d + C, cb.lo.data(), n, cudaMemcpyHostToDevice, stream_));
      G4_CUDA_CALL(cudaMemcpyAsync(d + 2 * C, cb.hi.data(), n, cudaMemcpyHostToDevice, stream_));
    }
    std::vector<int32_t> pairs;
    for (const auto& [t, row] : media.pairs)
      if (t >= c.begin && t < c.end) {
        pairs.push_back(static_cast<int32_t>(t - c.begin));
        pairs.push_back(row);
      }
    if (!pairs.empty())
      G4_CUDA_CALL(cudaMemcpyAsync(pairs_.get(), pairs.data(), pairs.size() * sizeof(int32_t),
                                   cudaMemcpyHostToDevice, stream_));
    forward(Tc, pos0, !cb.id.empty(), static_cast<int>(pairs.size() / 2), media.tokens.get<float>(), &hooks);
    sync();  // the host vectors above are released at the end of this iteration
    len_ += Tc;

    if (tracing) {  // one chunk: logits of every row for the trace
      std::vector<float> all(static_cast<size_t>(Tc * V));
      logits_to_host(0, Tc, all.data());
      (*tr)("logits", {Tc, V}, all);
      if (want == LogitsWanted::All) out = std::move(all);
      if (want == LogitsWanted::Last) std::copy(all.end() - V, all.end(), out.begin());
    } else if (want == LogitsWanted::All) {
      logits_to_host(0, Tc, out.data() + c.begin * V);
    } else if (want == LogitsWanted::Last && c.end == T) {
      logits_to_host(Tc - 1, 1, out.data());
    }
  }
  return out;
}

void CudaSession::capture_decode() {
  const int64_t V = m_->cfg.text.vocab_size;
  cudaGraph_t g = nullptr;
  G4_CUDA_CALL(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  try {
    forward(1, 0, false, 0, nullptr, nullptr);
    linear(blas_->get(), stream_, work_, m_->embed.m, 1, xin_.get<uint16_t>(), m_->cfg.text.hidden_size,
           logits_.get<float>(), V, wants_xq(m_->embed.m, 1));
    cudak::softcap(logits_.get<float>(), V, static_cast<float>(m_->cfg.text.final_logit_softcapping),
                   logits_.get<float>(), stream_);
  } catch (...) {
    cudaStreamEndCapture(stream_, &g);
    if (g != nullptr) cudaGraphDestroy(g);
    throw;
  }
  G4_CUDA_CALL(cudaStreamEndCapture(stream_, &g));
  const cudaError_t err = cudaGraphInstantiate(&graph_, g, 0);
  cudaGraphDestroy(g);
  G4_CUDA_CALL(err);
}

std::vector<float> CudaSession::decode(int32_t id, const StepHooks& hooks) {
  const ModelConfig& cfg = m_->cfg;
  const int64_t V = cfg.text.vocab_size;
  const bool hooked =
      (hooks.trace != nullptr && *hooks.trace) || (hooks.layer_input != nullptr && *hooks.layer_input);
  const bool media_id = id == cfg.image_token_id || id == cfg.audio_token_id || id == cfg.video_token_id;
  if (hooked || media_id) {  // eager path (the prefill checks placeholders and bounds)
    ForwardInput in;
    in.ids = {id};
    return prefill(in, LogitsWanted::Last, hooks);
  }
  if (id < 0 || id >= V)
    fail_input(kWhere, "token id " + std::to_string(id) + " outside [0, " + std::to_string(V) + ")");
  if (len_ + 1 > max_ctx_)
    fail_input(kWhere, "the sequence would reach " + std::to_string(len_ + 1) +
                           " tokens, past the session's " + "max_context of " + std::to_string(max_ctx_));
  int32_t* step = step_host_.get<int32_t>();
  step[0] = static_cast<int32_t>(len_);
  step[1] = id;
  G4_CUDA_CALL(cudaMemcpyAsync(step_.get(), step, 2 * sizeof(int32_t), cudaMemcpyHostToDevice, stream_));
  if (graph_ == nullptr) capture_decode();
  G4_CUDA_CALL(cudaGraphLaunch(graph_, stream_));
  float* lh = logits_host_.get<float>();
  G4_CUDA_CALL(cudaMemcpyAsync(lh, logits_.get<float>(), static_cast<size_t>(V) * sizeof(float),
                               cudaMemcpyDeviceToHost, stream_));
  sync();
  len_ += 1;
  return std::vector<float>(lh, lh + V);
}

class CudaModel final : public Model {
 public:
  explicit CudaModel(std::shared_ptr<const ModelDev> m) : m_(std::move(m)) {}
  std::string backend() const override { return "cuda"; }
  std::string plan() const override { return m_->plan.describe(); }
  const ModelConfig& config() const override { return m_->cfg; }
  std::unique_ptr<Session> session(int64_t max_context) const override {
    if (max_context < 0) fail_input("max_context", "must be positive");
    return std::make_unique<CudaSession>(
        m_, max_context > 0 ? max_context : m_->cfg.text.max_position_embeddings);
  }
  MemoryUse memory() const override { return {m_->weight_bytes, device_bytes_in_use()}; }

 private:
  std::shared_ptr<const ModelDev> m_;
};

}  // namespace

std::unique_ptr<Model> make_cuda_model(const ModelConfig& cfg, EngineWeights weights, const EngineOptions&) {
  return std::make_unique<CudaModel>(upload_model(cfg, std::move(weights)));
}

std::unique_ptr<Model> make_cuda_shape_only_model(const ModelConfig& cfg, const WeightPlan& plan,
                                                  uint64_t seed) {
  return std::make_unique<CudaModel>(random_model(cfg, plan, seed));
}

}  // namespace g4::engine::cuda
