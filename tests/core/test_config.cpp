// config.json / generation_config.json: the 12B fixture against the spec's values (§1.1, §5.4), the
// config-as-code, round trips with no missing or extra fields, and one rejection per kind of bad input.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "tests/test_util.h"

using namespace g4;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const fs::path kFixture = fs::path(G4_FIXTURES_DIR) / "gemma-4-12b";

json fixture_json() {
  std::ifstream in(kFixture / "config.json");
  return json::parse(in);
}

// Every key path of a JSON object, recursively ("text_config.rope_parameters.full_attention.rope_theta").
void key_paths(const json& j, const std::string& prefix, std::set<std::string>& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    out.insert(prefix + it.key());
    if (it.value().is_object()) key_paths(it.value(), prefix + it.key() + ".", out);
  }
}
std::set<std::string> key_paths(const json& j) {
  std::set<std::string> out;
  key_paths(j, "", out);
  return out;
}

// Parses `j` as "bad/config.json" and returns the InputError text (fails the test when nothing is thrown).
std::string config_error(const json& j) {
  try {
    parse_model_config(j, "bad/config.json");
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("config was accepted: " << j.dump().substr(0, 200));
  return "";
}

std::string generation_error(const json& j) {
  try {
    parse_generation_config(j, "bad/generation_config.json");
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("generation config was accepted: " << j.dump());
  return "";
}

using g4::testing::TempDir;

void write_text(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

std::string load_error(const fs::path& p) {
  try {
    load_model_config(p);
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("file was accepted: " << p);
  return "";
}

}  // namespace

TEST_CASE("12B fixture config parses to the spec's values", "[config]") {
  const ModelConfig c = load_model_config(kFixture / "config.json");
  const TextConfig& t = c.text;
  // Values typed in from spec §1.1, not from the parser.
  CHECK(t.vocab_size == 262144);
  CHECK(t.hidden_size == 3840);
  CHECK(t.intermediate_size == 15360);
  CHECK(t.num_hidden_layers == 48);
  CHECK(t.num_attention_heads == 16);
  CHECK(t.layer_head_dim(0) == 256);
  CHECK(t.layer_kv_heads(0) == 8);
  CHECK(t.layer_head_dim(5) == 512);
  CHECK(t.layer_kv_heads(5) == 1);
  CHECK(t.layer_has_v_proj(0));
  CHECK_FALSE(t.layer_has_v_proj(47));
  for (int64_t i = 0; i < 48; ++i)
    CHECK(t.is_full(i) ==
          (i == 5 || i == 11 || i == 17 || i == 23 || i == 29 || i == 35 || i == 41 || i == 47));
  CHECK(t.sliding_window == 1024);
  CHECK(t.rope_sliding.rope_type == "default");
  CHECK(t.rope_sliding.rope_theta == 10000.0);
  CHECK(t.rope_sliding.partial_rotary_factor == 1.0);
  CHECK(t.rope_full.rope_type == "proportional");
  CHECK(t.rope_full.rope_theta == 1e6);
  CHECK(t.rope_full.partial_rotary_factor == 0.25);
  CHECK(t.rope_full.factor == 1.0);
  CHECK(t.final_logit_softcapping == 30.0);
  CHECK(t.rms_norm_eps == 1e-6);
  CHECK(t.use_bidirectional_attention == "vision");
  CHECK(c.boi_token_id == 255999);
  CHECK(c.eoa_token_index == 258883);
  CHECK(c.video_token_id == 258884);
  CHECK(c.vision.model_patch_size() == 48);
  CHECK(c.vision.patch_dim() == 6912);
  CHECK(c.audio.audio_embed_dim == 640);
}

TEST_CASE("gemma4_12b_config() equals the fixture", "[config]") {
  CHECK(gemma4_12b_config() == load_model_config(kFixture / "config.json"));
  CHECK(gemma4_12b_generation_config() == load_generation_config(kFixture / "generation_config.json"));
  // operator== must see a one-field change (otherwise the checks above prove nothing).
  ModelConfig c = gemma4_12b_config();
  c.text.rope_full.partial_rotary_factor = 0.5;
  CHECK_FALSE(c == gemma4_12b_config());
}

TEST_CASE("to_json writes exactly the fixture's fields", "[config]") {
  const json written = to_json(load_model_config(kFixture / "config.json"));
  CHECK(key_paths(written) == key_paths(fixture_json()));
  CHECK(written == fixture_json());  // values too (key order does not matter to json ==)

  std::ifstream gin(kFixture / "generation_config.json");
  const json gen_fixture = json::parse(gin);
  CHECK(to_json(load_generation_config(kFixture / "generation_config.json")) == gen_fixture);
}

TEST_CASE("parse(to_json(c)) == c for the 12B and a modified config", "[config]") {
  ModelConfig m = gemma4_12b_config();
  m.text.vocab_size = 1000;
  m.text.num_hidden_layers = 4;
  m.text.layer_types = {LayerType::Sliding, LayerType::Full, LayerType::Sliding, LayerType::Full};
  m.text.attention_k_eq_v = false;
  m.text.rope_sliding.partial_rotary_factor = 0.5;
  m.text.rope_full.factor = 8.0;
  m.text.use_bidirectional_attention = "";
  m.text.final_logit_softcapping = 0.0;
  m.text.rms_norm_eps = 1e-5;
  m.text.use_cache = false;
  m.boi_token_id = 3;
  m.eoi_token_id = 4;
  m.image_token_id = 5;
  m.video_token_id = 6;
  m.boa_token_id = 7;
  m.eoa_token_index = 8;
  m.audio_token_id = 9;
  m.vision.patch_size = 14;
  m.audio.audio_embed_dim = 320;
  for (const ModelConfig& c : {gemma4_12b_config(), m}) {
    CHECK(parse_model_config(to_json(c), "mem") == c);
    CHECK(parse_model_config(json::parse(to_json(c).dump()), "text") == c);  // through text as well
  }
  CHECK_FALSE(m == gemma4_12b_config());

  GenerationConfig g = gemma4_12b_generation_config();
  g.min_p = 0.05;
  g.eos_token_id = {1};
  g.suppress_tokens = {};
  for (const GenerationConfig& x : {gemma4_12b_generation_config(), g})
    CHECK(parse_generation_config(json::parse(to_json(x).dump()), "gen") == x);
}

TEST_CASE("unknown fields are ignored / torch_dtype is accepted", "[config]") {
  json j = fixture_json();
  j["something_new"] = {1, 2, 3};
  j["text_config"]["vocab_size_per_layer_input"] = 262144;
  j.erase("dtype");
  j["torch_dtype"] = "float32";
  const ModelConfig c = parse_model_config(j, "x");
  CHECK(c.dtype == "float32");
  CHECK(c.text == gemma4_12b_config().text);
}

TEST_CASE("malformed configs are rejected naming the file and the field", "[config]") {
  struct Case {
    std::string label, needle;
    std::function<void(json&)> mutate;
  };
  const std::vector<Case> cases = {
      {"missing hidden_size", "text_config.hidden_size is missing",
       [](json& j) { j["text_config"].erase("hidden_size"); }},
      {"layer_types short", "text_config.layer_types has 47 entries, num_hidden_layers is 48",
       [](json& j) { j["text_config"]["layer_types"].erase(0); }},
      {"unknown layer type", "text_config.layer_types[3] is \"chunked_attention\"",
       [](json& j) { j["text_config"]["layer_types"][3] = "chunked_attention"; }},
      {"last layer sliding", "text_config.layer_types last layer must be full_attention",
       [](json& j) { j["text_config"]["layer_types"][47] = "sliding_attention"; }},
      {"string for number", "text_config.hidden_size must be an integer, got string",
       [](json& j) { j["text_config"]["hidden_size"] = "3840"; }},
      {"float for integer", "text_config.vocab_size must be an integer, got float",
       [](json& j) { j["text_config"]["vocab_size"] = 262144.5; }},
      {"negative heads", "text_config.num_attention_heads must be in [1, 1024], got -16",
       [](json& j) { j["text_config"]["num_attention_heads"] = -16; }},
      {"heads not divisible", "text_config.num_key_value_heads must divide num_attention_heads 16, got 3",
       [](json& j) { j["text_config"]["num_key_value_heads"] = 3; }},
      {"odd head dim", "text_config.head_dim must be even",
       [](json& j) { j["text_config"]["head_dim"] = 255; }},
      {"huge vocab", "text_config.vocab_size must be in [1, 16777216], got 4294967296",
       [](json& j) { j["text_config"]["vocab_size"] = int64_t{1} << 32; }},
      {"uint64 overflow", "text_config.hidden_size is too large",
       [](json& j) { j["text_config"]["hidden_size"] = uint64_t{1} << 63; }},
      {"zero window", "text_config.sliding_window must be in [1, ",
       [](json& j) { j["text_config"]["sliding_window"] = 0; }},
      {"unknown rope type", "text_config.rope_parameters.full_attention.rope_type is \"yarn\"",
       [](json& j) { j["text_config"]["rope_parameters"]["full_attention"]["rope_type"] = "yarn"; }},
      {"partial factor 0",
       "text_config.rope_parameters.full_attention.partial_rotary_factor must be in (0, 1]",
       [](json& j) { j["text_config"]["rope_parameters"]["full_attention"]["partial_rotary_factor"] = 0.0; }},
      {"partial factor > 1", "partial_rotary_factor must be in (0, 1]",
       [](json& j) {
         j["text_config"]["rope_parameters"]["sliding_attention"]["partial_rotary_factor"] = 1.5;
       }},
      {"theta 0", "text_config.rope_parameters.sliding_attention.rope_theta must be > 0",
       [](json& j) { j["text_config"]["rope_parameters"]["sliding_attention"]["rope_theta"] = 0; }},
      {"rope missing", "text_config.rope_parameters is missing",
       [](json& j) { j["text_config"].erase("rope_parameters"); }},
      {"eps 1", "text_config.rms_norm_eps must be in (0, 1)",
       [](json& j) { j["text_config"]["rms_norm_eps"] = 1.0; }},
      {"eos out of vocab", "text_config.eos_token_id must be in [0, 262143], got 262144",
       [](json& j) { j["text_config"]["eos_token_id"] = 262144; }},
      {"boi out of vocab", "boi_token_id must be in [0, 262143], got 300000",
       [](json& j) { j["boi_token_id"] = 300000; }},
      {"negative softcap", "text_config.final_logit_softcapping must be >= 0",
       [](json& j) { j["text_config"]["final_logit_softcapping"] = -1.0; }},
      {"activation", "text_config.hidden_activation is \"silu\"; only \"gelu_pytorch_tanh\" is supported",
       [](json& j) { j["text_config"]["hidden_activation"] = "silu"; }},
      {"kv sharing", "text_config.num_kv_shared_layers > 0 is not supported by gemma4_unified",
       [](json& j) { j["text_config"]["num_kv_shared_layers"] = 4; }},
      {"ple", "text_config.hidden_size_per_layer_input > 0 is not supported by gemma4_unified",
       [](json& j) { j["text_config"]["hidden_size_per_layer_input"] = 256; }},
      {"moe", "text_config.enable_moe_block = true is not supported by gemma4_unified",
       [](json& j) { j["text_config"]["enable_moe_block"] = true; }},
      {"double wide", "text_config.use_double_wide_mlp = true is not supported by gemma4_unified",
       [](json& j) { j["text_config"]["use_double_wide_mlp"] = true; }},
      {"bool as string", "text_config.attention_k_eq_v must be a boolean, got string",
       [](json& j) { j["text_config"]["attention_k_eq_v"] = "true"; }},
      {"model type", "model_type is \"gemma3\"", [](json& j) { j["model_type"] = "gemma3"; }},
      {"vision missing", "vision_config is missing", [](json& j) { j.erase("vision_config"); }},
      {"audio dim", "audio_config.audio_embed_dim must be in [1, ",
       [](json& j) { j["audio_config"]["audio_embed_dim"] = 0; }},
      {"text_config array", "text_config must be an object, got array",
       [](json& j) { j["text_config"] = json::array(); }},
      {"top level array", "top level must be a JSON object", [](json& j) { j = json::array({1}); }},
  };
  for (const Case& c : cases) {
    INFO(c.label);
    json j = fixture_json();
    c.mutate(j);
    const std::string err = config_error(j);
    CHECK(err.rfind("bad/config.json: ", 0) == 0);
    CHECK_THAT(err, Catch::Contains(c.needle));
    CHECK(err.find('\n') == std::string::npos);
  }
}

TEST_CASE("generation_config: eos scalar or list / ranges checked", "[config]") {
  GenerationConfig g = parse_generation_config(json{{"eos_token_id", 1}}, "g");
  CHECK(g.eos_token_id == std::vector<int64_t>{1});
  CHECK(g.suppress_tokens.empty());
  CHECK(g.top_k == 50);  // HF default when absent
  CHECK_FALSE(g.do_sample);
  CHECK_THAT(generation_error({{"top_p", 0.0}}),
             Catch::Contains("bad/generation_config.json: top_p must be in (0, 1]"));
  CHECK_THAT(generation_error({{"top_p", 1.01}}), Catch::Contains("top_p must be in (0, 1]"));
  CHECK_THAT(generation_error({{"top_k", -1}}), Catch::Contains("top_k must be in [0, "));
  CHECK_THAT(generation_error({{"temperature", -0.5}}), Catch::Contains("temperature must be >= 0"));
  CHECK_THAT(generation_error({{"eos_token_id", "1"}}),
             Catch::Contains("eos_token_id must be an integer or a list of integers, got string"));
  CHECK_THAT(generation_error({{"eos_token_id", {1, -2}}}),
             Catch::Contains("eos_token_id holds a negative token id"));
  CHECK_THAT(generation_error({{"suppress_tokens", 5}}),
             Catch::Contains("suppress_tokens must be a list of integers"));
  CHECK_THAT(generation_error({{"suppress_tokens", {1, 2.5}}}),
             Catch::Contains("suppress_tokens[1] must be an integer"));
}

TEST_CASE("read_json_file: malformed / truncated / oversized and missing files", "[config]") {
  TempDir dir;
  const fs::path p = dir.path / "config.json";

  write_text(p, "{\"a\": 1,, \"b\": 2}");
  std::string err = load_error(p);
  CHECK_THAT(err, Catch::StartsWith(p.string() + ": malformed JSON at byte 9: "));
  CHECK(err.find('\n') == std::string::npos);

  std::ifstream in(kFixture / "config.json");
  std::string full((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_text(p, full.substr(0, full.size() / 2));
  CHECK_THAT(load_error(p), Catch::StartsWith(p.string() + ": malformed JSON at byte "));

  write_text(p, "");
  CHECK_THAT(load_error(p), Catch::Contains("malformed JSON at byte"));

  write_text(p, full);
  try {
    read_json_file(p, 100);
    FAIL("oversized file accepted");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("over the 100-byte limit"));
  }
  CHECK(read_json_file(p) == fixture_json());

  CHECK_THAT(load_error(dir.path / "absent.json"), Catch::Contains("absent.json: not found"));
  CHECK_THAT(load_error(dir.path), Catch::Contains("not found or not a regular file"));
}

TEST_CASE("checked-in bad config files are rejected", "[config]") {
  const fs::path bad = fs::path(G4_FIXTURES_DIR) / "bad_configs";
  REQUIRE(fs::is_directory(bad));
  int n = 0;
  for (const auto& e : fs::directory_iterator(bad)) {
    if (e.path().extension() != ".json") continue;
    INFO(e.path());
    CHECK_THAT(load_error(e.path()), Catch::StartsWith(e.path().string() + ": "));
    ++n;
  }
  CHECK(n >= 2);
}
