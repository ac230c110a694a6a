// ModelConfig / GenerationConfig -> HF JSON layout, and the google/gemma-4-12B configuration as code
// (spec §1.1; tests check both against tests/fixtures/gemma-4-12b/config.json).
#include "core/config.h"

namespace g4 {

using nlohmann::json;

namespace {

// Absent partial_rotary_factor / factor mean 1.0, so they are written only when they matter; "proportional"
// always names its factor, as HF's config does.
json rope_to_json(const RopeParams& r) {
  json j = {{"rope_type", r.rope_type}, {"rope_theta", r.rope_theta}};
  if (r.rope_type == "proportional" || r.partial_rotary_factor != 1.0)
    j["partial_rotary_factor"] = r.partial_rotary_factor;
  if (r.factor != 1.0) j["factor"] = r.factor;
  return j;
}

json text_to_json(const TextConfig& t) {
  json layer_types = json::array();
  for (LayerType lt : t.layer_types) layer_types.push_back(std::string(layer_type_name(lt)));
  return {
      {"model_type", t.model_type},
      {"vocab_size", t.vocab_size},
      {"hidden_size", t.hidden_size},
      {"intermediate_size", t.intermediate_size},
      {"num_hidden_layers", t.num_hidden_layers},
      {"num_attention_heads", t.num_attention_heads},
      {"num_key_value_heads", t.num_key_value_heads},
      {"head_dim", t.head_dim},
      {"global_head_dim", t.global_head_dim},
      {"num_global_key_value_heads", t.num_global_key_value_heads},
      {"attention_k_eq_v", t.attention_k_eq_v},
      {"hidden_activation", t.hidden_activation},
      {"max_position_embeddings", t.max_position_embeddings},
      {"initializer_range", t.initializer_range},
      {"rms_norm_eps", t.rms_norm_eps},
      {"use_cache", t.use_cache},
      {"pad_token_id", t.pad_token_id},
      {"eos_token_id", t.eos_token_id},
      {"bos_token_id", t.bos_token_id},
      {"tie_word_embeddings", t.tie_word_embeddings},
      {"rope_parameters",
       {{"sliding_attention", rope_to_json(t.rope_sliding)}, {"full_attention", rope_to_json(t.rope_full)}}},
      {"attention_bias", t.attention_bias},
      {"attention_dropout", t.attention_dropout},
      {"sliding_window", t.sliding_window},
      {"layer_types", layer_types},
      {"final_logit_softcapping", t.final_logit_softcapping},
      {"use_bidirectional_attention",
       t.use_bidirectional_attention.empty() ? json(nullptr) : json(t.use_bidirectional_attention)},
      {"num_kv_shared_layers", t.num_kv_shared_layers},
      {"hidden_size_per_layer_input", t.hidden_size_per_layer_input},
      {"use_double_wide_mlp", t.use_double_wide_mlp},
      {"enable_moe_block", t.enable_moe_block},
  };
}

}  // namespace

json to_json(const ModelConfig& c) {
  return {
      {"architectures", c.architectures},
      {"model_type", c.model_type},
      {"dtype", c.dtype},
      {"boi_token_id", c.boi_token_id},
      {"eoi_token_id", c.eoi_token_id},
      {"image_token_id", c.image_token_id},
      {"video_token_id", c.video_token_id},
      {"boa_token_id", c.boa_token_id},
      {"eoa_token_index", c.eoa_token_index},
      {"audio_token_id", c.audio_token_id},
      {"initializer_range", c.initializer_range},
      {"tie_word_embeddings", c.tie_word_embeddings},
      {"text_config", text_to_json(c.text)},
      {"vision_config",
       {{"model_type", c.vision.model_type},
        {"patch_size", c.vision.patch_size},
        {"pooling_kernel_size", c.vision.pooling_kernel_size},
        {"mm_embed_dim", c.vision.mm_embed_dim},
        {"mm_posemb_size", c.vision.mm_posemb_size},
        {"rms_norm_eps", c.vision.rms_norm_eps},
        {"output_proj_dims", c.vision.output_proj_dims},
        {"initializer_range", c.vision.initializer_range}}},
      {"audio_config",
       {{"model_type", c.audio.model_type},
        {"audio_embed_dim", c.audio.audio_embed_dim},
        {"rms_norm_eps", c.audio.rms_norm_eps},
        {"initializer_range", c.audio.initializer_range}}},
  };
}

// min_p 0 is HF's "unset" and is omitted, as HF omits unset fields; everything else is always written.
json to_json(const GenerationConfig& g) {
  json j = {
      {"bos_token_id", g.bos_token_id},
      {"pad_token_id", g.pad_token_id},
      {"eos_token_id", g.eos_token_id},
      {"do_sample", g.do_sample},
      {"temperature", g.temperature},
      {"top_k", g.top_k},
      {"top_p", g.top_p},
      {"suppress_tokens", g.suppress_tokens},
  };
  if (g.min_p != 0.0) j["min_p"] = g.min_p;
  return j;
}

ModelConfig gemma4_12b_config() {
  ModelConfig c;
  c.architectures = {"Gemma4UnifiedForConditionalGeneration"};
  c.model_type = "gemma4_unified";
  c.dtype = "bfloat16";
  c.boi_token_id = 255999;
  c.eoi_token_id = 258882;
  c.image_token_id = 258880;
  c.video_token_id = 258884;
  c.boa_token_id = 256000;
  c.eoa_token_index = 258883;
  c.audio_token_id = 258881;
  c.initializer_range = 0.02;
  c.tie_word_embeddings = true;

  TextConfig& t = c.text;
  t.vocab_size = 262144;
  t.hidden_size = 3840;
  t.intermediate_size = 4 * 3840;
  t.num_hidden_layers = 48;
  t.num_attention_heads = 16;
  t.num_key_value_heads = 8;
  t.head_dim = 256;
  t.global_head_dim = 512;
  t.num_global_key_value_heads = 1;
  t.attention_k_eq_v = true;
  t.hidden_activation = "gelu_pytorch_tanh";
  t.max_position_embeddings = 262144;
  t.initializer_range = 0.02;
  t.rms_norm_eps = 1e-6;
  t.use_cache = true;
  t.pad_token_id = 0;
  t.eos_token_id = 1;
  t.bos_token_id = 2;
  t.tie_word_embeddings = true;
  t.rope_sliding = RopeParams{"default", 10000.0, 1.0, 1.0};
  t.rope_full = RopeParams{"proportional", 1000000.0, 0.25, 1.0};
  t.attention_bias = false;
  t.attention_dropout = 0.0;
  t.sliding_window = 1024;
  // 5 sliding layers then 1 full, 8 times: full at (i + 1) % 6 == 0.
  for (int64_t i = 0; i < t.num_hidden_layers; ++i)
    t.layer_types.push_back((i + 1) % 6 == 0 ? LayerType::Full : LayerType::Sliding);
  t.final_logit_softcapping = 30.0;
  t.use_bidirectional_attention = "vision";

  c.vision.patch_size = 16;
  c.vision.pooling_kernel_size = 3;
  c.vision.mm_embed_dim = 3840;
  c.vision.mm_posemb_size = 1120;
  c.vision.rms_norm_eps = 1e-6;
  c.vision.output_proj_dims = 3840;
  c.vision.initializer_range = 0.02;

  c.audio.audio_embed_dim = 640;
  c.audio.rms_norm_eps = 1e-6;
  c.audio.initializer_range = 0.02;
  return c;
}

GenerationConfig gemma4_12b_generation_config() {
  GenerationConfig g;
  g.bos_token_id = 2;
  g.pad_token_id = 0;
  g.eos_token_id = {1, 106, 50};  // <eos>, <turn|>, <|tool_response>
  g.do_sample = true;
  g.temperature = 1.0;
  g.top_k = 64;
  g.top_p = 0.95;
  g.min_p = 0.0;
  g.suppress_tokens = {258883, 258882};  // <audio|>, <image|> (spec §3.6)
  return g;
}

}  // namespace g4
