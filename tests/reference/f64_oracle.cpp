#include "tests/reference/f64_oracle.h"

#include <cmath>
#include <stdexcept>

namespace g4::test {

namespace {

using Vec = std::vector<double>;

Vec weight(const WeightSet& ws, const std::string& name) {
  const std::vector<float> f = to_f32(ws.get(name));
  return Vec(f.begin(), f.end());
}

// y[t][o] = Σ_k x[t][k] W[o][k]
Vec matmul_wt(const Vec& x, int64_t T, int64_t in, const Vec& W, int64_t out) {
  Vec y(static_cast<size_t>(T * out), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < out; ++o) {
      double s = 0;
      for (int64_t k = 0; k < in; ++k) s += x[t * in + k] * W[o * in + k];
      y[t * out + o] = s;
    }
  return y;
}

// Normalizes every consecutive group of n values; w empty = no scale.
Vec rms(const Vec& x, int64_t n, const Vec& w, double eps) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / n; ++r) {
    double ms = 0;
    for (int64_t i = 0; i < n; ++i) ms += x[r * n + i] * x[r * n + i];
    ms /= double(n);
    for (int64_t i = 0; i < n; ++i)
      y[r * n + i] = x[r * n + i] / std::sqrt(ms + eps) * (w.empty() ? 1.0 : w[i]);
  }
  return y;
}

Vec layer_norm(const Vec& x, int64_t n, const Vec& w, const Vec& b) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / n; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[r * n + i];
    mean /= double(n);
    for (int64_t i = 0; i < n; ++i) var += (x[r * n + i] - mean) * (x[r * n + i] - mean);
    var /= double(n);
    for (int64_t i = 0; i < n; ++i)
      y[r * n + i] = (x[r * n + i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
  }
  return y;
}

// rope(x) = x*cos + rotate_half(x)*sin on one head vector of length D.
void rope(double* x, int64_t D, int64_t pos, const RopeParams& rp) {
  const int64_t half = D / 2;
  int64_t angles = half;
  if (rp.rope_type == "proportional")
    angles = static_cast<int64_t>(rp.partial_rotary_factor * double(D) / 2.0);
  Vec cosv(D), sinv(D), rot(D);
  for (int64_t i = 0; i < D; ++i) {
    const int64_t f = i % half;
    const double inv = f < angles ? 1.0 / std::pow(rp.rope_theta, double(2 * f) / double(D)) : 0.0;
    cosv[i] = std::cos(double(pos) * inv);
    sinv[i] = std::sin(double(pos) * inv);
    rot[i] = i < half ? -x[i + half] : x[i - half];
  }
  for (int64_t i = 0; i < D; ++i) x[i] = x[i] * cosv[i] + rot[i] * sinv[i];
}

}  // namespace

double nmse(const std::vector<double>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) throw std::runtime_error("nmse: size mismatch");
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += a[i] * a[i];
  }
  return num / den;
}

