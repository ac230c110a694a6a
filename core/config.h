// Typed gemma4_unified configuration: config.json (+ text/vision/audio sub-configs) and
// generation_config.json, parsed and validated (spec §1.1, §5.4). One struct per JSON object; every field
// the spec lists is here. Per-layer shapes are derived, never stored twice.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace g4 {

enum class LayerType : uint8_t { Sliding, Full, kSentinel };
constexpr bool EnumValid(LayerType t) {
  return static_cast<uint8_t>(t) < static_cast<uint8_t>(LayerType::kSentinel);
}
// HF spelling: "sliding_attention" / "full_attention".
std::string_view layer_type_name(LayerType t);
std::optional<LayerType> layer_type_from_name(std::string_view s);

struct RopeParams {
  std::string rope_type;  // "default" | "proportional"
  double rope_theta = 10000.0;
  double partial_rotary_factor = 1.0;  // proportional only (0.25 on the 12B's full layers)
  double factor = 1.0;                 // proportional scaling factor; 1.0 when absent
  bool operator==(const RopeParams&) const = default;
};

struct TextConfig {
  std::string model_type = "gemma4_unified_text";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;         // sliding layers
  int64_t head_dim = 0;                    // sliding layers
  int64_t global_head_dim = 0;             // full layers
  int64_t num_global_key_value_heads = 0;  // full layers
  bool attention_k_eq_v = false;           // full layers: V from the raw k_proj output, no v_proj
  std::string hidden_activation;           // "gelu_pytorch_tanh"
  int64_t max_position_embeddings = 0;
  double initializer_range = 0.02;
  double rms_norm_eps = 1e-6;
  bool use_cache = true;
  int64_t pad_token_id = 0, eos_token_id = 1, bos_token_id = 2;
  bool tie_word_embeddings = true;
  RopeParams rope_sliding;  // rope_parameters.sliding_attention
  RopeParams rope_full;     // rope_parameters.full_attention
  bool attention_bias = false;
  double attention_dropout = 0.0;
  int64_t sliding_window = 0;
  std::vector<LayerType> layer_types;
  double final_logit_softcapping = 0.0;     // 0 = none
  std::string use_bidirectional_attention;  // "vision" on the 12B
  int64_t num_kv_shared_layers = 0;
  int64_t hidden_size_per_layer_input = 0;
  bool use_double_wide_mlp = false;
  bool enable_moe_block = false;

  // Derived per layer.
  bool is_full(int64_t layer) const { return layer_types.at(static_cast<size_t>(layer)) == LayerType::Full; }
  int64_t layer_head_dim(int64_t layer) const { return is_full(layer) ? global_head_dim : head_dim; }
  int64_t layer_kv_heads(int64_t layer) const {
    return is_full(layer) ? num_global_key_value_heads : num_key_value_heads;
  }
  bool layer_has_v_proj(int64_t layer) const { return !(is_full(layer) && attention_k_eq_v); }
  const RopeParams& layer_rope(int64_t layer) const { return is_full(layer) ? rope_full : rope_sliding; }
  bool operator==(const TextConfig&) const = default;
};

struct VisionConfig {
  std::string model_type = "gemma4_unified_vision";
  int64_t patch_size = 16;
  int64_t pooling_kernel_size = 3;
  int64_t mm_embed_dim = 0;
  int64_t mm_posemb_size = 0;
  double rms_norm_eps = 1e-6;
  int64_t output_proj_dims = 0;
  double initializer_range = 0.02;
  int64_t model_patch_size() const { return patch_size * pooling_kernel_size; }      // 48 px
  int64_t patch_dim() const { return model_patch_size() * model_patch_size() * 3; }  // 6912
  bool operator==(const VisionConfig&) const = default;
};

struct AudioConfig {
  std::string model_type = "gemma4_unified_audio";
  int64_t audio_embed_dim = 0;  // = samples per soft token (640 = 40 ms at 16 kHz)
  double rms_norm_eps = 1e-6;
  double initializer_range = 0.02;
  bool operator==(const AudioConfig&) const = default;
};

struct ModelConfig {
  std::vector<std::string> architectures;
  std::string model_type = "gemma4_unified";
  std::string dtype = "bfloat16";
  int64_t boi_token_id = 0, eoi_token_id = 0, image_token_id = 0, video_token_id = 0;
  int64_t boa_token_id = 0, eoa_token_index = 0, audio_token_id = 0;
  double initializer_range = 0.02;
  bool tie_word_embeddings = true;
  TextConfig text;
  VisionConfig vision;
  AudioConfig audio;
  bool operator==(const ModelConfig&) const = default;
};

struct GenerationConfig {
  int64_t bos_token_id = 2;
  int64_t pad_token_id = 0;
  std::vector<int64_t> eos_token_id;  // a scalar in the file becomes a one-element list
  bool do_sample = true;
  double temperature = 1.0;
  int64_t top_k = 64;
  double top_p = 0.95;
  double min_p = 0.0;
  std::vector<int64_t> suppress_tokens;
  bool operator==(const GenerationConfig&) const = default;
};

// Parse and validate. Every problem is an InputError naming `path` and the field, e.g.
// "DIR/config.json: text_config.layer_types has 47 entries, num_hidden_layers is 48".
// Unknown fields are ignored (real checkpoints carry extras); missing required fields are errors.
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& path);
ModelConfig load_model_config(const std::filesystem::path& file);
GenerationConfig parse_generation_config(const nlohmann::json& j, const std::string& path);
GenerationConfig load_generation_config(const std::filesystem::path& file);

// Serialize back to the HF layout; parse(to_json(c)) == c (tested) and every field is written.
nlohmann::json to_json(const ModelConfig& c);
nlohmann::json to_json(const GenerationConfig& c);

// Reads a JSON file with a size bound; malformed JSON is an InputError naming the file and the byte offset.
nlohmann::json read_json_file(const std::filesystem::path& file, size_t max_bytes = 64u << 20);
// Writes JSON (indent 1; invalid UTF-8 in strings replaced) to file.tmp, then renames it over `file`, so a
// crash never leaves a half-written result. InputError naming the file when it cannot be written.
void write_json_file(const std::filesystem::path& file, const nlohmann::json& j);

// The real google/gemma-4-12B configuration, as code (tests check it equals the fixture config.json).
ModelConfig gemma4_12b_config();
GenerationConfig gemma4_12b_generation_config();

}  // namespace g4
