// Device copies of the model's weights (dev_model.h).
#include "engine/cuda/dev_model.h"

#include <cuda_runtime.h>

#include <cmath>
#include <initializer_list>
#include <string>

#include "core/error.h"
#include "engine/cuda/check.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/plan.h"
#include "engine/cuda/repack.h"

namespace g4::engine::cuda {
namespace {

using cudak::WFormat;

// Shapes the kernels support; anything else is an InputError naming the config.
void check_config(const ModelConfig& cfg) {
  const TextConfig& tc = cfg.text;
  const auto fail = [](const std::string& what) { fail_input("cuda", what); };
  if (tc.hidden_size % 256 != 0 || tc.intermediate_size % 256 != 0)
    fail("hidden_size and intermediate_size must be multiples of 256 for the CUDA backend");
  for (int64_t i = 0; i < tc.num_hidden_layers; ++i) {
    const int64_t D = tc.layer_head_dim(i), Hkv = tc.layer_kv_heads(i);
    if (D != 64 && D != 128 && D != 256 && D != 512)
      fail("layer " + std::to_string(i) + " has head_dim " + std::to_string(D) +
           "; the CUDA attention kernel supports 64, 128, 256 and 512");
    if (Hkv <= 0 || tc.num_attention_heads % Hkv != 0)
      fail("layer " + std::to_string(i) + ": query heads must be a multiple of kv heads");
  }
}

DevMatrixBuf upload_stack(std::span<const QTensor* const> parts, const std::string& what) {
  std::vector<uint8_t> bytes = repack_rows(parts);
  DevMatrixBuf r;
  r.buf = DeviceBuffer(bytes.size(), what);
  G4_CUDA_CALL(cudaMemcpy(r.buf.get(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  int64_t rows = 0;
  for (const QTensor* p : parts) rows += p->rows;
  r.m = cudak::make_dev_matrix(to_wformat(parts[0]->format), rows, parts[0]->cols, r.buf.get<uint8_t>());
  return r;
}

DevMatrixBuf random_matrix(quant::Format f, int64_t rows, int64_t cols, uint64_t seed, uint64_t stream_id,
                           const std::string& what) {
  const WFormat wf = to_wformat(f);
  if (cols % cudak::format_block_elems(wf) != 0)
    fail_input("cuda", what + ": " + std::to_string(cols) + " columns are not a whole number of blocks");
  DevMatrixBuf r;
  r.buf = DeviceBuffer(static_cast<size_t>(cudak::matrix_bytes(wf, rows, cols)), what);
  r.m = cudak::make_dev_matrix(wf, rows, cols, r.buf.get<uint8_t>());
  cudak::init_matrix(r.m, seed, stream_id, 0.02f, nullptr);
  return r;
}

// The per-layer f32 vectors, one buffer; pointers set from their offsets.
void set_params(LayerDev& L, const ModelConfig& cfg, int64_t layer, std::span<const float> in_n,
                std::span<const float> pa_n, std::span<const float> pf_n, std::span<const float> po_n,
                std::span<const float> q_n, std::span<const float> k_n) {
  const TextConfig& tc = cfg.text;
  const std::vector<float> inv = rope_inv_freq(tc.layer_rope(layer), L.D);
  std::vector<float> all;
  std::vector<size_t> off;
  for (std::span<const float> v : {in_n, pa_n, pf_n, po_n, q_n, k_n, std::span<const float>(inv)}) {
    off.push_back(all.size());
    all.insert(all.end(), v.begin(), v.end());
  }
  L.params = upload_floats(all, "layer " + std::to_string(layer) + " norms");
  const float* base = L.params.get<float>();
  L.input_norm = base + off[0];
  L.post_attn_norm = base + off[1];
  L.pre_ffn_norm = base + off[2];
  L.post_ffn_norm = base + off[3];
  L.q_norm = base + off[4];
  L.k_norm = base + off[5];
  L.inv_freq = base + off[6];
}

void set_shape(LayerDev& L, const TextConfig& tc, int64_t i) {
  L.sliding = !tc.is_full(i);
  L.D = static_cast<int>(tc.layer_head_dim(i));
  L.Hkv = static_cast<int>(tc.layer_kv_heads(i));
  L.v_col = tc.layer_has_v_proj(i) ? (tc.num_attention_heads + L.Hkv) * L.D : tc.num_attention_heads * L.D;
}

void finish(ModelDev& m) {
  const TextConfig& tc = m.cfg.text;
  m.num_sms = device_sm_count();
  m.embed_scale = cudak::round_bf16(static_cast<float>(std::sqrt(static_cast<double>(tc.hidden_size))));
  m.weight_bytes = m.embed.buf.bytes() + m.final_norm.bytes();
  for (const LayerDev& L : m.layers) {
    m.weight_bytes +=
        L.qkv.buf.bytes() + L.o.buf.bytes() + L.gate_up.buf.bytes() + L.down.buf.bytes() + L.params.bytes();
    m.max_qkv_rows = std::max(m.max_qkv_rows, L.qkv.m.rows);
    m.max_head_dim = std::max<int64_t>(m.max_head_dim, L.D);
    m.max_kv_heads = std::max<int64_t>(m.max_kv_heads, L.Hkv);
  }
  const VisionDev& v = m.vision;
  for (const DeviceBuffer* b : std::initializer_list<const DeviceBuffer*>{
           &v.ln1_w, &v.ln1_b, &v.dense_w, &v.dense_b, &v.ln2_w, &v.ln2_b, &v.pos_norm_w, &v.pos_norm_b,
           &v.pos_embedding, &v.projection, &m.audio.projection})
    m.weight_bytes += b->bytes();
  G4_CUDA_CALL(cudaDeviceSynchronize());
}

}  // namespace

DeviceBuffer upload_floats(std::span<const float> v, std::string_view what) {
  DeviceBuffer b(v.size() * sizeof(float), what);
  if (!v.empty())
    G4_CUDA_CALL(cudaMemcpy(b.get(), v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice));
  return b;
}

std::shared_ptr<const ModelDev> upload_model(const ModelConfig& cfg, EngineWeights w) {
  require_device();
  check_config(cfg);
  const TextConfig& tc = cfg.text;
  auto m = std::make_shared<ModelDev>();
  m->cfg = cfg;
  m->plan = w.plan;
  {
    const QTensor* e[] = {&w.embed};
    m->embed = upload_stack(e, "embed_tokens");
    w.embed = {};
  }
  m->final_norm = upload_floats(w.final_norm, "final norm");
  for (int64_t i = 0; i < tc.num_hidden_layers; ++i) {
    EngineLayerWeights& lw = w.layers[static_cast<size_t>(i)];
    LayerDev L;
    set_shape(L, tc, i);
    const std::string pre = "layer " + std::to_string(i) + " ";
    std::vector<const QTensor*> qkv = {&lw.q_proj, &lw.k_proj};
    if (lw.v_proj.rows > 0) qkv.push_back(&lw.v_proj);
    G4_CHECK((lw.v_proj.rows > 0) == tc.layer_has_v_proj(i), "v_proj presence must follow attention_k_eq_v");
    L.qkv = upload_stack(qkv, pre + "q|k|v weights");
    const QTensor* o[] = {&lw.o_proj};
    L.o = upload_stack(o, pre + "o_proj weights");
    const QTensor* gu[] = {&lw.gate_proj, &lw.up_proj};
    L.gate_up = upload_stack(gu, pre + "gate|up weights");
    const QTensor* dn[] = {&lw.down_proj};
    L.down = upload_stack(dn, pre + "down_proj weights");
    L.layer_scalar = lw.layer_scalar;
    set_params(L, cfg, i, lw.input_norm, lw.post_attn_norm, lw.pre_ffn_norm, lw.post_ffn_norm, lw.q_norm,
               lw.k_norm);
    lw = {};  // host copy no longer needed
    m->layers.push_back(std::move(L));
  }
  if (w.vision.present) {
    const EngineVisionWeights& v = w.vision;
    VisionDev& d = m->vision;
    d.present = true;
    d.ln1_w = upload_floats(v.ln1_w, "vision ln1");
    d.ln1_b = upload_floats(v.ln1_b, "vision ln1");
    d.dense_w = upload_floats(v.dense_w, "vision patch_dense");
    d.dense_b = upload_floats(v.dense_b, "vision patch_dense");
    d.ln2_w = upload_floats(v.ln2_w, "vision ln2");
    d.ln2_b = upload_floats(v.ln2_b, "vision ln2");
    d.pos_norm_w = upload_floats(v.pos_norm_w, "vision pos_norm");
    d.pos_norm_b = upload_floats(v.pos_norm_b, "vision pos_norm");
    d.pos_embedding = upload_floats(v.pos_embedding, "vision position table");
    d.projection = upload_floats(v.projection, "vision projection");
  }
  if (w.audio.present) {
    m->audio.present = true;
    m->audio.projection = upload_floats(w.audio.projection, "audio projection");
  }
  finish(*m);
  return m;
}

std::shared_ptr<const ModelDev> random_model(const ModelConfig& cfg, const WeightPlan& plan, uint64_t seed) {
  require_device();
  check_config(cfg);
  const TextConfig& tc = cfg.text;
  const int64_t H = tc.hidden_size, I = tc.intermediate_size, Hq = tc.num_attention_heads;
  auto m = std::make_shared<ModelDev>();
  m->cfg = cfg;
  m->plan = plan;
  uint64_t stream_id = 0;
  m->embed = random_matrix(plan.embed, tc.vocab_size, H, seed, stream_id++, "embed_tokens");
  const std::vector<float> ones(static_cast<size_t>(H), 1.0f);
  m->final_norm = upload_floats(ones, "final norm");
  for (int64_t i = 0; i < tc.num_hidden_layers; ++i) {
    LayerDev L;
    set_shape(L, tc, i);
    const std::string pre = "layer " + std::to_string(i) + " ";
    const int64_t qkv_rows = (Hq + L.Hkv * (tc.layer_has_v_proj(i) ? 2 : 1)) * L.D;
    L.qkv = random_matrix(plan.attn, qkv_rows, H, seed, stream_id++, pre + "q|k|v weights");
    L.o = random_matrix(plan.attn, H, Hq * L.D, seed, stream_id++, pre + "o_proj weights");
    L.gate_up = random_matrix(plan.ffn, 2 * I, H, seed, stream_id++, pre + "gate|up weights");
    L.down = random_matrix(plan.ffn, H, I, seed, stream_id++, pre + "down_proj weights");
    // q/k norm weights near D^(-1/4) keep scores O(1) (DESIGN, "random weights need care").
    const std::vector<float> qk(static_cast<size_t>(L.D), static_cast<float>(std::pow(L.D, -0.25)));
    set_params(L, cfg, i, ones, ones, ones, ones, qk, qk);
    m->layers.push_back(std::move(L));
  }
  finish(*m);
  return m;
}

}  // namespace g4::engine::cuda