OracleResult oracle_forward(const ModelConfig& cfg, const WeightSet& ws, const reference::ForwardInput& in) {
  const TextConfig& tc = cfg.text;
  const int64_t T = static_cast<int64_t>(in.ids.size()), H = tc.hidden_size, V = tc.vocab_size;
  const double eps = tc.rms_norm_eps;
  OracleResult res;
  const Vec E = weight(ws, "model.language_model.embed_tokens.weight");

  // §2.2 embedding × sqrt(H), then §3.5 soft tokens replace placeholder rows.
  Vec h(static_cast<size_t>(T * H));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < H; ++d) h[t * H + d] = E[in.ids[t] * H + d] * std::sqrt(double(H));
  Vec img, aud;
  for (const auto& m : in.media) {
    Vec x(m.data.begin(), m.data.end());
    if (m.kind == reference::SoftTokenInput::Image) {
      const int64_t P = cfg.vision.patch_dim(), Em = cfg.vision.mm_embed_dim;
      const std::string v = "model.vision_embedder.";
      x = layer_norm(x, P, weight(ws, v + "patch_ln1.weight"), weight(ws, v + "patch_ln1.bias"));
      x = matmul_wt(x, m.n, P, weight(ws, v + "patch_dense.weight"), Em);
      const Vec bias = weight(ws, v + "patch_dense.bias");
      for (int64_t t = 0; t < m.n; ++t)
        for (int64_t d = 0; d < Em; ++d) x[t * Em + d] += bias[d];
      x = layer_norm(x, Em, weight(ws, v + "patch_ln2.weight"), weight(ws, v + "patch_ln2.bias"));
      const Vec pe = weight(ws, v + "pos_embedding");  // [N, 2, Em]
      for (int64_t t = 0; t < m.n; ++t)
        for (int64_t d = 0; d < Em; ++d)
          x[t * Em + d] +=
              pe[(m.positions[t].first * 2 + 0) * Em + d] + pe[(m.positions[t].second * 2 + 1) * Em + d];
      x = layer_norm(x, Em, weight(ws, v + "pos_norm.weight"), weight(ws, v + "pos_norm.bias"));
      x = rms(x, Em, {}, cfg.vision.rms_norm_eps);
      x = matmul_wt(x, m.n, Em, weight(ws, "model.embed_vision.embedding_projection.weight"), H);
      img.insert(img.end(), x.begin(), x.end());
    } else {
      const int64_t A = cfg.audio.audio_embed_dim;
      x = rms(x, A, {}, cfg.audio.rms_norm_eps);
      x = matmul_wt(x, m.n, A, weight(ws, "model.embed_audio.embedding_projection.weight"), H);
      aud.insert(aud.end(), x.begin(), x.end());
    }
  }
  if (!img.empty()) res.trace["vision.tokens"] = img;
  if (!aud.empty()) res.trace["audio.tokens"] = aud;
  int64_t ni = 0, na = 0;
  for (int64_t t = 0; t < T; ++t) {
    if (in.ids[t] == cfg.image_token_id)
      for (int64_t d = 0; d < H; ++d) h[t * H + d] = img[ni * H + d];
    if (in.ids[t] == cfg.audio_token_id)
      for (int64_t d = 0; d < H; ++d) h[t * H + d] = aud[na * H + d];
    ni += in.ids[t] == cfg.image_token_id;
    na += in.ids[t] == cfg.audio_token_id;
  }
  res.trace["embed"] = h;

  // §3.5 / §2.7: image runs form bidirectional blocks.
  auto is_img = [&](int64_t t) { return in.ids[t] == cfg.image_token_id || in.ids[t] == cfg.video_token_id; };
  auto same_block = [&](int64_t i, int64_t j) {
    if (!is_img(i) || !is_img(j)) return false;
    for (int64_t k = std::min(i, j); k <= std::max(i, j); ++k)
      if (!is_img(k)) return false;
    return true;
  };

  for (int64_t l = 0; l < tc.num_hidden_layers; ++l) {
    const std::string p = "model.language_model.layers." + std::to_string(l) + ".";
    const bool full = tc.layer_types[l] == LayerType::Full;
    const int64_t D = full ? tc.global_head_dim : tc.head_dim;
    const int64_t Hkv = full ? tc.num_global_key_value_heads : tc.num_key_value_heads;
    const int64_t Hq = tc.num_attention_heads;
    const RopeParams& rp = full ? tc.rope_full : tc.rope_sliding;

    const Vec x = rms(h, H, weight(ws, p + "input_layernorm.weight"), eps);
    Vec q = matmul_wt(x, T, H, weight(ws, p + "self_attn.q_proj.weight"), Hq * D);
    Vec kraw = matmul_wt(x, T, H, weight(ws, p + "self_attn.k_proj.weight"), Hkv * D);
    Vec vraw = full && tc.attention_k_eq_v
                   ? kraw
                   : matmul_wt(x, T, H, weight(ws, p + "self_attn.v_proj.weight"), Hkv * D);
    q = rms(q, D, weight(ws, p + "self_attn.q_norm.weight"), eps);
    Vec k = rms(kraw, D, weight(ws, p + "self_attn.k_norm.weight"), eps);
    const Vec v = rms(vraw, D, {}, eps);
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t hh = 0; hh < Hq; ++hh) rope(&q[(t * Hq + hh) * D], D, t, rp);
      for (int64_t hh = 0; hh < Hkv; ++hh) rope(&k[(t * Hkv + hh) * D], D, t, rp);
    }
    Vec o(static_cast<size_t>(T * Hq * D), 0.0);
    for (int64_t hh = 0; hh < Hq; ++hh) {
      const int64_t g = hh / (Hq / Hkv);
      for (int64_t i = 0; i < T; ++i) {
        Vec s(T, -INFINITY);
        double mx = -INFINITY;
        for (int64_t j = 0; j < T; ++j) {
          bool ok = j <= i && (full || i - j < tc.sliding_window);
          ok = ok || same_block(i, j);
          if (!ok) continue;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += q[(i * Hq + hh) * D + d] * k[(j * Hkv + g) * D + d];
          s[j] = dot;  // scaling 1.0
          mx = std::max(mx, dot);
        }
        double z = 0;
        for (int64_t j = 0; j < T; ++j) z += std::exp(s[j] - mx);
        for (int64_t j = 0; j < T; ++j) {
          const double pj = std::exp(s[j] - mx) / z;
          for (int64_t d = 0; d < D; ++d) o[(i * Hq + hh) * D + d] += pj * v[(j * Hkv + g) * D + d];
        }
      }
    }
    Vec a = matmul_wt(o, T, Hq * D, weight(ws, p + "self_attn.o_proj.weight"), H);
    a = rms(a, H, weight(ws, p + "post_attention_layernorm.weight"), eps);
    for (size_t n = 0; n < h.size(); ++n) h[n] += a[n];
    const Vec x2 = rms(h, H, weight(ws, p + "pre_feedforward_layernorm.weight"), eps);
    const int64_t I = tc.intermediate_size;
    Vec gate = matmul_wt(x2, T, H, weight(ws, p + "mlp.gate_proj.weight"), I);
    const Vec up = matmul_wt(x2, T, H, weight(ws, p + "mlp.up_proj.weight"), I);
    for (size_t n = 0; n < gate.size(); ++n) {
      const double g = gate[n];
      gate[n] = 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g))) * up[n];
    }
    Vec m = matmul_wt(gate, T, I, weight(ws, p + "mlp.down_proj.weight"), H);
    m = rms(m, H, weight(ws, p + "post_feedforward_layernorm.weight"), eps);
    const double scalar = weight(ws, p + "layer_scalar")[0];
    for (size_t n = 0; n < h.size(); ++n) h[n] = (h[n] + m[n]) * scalar;
    res.trace["layers." + std::to_string(l) + ".out"] = h;
  }
  h = rms(h, H, weight(ws, "model.language_model.norm.weight"), eps);
  res.logits = matmul_wt(h, T, H, E, V);
  const double cap = tc.final_logit_softcapping;
  if (cap > 0)
    for (double& z : res.logits) z = cap * std::tanh(z / cap);
  return res;
}

}  // namespace g4::test
