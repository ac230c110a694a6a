// `g4eval inspect` end to end: runs the built binary (G4_BINARY_PATH) on the 12B fixture, on a tiny
// checkpoint written here, and on broken directories; checks exit status, stdout facts and the one-line
// error.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "core/config.h"
#include "core/safetensors.h"
#include "core/tensor_list.h"
#include "tests/test_util.h"

using namespace g4;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using g4::testing::TempDir;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct RunResult {
  int status = -1;
  std::string out, err;
};

// Runs `g4eval ARGS` with stdout and stderr captured to files in `tmp`.
RunResult run_g4eval(const std::string& args, const fs::path& tmp) {
  const fs::path out = tmp / "stdout.txt", err = tmp / "stderr.txt";
  const std::string cmd =
      std::string("'") + G4_BINARY_PATH + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
  const int raw = std::system(cmd.c_str());
  RunResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// A 2-layer model small enough to write real weights for (hand sizes in tests/core/test_tensor_list.cpp).
ModelConfig tiny_inspect_config() {
  ModelConfig c = gemma4_12b_config();
  TextConfig& t = c.text;
  t.vocab_size = 16, t.hidden_size = 8, t.intermediate_size = 16, t.num_hidden_layers = 2;
  t.layer_types = {LayerType::Sliding, LayerType::Full};
  t.num_attention_heads = 2, t.num_key_value_heads = 1, t.head_dim = 4;
  t.global_head_dim = 8, t.num_global_key_value_heads = 1;
  t.sliding_window = 4, t.max_position_embeddings = 64;
  c.boi_token_id = 3, c.eoi_token_id = 4, c.image_token_id = 5, c.video_token_id = 6;
  c.boa_token_id = 7, c.eoa_token_index = 8, c.audio_token_id = 9;
  c.vision.patch_size = 2, c.vision.pooling_kernel_size = 1, c.vision.mm_embed_dim = 4;
  c.vision.mm_posemb_size = 3, c.vision.output_proj_dims = 4;
  c.audio.audio_embed_dim = 5;
  return c;
}

}  // namespace

TEST_CASE("inspect on the 12B fixture prints the spec's counts", "[inspect]") {
  TempDir tmp;
  const fs::path fixture = fs::path(G4_FIXTURES_DIR) / "gemma-4-12b";
  const fs::path json_out = tmp.path / "facts.json";
  RunResult r = run_g4eval("inspect --model " + quoted(fixture) + " --json " + quoted(json_out), tmp.path);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("11,959,730,224"));
  CHECK_THAT(r.out, Catch::Contains("11,907,350,320"));
  CHECK_THAT(r.out, Catch::Contains("23,919,460,448"));  // bf16 bytes (§4.3)
  CHECK_THAT(r.out, Catch::Contains("layers: 48 = [sliding x5, full] x8"));
  CHECK_THAT(r.out, Catch::Contains("tensors: 677"));
  CHECK_THAT(r.out, Catch::Contains("weights: not present (config only)"));
  CHECK(r.err.empty());

  const json facts = json::parse(slurp(json_out));
  CHECK(facts["parameters"]["total"].get<int64_t>() == 11'959'730'224);
  CHECK(facts["parameters"]["vision"].get<int64_t>() == 49'922'304);
  CHECK(facts["tensors"].size() == 677);
  CHECK(facts["bytes"]["f32"].get<int64_t>() == 4 * int64_t{11'959'730'224});
  CHECK(facts["weights"]["present"] == false);
  CHECK(facts["layers"]["full"] == 8);

  // --all lists the tensors of every layer, the default only layers 0 and 5.
  RunResult all = run_g4eval("inspect --all --model " + quoted(fixture), tmp.path);
  REQUIRE(all.status == 0);
  CHECK_THAT(all.out, Catch::Contains("model.language_model.layers.47.self_attn.k_norm.weight"));
  CHECK_THAT(r.out, !Catch::Contains("model.language_model.layers.47.self_attn.k_norm.weight"));
  CHECK_THAT(r.out, Catch::Contains("model.language_model.layers.5.self_attn.k_norm.weight"));
}

TEST_CASE("inspect validates weights when present", "[inspect]") {
  TempDir tmp;
  const fs::path model = tmp.path / "model";
  fs::create_directories(model);
  const ModelConfig c = tiny_inspect_config();
  std::ofstream(model / "config.json") << to_json(c).dump(2);
  SafetensorsWriter w;
  for (const TensorSpec& s : expected_tensors(c)) {
    std::vector<float> zeros(static_cast<size_t>(s.numel()), 0.0f);
    w.add_f32(s.name, s.shape, zeros);
  }
  std::vector<float> one(1, 0.0f);
  w.add_f32("model.mystery", {1}, one);
  w.write(model / "model.safetensors");

  RunResult r = run_g4eval("inspect --model " + quoted(model), tmp.path);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  // 40 expected + 1 extra, all F32: (1506 + 148 + 40 + 1) params x 4 bytes (hand count in test_tensor_list).
  CHECK_THAT(r.out, Catch::Contains("weights: OK (41 tensors, 6,780 bytes, dtypes: F32 x41)"));
  CHECK_THAT(r.out, Catch::Contains("model.mystery"));
  CHECK_THAT(r.out, Catch::Contains("generation: no generation_config.json"));
}

TEST_CASE("inspect on a broken config exits 2 with one line naming the file", "[inspect]") {
  TempDir tmp;
  const fs::path model = tmp.path / "broken";
  fs::create_directories(model);
  std::ofstream(model / "config.json") << "{\"model_type\": \"gemma4_unified\", \"text_config\": {";
  RunResult r = run_g4eval("inspect --model " + quoted(model), tmp.path);
  CHECK(r.status == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains((model / "config.json").string() + ": malformed JSON at byte"));

  // Valid JSON, bad field.
  json j = to_json(gemma4_12b_config());
  j["text_config"]["num_key_value_heads"] = 5;
  std::ofstream(model / "config.json", std::ios::trunc) << j.dump();
  r = run_g4eval("inspect --model " + quoted(model), tmp.path);
  CHECK(r.status == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK_THAT(r.err, Catch::Contains("config.json: text_config.num_key_value_heads must divide"));

  // No config at all.
  r = run_g4eval("inspect --model " + quoted(tmp.path / "absent"), tmp.path);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("config.json: not found"));
}
