// g4eval inspect --model DIR [--json OUT] [--all]
// Reads DIR/config.json (+ generation_config.json when present), prints the architecture, the derived
// tensor list (spec §4.2), parameter counts and sizes per dtype; when DIR holds weights, checks every tensor
// against the config. --json writes the same facts machine-readably.
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>

#include "cli/command.h"
#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/tensor_list.h"

namespace g4::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

std::string short_name(LayerType t) { return t == LayerType::Full ? "full" : "sliding"; }

// Run-length form of one period: "sliding x5, full".
std::string run_lengths(const std::vector<LayerType>& types, size_t n) {
  std::string s;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && types[j] == types[i]) ++j;
    if (!s.empty()) s += ", ";
    s += short_name(types[i]) + (j - i > 1 ? " x" + std::to_string(j - i) : "");
    i = j;
  }
  return s;
}

// "48 = [sliding x5, full] x8": the shortest period that tiles the whole list, run-length encoded.
std::string layer_pattern(const std::vector<LayerType>& types) {
  const size_t n = types.size();
  for (size_t p = 1; p < n; ++p) {
    if (n % p != 0) continue;
    bool periodic = true;
    for (size_t i = p; i < n && periodic; ++i) periodic = types[i] == types[i - p];
    if (periodic) return std::to_string(n) + " = [" + run_lengths(types, p) + "] x" + std::to_string(n / p);
  }
  return std::to_string(n) + " = [" + run_lengths(types, n) + "]";
}

// "1-4, 6-10, 12" from a sorted list of layer indices.
std::string ranges(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!s.empty()) s += ", ";
    s += std::to_string(v[i]) + (j > i ? "-" + std::to_string(v[j]) : "");
    i = j + 1;
  }
  return s;
}

struct LayerTensor {
  std::string suffix;
  std::vector<int64_t> shape;
  bool operator<(const LayerTensor& o) const { return std::tie(suffix, shape) < std::tie(o.suffix, o.shape); }
};

// Groups layers whose tensors agree in everything but the index; prints the first layer of each group in
// full and names the rest (or every layer with --all).
void print_tensors(const ModelConfig& c, const std::vector<TensorSpec>& specs, bool all) {
  const std::string layer_prefix = "model.language_model.layers.";
  std::map<int64_t, std::vector<LayerTensor>> per_layer;
  std::vector<const TensorSpec*> others_before, others_after;
  for (const TensorSpec& s : specs) {
    if (s.name.rfind(layer_prefix, 0) == 0) {
      size_t dot = s.name.find('.', layer_prefix.size());
      int64_t layer = std::stoll(s.name.substr(layer_prefix.size(), dot - layer_prefix.size()));
      per_layer[layer].push_back({s.name.substr(dot + 1), s.shape});
    } else {
      (per_layer.empty() ? others_before : others_after).push_back(&s);
    }
  }
  auto line = [](const std::string& name, const std::vector<int64_t>& shape, int indent = 2) {
    std::printf("%*s%-*s %s\n", indent, "", 68 - indent, name.c_str(), format_shape(shape).c_str());
  };
  for (const TensorSpec* s : others_before) line(s->name, s->shape);
  std::map<std::vector<LayerTensor>, std::vector<int64_t>> groups;
  for (const auto& [layer, tensors] : per_layer) groups[tensors].push_back(layer);
  for (const auto& [layer, tensors] : per_layer) {
    const std::vector<int64_t>& members = groups[tensors];
    if (!all && members.front() != layer) continue;
    std::printf("  layer %lld (%s):\n", static_cast<long long>(layer),
                short_name(c.text.layer_types[layer]).c_str());
    for (const LayerTensor& t : tensors)
      line(layer_prefix + std::to_string(layer) + "." + t.suffix, t.shape, 4);
    if (!all && members.size() > 1)
      std::printf("    same for layers %s\n",
                  ranges(std::vector<int64_t>(members.begin() + 1, members.end())).c_str());
  }
  for (const TensorSpec* s : others_after) line(s->name, s->shape);
}

std::string rope_text(const RopeParams& r) {
  std::ostringstream s;
  s << r.rope_type << ", theta " << r.rope_theta;
  if (r.partial_rotary_factor != 1.0) s << ", partial_rotary_factor " << r.partial_rotary_factor;
  if (r.factor != 1.0) s << ", factor " << r.factor;
  return s.str();
}

