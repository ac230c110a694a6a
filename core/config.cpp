// Parsing and validation of config.json / generation_config.json (spec §1.1, §5.4). Every rejection is one
// InputError line naming the file and the dotted field ("text_config.head_dim must be even, got 255").
// Serialization and the 12B config-as-code live in config_json.cpp.
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/config.h"
#include "core/error.h"

namespace g4 {

using nlohmann::json;

std::string_view layer_type_name(LayerType t) {
  switch (t) {
    case LayerType::Sliding:
      return "sliding_attention";
    case LayerType::Full:
      return "full_attention";
    case LayerType::kSentinel:
      break;
  }
  return "invalid";
}

std::optional<LayerType> layer_type_from_name(std::string_view s) {
  if (s == "sliding_attention") return LayerType::Sliding;
  if (s == "full_attention") return LayerType::Full;
  return std::nullopt;
}

namespace {

std::string json_type(const json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "float";
  return v.type_name();  // "string", "object", "array", "boolean", "null"
}

// Reads typed fields of one JSON object; `prefix` ("text_config.") makes every error name the full field.
class Fields {
 public:
  Fields(const json& obj, std::string path, std::string prefix)
      : obj_(obj), path_(std::move(path)), prefix_(std::move(prefix)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    fail_input(path_, prefix_ + field + " " + what);
  }
  const std::string& path() const { return path_; }
  const std::string& prefix() const { return prefix_; }

  bool has(const std::string& key) const { return obj_.contains(key) && !obj_.at(key).is_null(); }
  const json& at(const std::string& key) const {
    if (!has(key)) fail(key, "is missing");
    return obj_.at(key);
  }

  int64_t integer(const std::string& key) const { return as_integer(at(key), key); }
  int64_t integer(const std::string& key, int64_t fallback) const {
    return has(key) ? as_integer(obj_.at(key), key) : fallback;
  }
  // Required integer within [lo, hi].
  int64_t integer_in(const std::string& key, int64_t lo, int64_t hi) const {
    return check_range(key, integer(key), lo, hi);
  }
  int64_t integer_in(const std::string& key, int64_t lo, int64_t hi, int64_t fallback) const {
    return check_range(key, integer(key, fallback), lo, hi);
  }
  double number(const std::string& key) const { return as_number(at(key), key); }
  double number(const std::string& key, double fallback) const {
    return has(key) ? as_number(obj_.at(key), key) : fallback;
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = obj_.at(key);
    if (!v.is_boolean()) fail(key, "must be a boolean, got " + json_type(v));
    return v.get<bool>();
  }
  std::string string(const std::string& key) const { return as_string(at(key), key); }
  std::string string(const std::string& key, const std::string& fallback) const {
    return has(key) ? as_string(obj_.at(key), key) : fallback;
  }
  Fields object(const std::string& key) const {
    const json& v = at(key);
    if (!v.is_object()) fail(key, "must be an object, got " + json_type(v));
    return Fields(v, path_, prefix_ + key + ".");
  }

  int64_t as_integer(const json& v, const std::string& key) const {
    if (!v.is_number_integer()) fail(key, "must be an integer, got " + json_type(v));
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      fail(key, "is too large");
    return v.get<int64_t>();
  }

