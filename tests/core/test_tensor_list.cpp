// Derived tensor list and parameter count: the 12B against the spec's published numbers (§1.1, §4.1-4.3),
// a tiny config against a hand count, and validate_weights on small checkpoints written here.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "core/tensor_list.h"
#include "tests/test_util.h"

using namespace g4;
namespace fs = std::filesystem;

namespace {

// vocab 16, hidden 8, inter 16, layers [sliding, full], 2 q heads; sliding D 4 / 1 kv; full D 8 / 1 kv,
// k_eq_v; vision patch 2 x pool 1 (patch_dim 12), mm 4, posemb 3; audio 5.
ModelConfig tiny_config() {
  ModelConfig c = gemma4_12b_config();
  TextConfig& t = c.text;
  t.vocab_size = 16;
  t.hidden_size = 8;
  t.intermediate_size = 16;
  t.num_hidden_layers = 2;
  t.layer_types = {LayerType::Sliding, LayerType::Full};
  t.num_attention_heads = 2;
  t.num_key_value_heads = 1;
  t.head_dim = 4;
  t.global_head_dim = 8;
  t.num_global_key_value_heads = 1;
  t.sliding_window = 4;
  t.max_position_embeddings = 64;
  c.boi_token_id = 3, c.eoi_token_id = 4, c.image_token_id = 5, c.video_token_id = 6;
  c.boa_token_id = 7, c.eoa_token_index = 8, c.audio_token_id = 9;
  c.vision.patch_size = 2;
  c.vision.pooling_kernel_size = 1;
  c.vision.mm_embed_dim = 4;
  c.vision.mm_posemb_size = 3;
  c.vision.output_proj_dims = 4;
  c.audio.audio_embed_dim = 5;
  return c;
}

using g4::testing::TempDir;

// Writes every expected tensor as zeros, letting the caller swap one tensor's entry first.
void write_checkpoint(const fs::path& dir, const std::vector<TensorSpec>& specs,
                      const std::function<bool(SafetensorsWriter&, const TensorSpec&)>& override_one) {
  SafetensorsWriter w;
  for (const TensorSpec& s : specs) {
    if (override_one && override_one(w, s)) continue;
    std::vector<float> zeros(static_cast<size_t>(s.numel()), 0.0f);
    w.add_f32(s.name, s.shape, zeros);
  }
  w.write(dir / "model.safetensors");
}

std::string validate_error(const ModelConfig& c, const fs::path& dir) {
  try {
    validate_weights(c, WeightSet::open_dir(dir));
  } catch (const InputError& e) {
    return e.what();
  }
  FAIL("checkpoint accepted");
  return "";
}

}  // namespace