std::string id_list(const std::vector<int64_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

void print_config(const fs::path& dir, const ModelConfig& c, const std::optional<GenerationConfig>& g) {
  const TextConfig& t = c.text;
  std::printf("model: %s\n", dir.string().c_str());
  std::printf("architecture: %s (%s), dtype %s\n",
              c.architectures.empty() ? "?" : c.architectures.front().c_str(), c.model_type.c_str(),
              c.dtype.c_str());
  std::printf("text: vocab %s, hidden %lld, intermediate %lld, max positions %s, activation %s\n",
              with_commas(t.vocab_size).c_str(), static_cast<long long>(t.hidden_size),
              static_cast<long long>(t.intermediate_size), with_commas(t.max_position_embeddings).c_str(),
              t.hidden_activation.c_str());
  std::printf("layers: %s\n", layer_pattern(t.layer_types).c_str());
  std::printf(
      "attention: query heads %lld; sliding: head_dim %lld, kv heads %lld; full: head_dim %lld, "
      "kv heads %lld%s\n",
      static_cast<long long>(t.num_attention_heads), static_cast<long long>(t.head_dim),
      static_cast<long long>(t.num_key_value_heads), static_cast<long long>(t.global_head_dim),
      static_cast<long long>(t.num_global_key_value_heads), t.attention_k_eq_v ? ", k_eq_v (no v_proj)" : "");
  std::printf("rope: sliding %s; full %s\n", rope_text(t.rope_sliding).c_str(),
              rope_text(t.rope_full).c_str());
  std::printf("sliding_window %lld, final_logit_softcapping %g, rms_norm_eps %g, bidirectional %s\n",
              static_cast<long long>(t.sliding_window), t.final_logit_softcapping, t.rms_norm_eps,
              t.use_bidirectional_attention.empty() ? "none" : t.use_bidirectional_attention.c_str());
  std::printf(
      "tokens: pad %lld, bos %lld, eos %lld; boi %lld, eoi %lld, image %lld, video %lld, boa %lld, "
      "eoa %lld, audio %lld\n",
      static_cast<long long>(t.pad_token_id), static_cast<long long>(t.bos_token_id),
      static_cast<long long>(t.eos_token_id), static_cast<long long>(c.boi_token_id),
      static_cast<long long>(c.eoi_token_id), static_cast<long long>(c.image_token_id),
      static_cast<long long>(c.video_token_id), static_cast<long long>(c.boa_token_id),
      static_cast<long long>(c.eoa_token_index), static_cast<long long>(c.audio_token_id));
  std::printf(
      "vision: patch %lld x pooling %lld = %lld px, patch_dim %lld, mm_embed_dim %lld, posemb %lld\n",
      static_cast<long long>(c.vision.patch_size), static_cast<long long>(c.vision.pooling_kernel_size),
      static_cast<long long>(c.vision.model_patch_size()), static_cast<long long>(c.vision.patch_dim()),
      static_cast<long long>(c.vision.mm_embed_dim), static_cast<long long>(c.vision.mm_posemb_size));
  std::printf("audio: audio_embed_dim %lld\n", static_cast<long long>(c.audio.audio_embed_dim));
  if (g)
    std::printf(
        "generation: eos %s, do_sample %s, temperature %g, top_k %lld, top_p %g, min_p %g, suppress %s\n",
        id_list(g->eos_token_id).c_str(), g->do_sample ? "true" : "false", g->temperature,
        static_cast<long long>(g->top_k), g->top_p, g->min_p, id_list(g->suppress_tokens).c_str());
  else
    std::printf("generation: no generation_config.json\n");
}

struct WeightFacts {
  int64_t tensors = 0, bytes = 0;
  std::map<std::string, int64_t> dtypes;  // dtype name -> tensor count
  std::vector<std::string> unknown;
};

std::optional<WeightFacts> check_weights(const fs::path& dir, const ModelConfig& c) {
  if (!fs::exists(dir / "model.safetensors") && !fs::exists(dir / "model.safetensors.index.json"))
    return std::nullopt;
  WeightSet w = WeightSet::open_dir(dir);
  WeightFacts f;
  f.unknown = validate_weights(c, w).unknown;
  for (const TensorView* v : w.all()) {
    ++f.tensors;
    f.bytes += static_cast<int64_t>(v->bytes.size());
    ++f.dtypes[std::string(dtype_name(v->dtype))];
  }
  return f;
}

json facts_json(const fs::path& dir, const ModelConfig& c, const std::optional<GenerationConfig>& g,
                const std::vector<TensorSpec>& specs, const ParamCount& n,
                const std::optional<WeightFacts>& w) {
  json tensors = json::array();
  std::map<std::string, int64_t> per_part;
  for (const TensorSpec& s : specs) {
    tensors.push_back({{"name", s.name}, {"shape", s.shape}, {"part", model_part_name(s.part)}});
    ++per_part[std::string(model_part_name(s.part))];
  }
  int64_t sliding = 0;
  for (LayerType t : c.text.layer_types) sliding += t == LayerType::Sliding;
  json j = {
      {"model_dir", dir.string()},
      {"config", to_json(c)},
      {"generation_config", g ? to_json(*g) : json(nullptr)},
      {"layers",
       {{"pattern", layer_pattern(c.text.layer_types)},
        {"sliding", sliding},
        {"full", c.text.num_hidden_layers - sliding}}},
      {"tensor_count", {{"total", specs.size()}, {"by_part", per_part}}},
      {"tensors", tensors},
      {"parameters", {{"text", n.text}, {"vision", n.vision}, {"audio", n.audio}, {"total", n.total()}}},
      {"bytes", {{"bf16", 2 * n.total()}, {"f16", 2 * n.total()}, {"f32", 4 * n.total()}}},
  };
  if (w)
    j["weights"] = {{"present", true},   {"status", "OK"},      {"tensors", w->tensors},
                    {"bytes", w->bytes}, {"dtypes", w->dtypes}, {"unknown", w->unknown}};
  else
    j["weights"] = {{"present", false}};
  return j;
}

int run_inspect(const fs::path& dir, const std::string& json_out, bool all) {
  const ModelConfig c = load_model_config(dir / "config.json");
  std::optional<GenerationConfig> g;
  if (fs::exists(dir / "generation_config.json")) g = load_generation_config(dir / "generation_config.json");
  const std::vector<TensorSpec> specs = expected_tensors(c);
  const ParamCount n = count_parameters(c);
  const std::optional<WeightFacts> w = check_weights(dir, c);

  print_config(dir, c, g);
  std::map<std::string, int64_t> per_part;
  for (const TensorSpec& s : specs) ++per_part[std::string(model_part_name(s.part))];
  std::printf("tensors: %zu (text %lld, vision %lld, audio %lld)%s\n", specs.size(),
              static_cast<long long>(per_part["text"]), static_cast<long long>(per_part["vision"]),
              static_cast<long long>(per_part["audio"]), all ? "" : "; --all lists every layer");
  print_tensors(c, specs, all);
  std::printf("parameters: text %s, vision %s, audio %s, total %s\n", with_commas(n.text).c_str(),
              with_commas(n.vision).c_str(), with_commas(n.audio).c_str(), with_commas(n.total()).c_str());
  std::printf("bytes: bf16 %s, f16 %s, f32 %s\n", with_commas(2 * n.total()).c_str(),
              with_commas(2 * n.total()).c_str(), with_commas(4 * n.total()).c_str());
  if (w) {
    std::string dtypes;
    for (const auto& [name, count] : w->dtypes) dtypes += " " + name + " x" + std::to_string(count);
    std::printf("weights: OK (%lld tensors, %s bytes, dtypes:%s)\n", static_cast<long long>(w->tensors),
                with_commas(w->bytes).c_str(), dtypes.c_str());
    for (const std::string& u : w->unknown)
      std::printf("  unknown tensor (not used by the config): %s\n", u.c_str());
  } else {
    std::printf("weights: not present (config only)\n");
  }

  if (!json_out.empty()) {
    write_json_file(json_out, facts_json(dir, c, g, specs, n, w));
  }
  return 0;
}

RegisterCommand reg("inspect",
                    "Show a checkpoint's configuration, derived tensors, parameter count and weights",
                    [](CLI::App& app) -> Action {
                      auto dir = std::make_shared<std::string>();
                      auto json_out = std::make_shared<std::string>();
                      auto all = std::make_shared<bool>(false);
                      app.add_option("--model", *dir, "checkpoint directory (needs config.json)")->required();
                      app.add_option("--json", *json_out, "also write the facts as JSON to this file");
                      app.add_flag("--all", *all, "list the tensors of every layer");
                      return [dir, json_out, all] { return run_inspect(*dir, *json_out, *all); };
                    });

}  // namespace
}  // namespace g4::cli