 private:
  double as_number(const json& v, const std::string& key) const {
    if (!v.is_number()) fail(key, "must be a number, got " + json_type(v));
    double d = v.get<double>();
    if (!std::isfinite(d)) fail(key, "must be finite");
    return d;
  }
  std::string as_string(const json& v, const std::string& key) const {
    if (!v.is_string()) fail(key, "must be a string, got " + json_type(v));
    return v.get<std::string>();
  }
  int64_t check_range(const std::string& key, int64_t v, int64_t lo, int64_t hi) const {
    if (v < lo || v > hi)
      fail(key,
           "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(v));
    return v;
  }

  const json& obj_;
  std::string path_;
  std::string prefix_;
};

// Sane upper bounds: far above any Gemma, low enough that every derived size fits in int64.
constexpr int64_t kMaxHidden = int64_t{1} << 20;
constexpr int64_t kMaxIntermediate = int64_t{1} << 22;
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxHeads = 1024;
constexpr int64_t kMaxHeadDim = 4096;
constexpr int64_t kMaxPositions = int64_t{1} << 31;

void expect_string(const Fields& f, const std::string& key, const std::string& want, bool required) {
  if (!required && !f.has(key)) return;
  std::string got = f.string(key);
  if (got != want) f.fail(key, "is \"" + got + "\"; only \"" + want + "\" is supported by gemma4_unified");
}

RopeParams parse_rope(const Fields& f, int64_t head_dim) {
  RopeParams r;
  r.rope_type = f.string("rope_type");
  if (r.rope_type != "default" && r.rope_type != "proportional")
    f.fail("rope_type", "is \"" + r.rope_type + "\"; known types are \"default\" and \"proportional\"");
  r.rope_theta = f.number("rope_theta");
  if (!(r.rope_theta > 0)) f.fail("rope_theta", "must be > 0");
  r.partial_rotary_factor = f.number("partial_rotary_factor", 1.0);
  if (!(r.partial_rotary_factor > 0 && r.partial_rotary_factor <= 1))
    f.fail("partial_rotary_factor", "must be in (0, 1]");
  // The rotated part is int(factor * head_dim // 2) frequency pairs (§2.6); at least one pair must rotate.
  if (static_cast<int64_t>(r.partial_rotary_factor * static_cast<double>(head_dim)) / 2 < 1)
    f.fail("partial_rotary_factor", "rotates no dimension of head_dim " + std::to_string(head_dim));
  r.factor = f.number("factor", 1.0);
  if (!(r.factor > 0)) f.fail("factor", "must be > 0");
  return r;
}

void reject_unsupported(const Fields& f, const TextConfig& t) {
  const std::string why = "is not supported by gemma4_unified (this engine implements the dense 12B only)";
  if (t.num_kv_shared_layers != 0) f.fail("num_kv_shared_layers", "> 0 " + why);
  if (t.hidden_size_per_layer_input != 0) f.fail("hidden_size_per_layer_input", "> 0 " + why);
  if (t.enable_moe_block) f.fail("enable_moe_block", "= true " + why);
  if (t.use_double_wide_mlp) f.fail("use_double_wide_mlp", "= true " + why);
  if (t.attention_bias) f.fail("attention_bias", "= true " + why);
  if (!t.tie_word_embeddings) f.fail("tie_word_embeddings", "= false " + why);
}

void parse_layer_types(const Fields& f, TextConfig& t) {
  const json& v = f.at("layer_types");
  if (!v.is_array()) f.fail("layer_types", "must be an array, got " + json_type(v));
  if (static_cast<int64_t>(v.size()) != t.num_hidden_layers)
    f.fail("layer_types", "has " + std::to_string(v.size()) + " entries, num_hidden_layers is " +
                              std::to_string(t.num_hidden_layers));
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string key = "layer_types[" + std::to_string(i) + "]";
    if (!v[i].is_string()) f.fail(key, "must be a string, got " + json_type(v[i]));
    auto type = layer_type_from_name(v[i].get<std::string>());
    if (!type)
      f.fail(key, "is \"" + v[i].get<std::string>() +
                      "\"; known types are \"sliding_attention\" and \"full_attention\"");
    t.layer_types.push_back(*type);
  }
  if (t.layer_types.back() != LayerType::Full)
    f.fail("layer_types", "last layer must be full_attention (spec §1.1), got sliding_attention");
}

TextConfig parse_text(const Fields& f) {
  TextConfig t;
  expect_string(f, "model_type", t.model_type, false);
  t.vocab_size = f.integer_in("vocab_size", 1, kMaxVocab);
  t.hidden_size = f.integer_in("hidden_size", 1, kMaxHidden);
  t.intermediate_size = f.integer_in("intermediate_size", 1, kMaxIntermediate);
  t.num_hidden_layers = f.integer_in("num_hidden_layers", 1, kMaxLayers);
  t.num_attention_heads = f.integer_in("num_attention_heads", 1, kMaxHeads);
  t.num_key_value_heads = f.integer_in("num_key_value_heads", 1, kMaxHeads);
  t.head_dim = f.integer_in("head_dim", 2, kMaxHeadDim);
  t.global_head_dim = f.integer_in("global_head_dim", 2, kMaxHeadDim);
  t.num_global_key_value_heads = f.integer_in("num_global_key_value_heads", 1, kMaxHeads);
  for (const char* key : {"head_dim", "global_head_dim"})
    if (f.integer(key) % 2 != 0)
      f.fail(key, "must be even (RoPE rotates pairs), got " + std::to_string(f.integer(key)));
  for (const char* key : {"num_key_value_heads", "num_global_key_value_heads"})
    if (t.num_attention_heads % f.integer(key) != 0)
      f.fail(key, "must divide num_attention_heads " + std::to_string(t.num_attention_heads) + ", got " +
                      std::to_string(f.integer(key)));
  if (!f.has("attention_k_eq_v")) f.fail("attention_k_eq_v", "is missing");
  t.attention_k_eq_v = f.boolean("attention_k_eq_v", false);
  t.hidden_activation = f.string("hidden_activation");
  if (t.hidden_activation != "gelu_pytorch_tanh")
    f.fail("hidden_activation",
           "is \"" + t.hidden_activation + "\"; only \"gelu_pytorch_tanh\" is supported by gemma4_unified");
  t.max_position_embeddings = f.integer_in("max_position_embeddings", 1, kMaxPositions);
  t.initializer_range = f.number("initializer_range", t.initializer_range);
  t.rms_norm_eps = f.number("rms_norm_eps");
  if (!(t.rms_norm_eps > 0 && t.rms_norm_eps < 1)) f.fail("rms_norm_eps", "must be in (0, 1)");
  t.use_cache = f.boolean("use_cache", t.use_cache);
  t.pad_token_id = f.integer_in("pad_token_id", 0, t.vocab_size - 1, t.pad_token_id);
  t.eos_token_id = f.integer_in("eos_token_id", 0, t.vocab_size - 1, t.eos_token_id);
  t.bos_token_id = f.integer_in("bos_token_id", 0, t.vocab_size - 1, t.bos_token_id);
  t.tie_word_embeddings = f.boolean("tie_word_embeddings", t.tie_word_embeddings);
  Fields rope = f.object("rope_parameters");
  t.rope_sliding = parse_rope(rope.object("sliding_attention"), t.head_dim);
  t.rope_full = parse_rope(rope.object("full_attention"), t.global_head_dim);
  t.attention_bias = f.boolean("attention_bias", false);
  t.attention_dropout = f.number("attention_dropout", 0.0);
  t.sliding_window = f.integer_in("sliding_window", 1, kMaxPositions);
  parse_layer_types(f, t);
  t.final_logit_softcapping = f.number("final_logit_softcapping");
  if (t.final_logit_softcapping < 0) f.fail("final_logit_softcapping", "must be >= 0 (0 = none)");
  t.use_bidirectional_attention = f.string("use_bidirectional_attention", "");
  if (!t.use_bidirectional_attention.empty() && t.use_bidirectional_attention != "vision")
    f.fail("use_bidirectional_attention", "is \"" + t.use_bidirectional_attention +
                                              "\"; only \"vision\" or null is supported by gemma4_unified");
  t.num_kv_shared_layers = f.integer_in("num_kv_shared_layers", 0, kMaxLayers, 0);
  t.hidden_size_per_layer_input = f.integer_in("hidden_size_per_layer_input", 0, kMaxHidden, 0);
  t.use_double_wide_mlp = f.boolean("use_double_wide_mlp", false);
  t.enable_moe_block = f.boolean("enable_moe_block", false);
  reject_unsupported(f, t);
  return t;
}

VisionConfig parse_vision(const Fields& f) {
  VisionConfig v;
  expect_string(f, "model_type", v.model_type, false);
  v.patch_size = f.integer_in("patch_size", 1, 256);
  v.pooling_kernel_size = f.integer_in("pooling_kernel_size", 1, 16);
  v.mm_embed_dim = f.integer_in("mm_embed_dim", 1, kMaxHidden);
  v.mm_posemb_size = f.integer_in("mm_posemb_size", 1, int64_t{1} << 20);
  v.rms_norm_eps = f.number("rms_norm_eps", v.rms_norm_eps);
  if (!(v.rms_norm_eps > 0 && v.rms_norm_eps < 1)) f.fail("rms_norm_eps", "must be in (0, 1)");
  v.output_proj_dims = f.integer_in("output_proj_dims", 1, kMaxHidden);
  v.initializer_range = f.number("initializer_range", v.initializer_range);
  return v;
}

AudioConfig parse_audio(const Fields& f) {
  AudioConfig a;
  expect_string(f, "model_type", a.model_type, false);
  a.audio_embed_dim = f.integer_in("audio_embed_dim", 1, kMaxHidden);
  a.rms_norm_eps = f.number("rms_norm_eps", a.rms_norm_eps);
  if (!(a.rms_norm_eps > 0 && a.rms_norm_eps < 1)) f.fail("rms_norm_eps", "must be in (0, 1)");
  a.initializer_range = f.number("initializer_range", a.initializer_range);
  return a;
}

std::vector<int64_t> token_list(const Fields& f, const std::string& key, bool scalar_ok) {
  const json& v = f.at(key);
  std::vector<int64_t> ids;
  if (scalar_ok && v.is_number_integer()) {
    ids.push_back(f.as_integer(v, key));
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i)
      ids.push_back(f.as_integer(v[i], key + "[" + std::to_string(i) + "]"));
  } else {
    f.fail(key, std::string("must be ") + (scalar_ok ? "an integer or " : "") + "a list of integers, got " +
                    json_type(v));
  }
  for (int64_t id : ids)
    if (id < 0) f.fail(key, "holds a negative token id " + std::to_string(id));
  return ids;
}

}  // namespace