TEST_CASE("12B parameter count and tensor list match the spec", "[tensor_list]") {
  const ModelConfig c = gemma4_12b_config();
  const ParamCount n = count_parameters(c);
  CHECK(n.total() == 11'959'730'224);
  CHECK(n.text == 11'907'350'320);
  CHECK(n.vision == 49'922'304);
  CHECK(n.audio == 2'457'600);
  CHECK(2 * n.total() == 23'919'460'448);  // §4.3: the bf16 data section of model.safetensors

  const std::vector<TensorSpec> specs = expected_tensors(c);
  std::map<ModelPart, int> per_part;
  std::set<std::string> names;
  int v_proj = 0;
  for (const TensorSpec& s : specs) {
    ++per_part[s.part];
    names.insert(s.name);
    if (s.name.find("v_proj") != std::string::npos) ++v_proj;
  }
  CHECK(specs.size() == 677);
  CHECK(names.size() == 677);  // no duplicates
  CHECK(per_part[ModelPart::Text] == 666);
  CHECK(per_part[ModelPart::Vision] + per_part[ModelPart::Audio] == 11);
  CHECK(v_proj == 40);  // sliding layers only (§4.2)

  std::map<std::string, std::vector<int64_t>> shape;
  for (const TensorSpec& s : specs) shape[s.name] = s.shape;
  const std::string l0 = "model.language_model.layers.0.", l5 = "model.language_model.layers.5.";
  CHECK(shape["model.language_model.embed_tokens.weight"] == std::vector<int64_t>{262144, 3840});
  CHECK(shape[l0 + "self_attn.q_proj.weight"] == std::vector<int64_t>{4096, 3840});
  CHECK(shape[l0 + "self_attn.v_proj.weight"] == std::vector<int64_t>{2048, 3840});
  CHECK(shape[l0 + "self_attn.o_proj.weight"] == std::vector<int64_t>{3840, 4096});
  CHECK(shape[l5 + "self_attn.q_proj.weight"] == std::vector<int64_t>{8192, 3840});
  CHECK(shape[l5 + "self_attn.k_proj.weight"] == std::vector<int64_t>{512, 3840});
  CHECK(shape[l5 + "self_attn.k_norm.weight"] == std::vector<int64_t>{512});
  CHECK(shape.count(l5 + "self_attn.v_proj.weight") == 0);
  CHECK(shape[l5 + "layer_scalar"] == std::vector<int64_t>{1});
  CHECK(shape[l5 + "mlp.down_proj.weight"] == std::vector<int64_t>{3840, 15360});
  CHECK(shape["model.vision_embedder.patch_dense.weight"] == std::vector<int64_t>{3840, 6912});
  CHECK(shape["model.vision_embedder.pos_embedding"] == std::vector<int64_t>{1120, 2, 3840});
  CHECK(shape["model.embed_audio.embedding_projection.weight"] == std::vector<int64_t>{3840, 640});
}

TEST_CASE("tiny config: hand-counted parameters / k_eq_v off adds v_proj", "[tensor_list]") {
  ModelConfig c = tiny_config();
  // Hand count: embed 128 + norm 8; per layer 4x8 norms + 1 scalar + 3x16x8 mlp = 417;
  // sliding attn q 64 + k 32 + v 32 + o 64 + norms 8 = 200; full attn q 128 + k 64 + o 128 + norms 16 = 336.
  const ParamCount n = count_parameters(c);
  CHECK(n.text == 128 + 8 + (417 + 200) + (417 + 336));
  CHECK(n.vision == 24 + 52 + 8 + 8 + 24 + 32);  // ln1, dense, ln2, pos_norm, pos_embedding, projection
  CHECK(n.audio == 40);
  CHECK(expected_tensors(c).size() ==
        2 + 14 + 13 + 10 + 1);  // embed+norm, layer 0, layer 1 (no v_proj), vision, audio

  c.text.attention_k_eq_v = false;  // the full layer gains v_proj [8, 8]
  CHECK(count_parameters(c).text == 1506 + 64);
  CHECK(expected_tensors(c).size() == 41);
}

TEST_CASE("validate_weights accepts a matching checkpoint and reports extras", "[tensor_list]") {
  TempDir dir;
  const ModelConfig c = tiny_config();
  const auto specs = expected_tensors(c);
  write_checkpoint(dir.path, specs, [](SafetensorsWriter& w, const TensorSpec& s) {
    if (s.name != "model.language_model.norm.weight") return false;
    std::vector<float> v(8, 1.0f);
    w.add_f32(s.name, s.shape, v);
    std::vector<float> extra(3, 0.0f);
    w.add_f32("model.language_model.extra_thing", {3}, extra);  // not in the config
    return true;
  });
  const WeightCheck check = validate_weights(c, WeightSet::open_dir(dir.path));
  CHECK(check.unknown == std::vector<std::string>{"model.language_model.extra_thing"});
}

TEST_CASE("validate_weights rejects wrong shape / missing tensor / integer dtype", "[tensor_list]") {
  const ModelConfig c = tiny_config();
  const auto specs = expected_tensors(c);
  const std::string k1 = "model.language_model.layers.1.self_attn.k_proj.weight";
  {
    TempDir dir;
    write_checkpoint(dir.path, specs, [&](SafetensorsWriter& w, const TensorSpec& s) {
      if (s.name != k1) return false;
      std::vector<float> v(32, 0.0f);
      w.add_f32(s.name, {4, 8}, v);
      return true;
    });
    CHECK(validate_error(c, dir.path) ==
          dir.path.string() + ": tensor '" + k1 + "' has shape [4, 8], config needs [8, 8]");
  }
  {
    TempDir dir;
    write_checkpoint(dir.path, specs, [&](SafetensorsWriter&, const TensorSpec& s) { return s.name == k1; });
    CHECK_THAT(validate_error(c, dir.path),
               Catch::StartsWith(dir.path.string() + ": missing tensor '" + k1 + "'"));
  }
  {
    TempDir dir;
    write_checkpoint(dir.path, specs, [&](SafetensorsWriter& w, const TensorSpec& s) {
      if (s.name != k1) return false;
      std::vector<uint8_t> bytes(64 * 4, 0);
      w.add(s.name, DType::I32, s.shape, bytes);
      return true;
    });
    CHECK_THAT(validate_error(c, dir.path), Catch::Contains("tensor '" + k1 + "' has dtype I32"));
  }
}
