// [tokenizer_corpus]: the C++ BPE tokenizer against ids earned by an independent JavaScript tokenizer
// (transformers.js via @lenml/tokenizers; tools/tokenizer-ref/README.md) on >= 2,000 strings:
// tests/fixtures/tokenizer/corpus.jsonl (inputs) and expected.jsonl (ids, modes "plain" and "special").
// The tokenizer.json under test is made by our converter from the npm Gemma vocabulary, exactly as the
// JavaScript side was given it.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/gemma4_vocab.h"
#include "core/tokenizer.h"

namespace {

using nlohmann::json;

struct CorpusRecord {
  int64_t index = 0;
  std::string bytes;  // raw input: UTF-8 text, or the invalid bytes of a "hex" record
  bool is_hex = false;
  std::vector<int32_t> plain, special;
};

std::string hex_to_bytes(const std::string& hex) {
  REQUIRE(hex.size() % 2 == 0);
  std::string out;
  for (size_t k = 0; k < hex.size(); k += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(k, 2), nullptr, 16)));
  return out;
}

std::vector<json> read_jsonl(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) FAIL("cannot open " << file);
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

const std::vector<CorpusRecord>& corpus() {
  static const std::vector<CorpusRecord> records = [] {
    const std::filesystem::path dir = std::filesystem::path(G4_FIXTURES_DIR) / "tokenizer";
    const std::vector<json> inputs = read_jsonl(dir / "corpus.jsonl");
    std::vector<json> expected = read_jsonl(dir / "expected.jsonl");
    REQUIRE(!expected.empty());
    REQUIRE(expected.front().contains("meta"));  // header line: generator and package versions
    expected.erase(expected.begin());
    REQUIRE(inputs.size() == expected.size());
    std::vector<CorpusRecord> out;
    for (size_t k = 0; k < inputs.size(); ++k) {
      CorpusRecord r;
      r.index = inputs[k]["i"].get<int64_t>();
      REQUIRE(expected[k]["i"].get<int64_t>() == r.index);
      r.is_hex = inputs[k].contains("hex");
      r.bytes =
          r.is_hex ? hex_to_bytes(inputs[k]["hex"].get<std::string>()) : inputs[k]["text"].get<std::string>();
      r.plain = expected[k]["plain"].get<std::vector<int32_t>>();
      r.special = expected[k]["special"].get<std::vector<int32_t>>();
      out.push_back(std::move(r));
    }
    return out;
  }();
  return records;
}

// The converted Gemma 4 tokenizer, built once per test binary into a private temp dir.
struct ConvertedTokenizer {
  std::filesystem::path dir;
  std::unique_ptr<g4::Tokenizer> tokenizer;
  ConvertedTokenizer() {
    const std::filesystem::path vocab = G4_DEFAULT_VOCAB;
    if (!std::filesystem::exists(vocab))
      FAIL("Gemma vocabulary " << vocab << " is missing: run scripts/install-deps.sh");
    dir = std::filesystem::temp_directory_path() / ("g4eval_tokenizer_corpus_" + std::to_string(::getpid()));
    g4::write_gemma4_tokenizer_files(vocab, dir);
    tokenizer = g4::Tokenizer::load_json(dir / "tokenizer.json");
  }
  ~ConvertedTokenizer() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

const g4::Tokenizer& gemma4_tokenizer() {
  static const ConvertedTokenizer converted;
  return *converted.tokenizer;
}

std::string ids_text(const std::vector<int32_t>& ids) {
  std::ostringstream s;
  s << '[';
  for (size_t k = 0; k < ids.size(); ++k) s << (k ? "," : "") << ids[k];
  s << ']';
  return s.str();
}

std::string shown(const CorpusRecord& r) {
  std::string s = r.is_hex ? "hex " : "";
  if (r.is_hex) {
    static const char* digits = "0123456789abcdef";
    for (unsigned char c : r.bytes) s += {digits[c >> 4], digits[c & 15]};
    return s;
  }
  s = json(r.bytes).dump();
  return s.size() > 160 ? s.substr(0, 160) + "...\"" : s;
}

void check_mode(bool special) {
  const g4::Tokenizer& tok = gemma4_tokenizer();
  size_t mismatches = 0;
  std::ostringstream report;
  for (const CorpusRecord& r : corpus()) {
    const std::vector<int32_t>& want = special ? r.special : r.plain;
    const std::vector<int32_t> got = tok.encode(r.bytes, special);
    if (got == want) continue;
    if (++mismatches <= 8)
      report << "  #" << r.index << ' ' << shown(r) << "\n    expected " << ids_text(want)
             << "\n    got      " << ids_text(got) << '\n';
  }
  INFO((special ? "special" : "plain")
       << " mode: " << mismatches << " of " << corpus().size() << " records differ from the JavaScript ids\n"
       << report.str());
  CHECK(corpus().size() >= 2000);
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("corpus ids match the JavaScript tokenizer / user text", "[tokenizer_corpus]") {
  check_mode(false);
}

TEST_CASE("corpus ids match the JavaScript tokenizer / template text", "[tokenizer_corpus]") {
  check_mode(true);
}

TEST_CASE("decode(encode(s)) == s on the valid corpus strings", "[tokenizer_corpus]") {
  const g4::Tokenizer& tok = gemma4_tokenizer();
  size_t checked = 0, failures = 0;
  std::ostringstream report;
  for (const CorpusRecord& r : corpus()) {
    // A literal "▁" (U+2581) is how the vocabulary spells a space, so it decodes to " " by design; hex
    // records lost bytes to U+FFFD. Plain mode only: special tokens decode to their text anyway.
    if (r.is_hex || r.bytes.find("\xE2\x96\x81") != std::string::npos) continue;
    ++checked;
    const std::string back = tok.decode(tok.encode(r.bytes, false));
    if (back == r.bytes) continue;
    if (++failures <= 5)
      report << "  #" << r.index << ' ' << shown(r) << "\n    decoded " << json(back).dump() << '\n';
  }
  INFO(failures << " of " << checked << " strings did not round-trip\n" << report.str());
  CHECK(checked > 1800);
  CHECK(failures == 0);
}