ModelConfig parse_model_config(const json& j, const std::string& path) {
  if (!j.is_object()) fail_input(path, "top level must be a JSON object, got " + json_type(j));
  Fields f(j, path, "");
  ModelConfig c;
  if (f.has("architectures")) {
    const json& a = f.at("architectures");
    if (!a.is_array()) f.fail("architectures", "must be a list of strings, got " + json_type(a));
    for (const json& s : a) {
      if (!s.is_string()) f.fail("architectures", "must be a list of strings");
      c.architectures.push_back(s.get<std::string>());
    }
  }
  expect_string(f, "model_type", c.model_type, true);
  // Older transformers write "torch_dtype"; newer "dtype".
  c.dtype = f.has("dtype") ? f.string("dtype") : f.string("torch_dtype", c.dtype);
  c.initializer_range = f.number("initializer_range", c.initializer_range);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", c.tie_word_embeddings);
  c.text = parse_text(f.object("text_config"));
  c.vision = parse_vision(f.object("vision_config"));
  c.audio = parse_audio(f.object("audio_config"));
  if (!c.tie_word_embeddings) f.fail("tie_word_embeddings", "= false is not supported by gemma4_unified");
  const int64_t last = c.text.vocab_size - 1;
  c.boi_token_id = f.integer_in("boi_token_id", 0, last);
  c.eoi_token_id = f.integer_in("eoi_token_id", 0, last);
  c.image_token_id = f.integer_in("image_token_id", 0, last);
  c.video_token_id = f.integer_in("video_token_id", 0, last);
  c.boa_token_id = f.integer_in("boa_token_id", 0, last);
  c.eoa_token_index = f.integer_in("eoa_token_index", 0, last);
  c.audio_token_id = f.integer_in("audio_token_id", 0, last);
  return c;
}

// Absent fields take HF GenerationConfig's defaults (greedy, top_k 50, top_p 1.0), not the 12B's values.
GenerationConfig parse_generation_config(const json& j, const std::string& path) {
  if (!j.is_object()) fail_input(path, "top level must be a JSON object, got " + json_type(j));
  Fields f(j, path, "");
  GenerationConfig g;
  g.bos_token_id = f.integer_in("bos_token_id", 0, INT64_MAX, g.bos_token_id);
  g.pad_token_id = f.integer_in("pad_token_id", 0, INT64_MAX, g.pad_token_id);
  if (f.has("eos_token_id")) g.eos_token_id = token_list(f, "eos_token_id", true);
  g.do_sample = f.boolean("do_sample", false);
  g.temperature = f.number("temperature", 1.0);
  if (!(g.temperature >= 0)) f.fail("temperature", "must be >= 0");
  g.top_k = f.integer_in("top_k", 0, INT64_MAX, 50);
  g.top_p = f.number("top_p", 1.0);
  if (!(g.top_p > 0 && g.top_p <= 1)) f.fail("top_p", "must be in (0, 1]");
  g.min_p = f.number("min_p", 0.0);
  if (!(g.min_p >= 0 && g.min_p <= 1)) f.fail("min_p", "must be in [0, 1]");
  if (f.has("suppress_tokens")) g.suppress_tokens = token_list(f, "suppress_tokens", false);
  return g;
}

json read_json_file(const std::filesystem::path& file, size_t max_bytes) {
  const std::string name = file.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) fail_input(name, "not found or not a regular file");
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) fail_input(name, "cannot read size: " + ec.message());
  if (size > max_bytes)
    fail_input(
        name, "is " + std::to_string(size) + " bytes, over the " + std::to_string(max_bytes) + "-byte limit");
  std::ifstream in(file, std::ios::binary);
  std::string text(size, '\0');
  if (!in || !in.read(text.data(), static_cast<std::streamsize>(size))) fail_input(name, "cannot read file");
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line L, column C: REASON"; keep REASON.
    std::string what = e.what();
    auto colon = what.find(": ", what.find("column"));
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    for (char& ch : reason)
      if (ch == '\n' || ch == '\r') ch = ' ';
    fail_input(name, "malformed JSON at byte " + std::to_string(e.byte) + ": " + reason);
  }
}

void write_json_file(const std::filesystem::path& file, const json& j) {
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << j.dump(1, ' ', false, json::error_handler_t::replace) << "\n";
    if (!out) fail_input(file.string(), "cannot write");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) fail_input(file.string(), "cannot write: " + ec.message());
}

ModelConfig load_model_config(const std::filesystem::path& file) {
  return parse_model_config(read_json_file(file), file.string());
}

GenerationConfig load_generation_config(const std::filesystem::path& file) {
  return parse_generation_config(read_json_file(file), file.string());
}

}  // namespace g4
