#include "core/gemma4_vocab.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "core/error.h"
#include "core/special_tokens.h"

namespace g4 {

namespace {

using nlohmann::json;

// The Gemma 3 file is ~33 MB; anything far larger is not a tokenizer.json.
constexpr uintmax_t kMaxTokenizerBytes = 128u << 20;

json read_tokenizer_json(const std::filesystem::path& file) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) fail_input(file.string(), "cannot read: " + ec.message());
  if (size > kMaxTokenizerBytes)
    fail_input(file.string(), "file is " + std::to_string(size) + " bytes, too large");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail_input(file.string(), "cannot open");
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail_input(file.string(), "not valid JSON");
  return j;
}

// A merge is either "a b" (older files) or ["a", "b"].
std::pair<std::string, std::string> merge_pair(const json& m, const std::string& label) {
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
    return {m[0].get<std::string>(), m[1].get<std::string>()};
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    const size_t sp = s.find(' ');
    if (sp != std::string::npos) return {s.substr(0, sp), s.substr(sp + 1)};
  }
  fail_input(label, "model.merges holds an entry that is neither [\"a\",\"b\"] nor \"a b\"");
}

// Merges reference pieces by string, so a renamed piece must never take part in one.
void check_merges_avoid(const json& merges, const std::set<std::string>& renamed, const std::string& label) {
  if (!merges.is_array()) fail_input(label, "model.merges is not an array");
  for (const json& m : merges) {
    const auto [a, b] = merge_pair(m, label);
    for (const std::string* s : {&a, &b})
      if (renamed.count(*s)) fail_input(label, "renamed piece '" + *s + "' appears in model.merges");
    if (renamed.count(a + b)) fail_input(label, "renamed piece '" + a + b + "' is produced by a merge");
  }
}

void validate_result(const json& out, const std::string& label) {
  const json& vocab = out["model"]["vocab"];
  if (vocab.size() != static_cast<size_t>(kGemma4VocabSize))
    fail_input(label, "vocabulary has " + std::to_string(vocab.size()) + " entries, expected 262144");
  std::vector<bool> seen(kGemma4VocabSize, false);
  for (const auto& [piece, id_json] : vocab.items()) {
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || id >= kGemma4VocabSize) fail_input(label, "piece '" + piece + "' has id out of range");
    if (seen[static_cast<size_t>(id)]) fail_input(label, "id " + std::to_string(id) + " is used twice");
    seen[static_cast<size_t>(id)] = true;
  }
  std::set<int64_t> added_ids;
  for (const json& t : out["added_tokens"]) {
    const int64_t id = t["id"].get<int64_t>();
    if (!added_ids.insert(id).second)
      fail_input(label, "added token id " + std::to_string(id) + " listed twice");
    const std::string content = t["content"].get<std::string>();
    auto it = vocab.find(content);
    if (it == vocab.end() || it->get<int64_t>() != id)
      fail_input(label, "added token '" + content + "' (id " + std::to_string(id) +
                            ") does not match the vocabulary");
  }
}

}  // namespace

json make_gemma4_tokenizer_json(const json& gemma3_tokenizer, const std::string& source_label) {
  const std::string& label = source_label;
  if (!gemma3_tokenizer.is_object()) fail_input(label, "top level is not a JSON object");
  if (!gemma3_tokenizer.contains("model") || !gemma3_tokenizer["model"].is_object())
    fail_input(label, "missing object 'model'");
  const json& model = gemma3_tokenizer["model"];
  if (model.value("type", std::string()) != "BPE") fail_input(label, "model.type is not \"BPE\"");
  if (!model.contains("vocab") || !model["vocab"].is_object())
    fail_input(label, "model.vocab is not an object");
  if (!model.contains("merges")) fail_input(label, "model.merges is missing");
  if (!gemma3_tokenizer.contains("added_tokens") || !gemma3_tokenizer["added_tokens"].is_array())
    fail_input(label, "added_tokens is not an array");

  json out = gemma3_tokenizer;
  json& vocab = out["model"]["vocab"];

  // Gemma 3 names of the 24 ids, found by id; extra ids (>= 262,144) are dropped.
  std::map<int64_t, std::string> new_name;
  for (const SpecialToken& t : kGemma4SpecialTokens) new_name[t.id] = std::string(t.text);
  std::map<int64_t, std::string> old_name;
  std::vector<std::string> dropped;
  for (const auto& [piece, id_json] : vocab.items()) {
    if (!id_json.is_number_integer()) fail_input(label, "model.vocab['" + piece + "'] is not an integer id");
    const int64_t id = id_json.get<int64_t>();
    if (id >= kGemma4VocabSize) dropped.push_back(piece);
    if (new_name.count(id)) {
      if (old_name.count(id)) fail_input(label, "id " + std::to_string(id) + " appears twice in model.vocab");
      old_name[id] = piece;
    }
  }
  for (const std::string& piece : dropped) vocab.erase(piece);
  std::set<std::string> renamed;  // old names that disappear
  for (const auto& [id, name] : new_name) {
    auto it = old_name.find(id);
    if (it == old_name.end()) fail_input(label, "model.vocab has no piece with id " + std::to_string(id));
    if (it->second == name) continue;
    if (vocab.contains(name)) fail_input(label, "model.vocab already holds '" + name + "' under another id");
    renamed.insert(it->second);
    vocab.erase(it->second);
    vocab[name] = id;
  }
  check_merges_avoid(out["model"]["merges"], renamed, label);

  json added = json::array();
  std::set<int64_t> added_special;
  for (const json& t : out["added_tokens"]) {
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
        !t["content"].is_string())
      fail_input(label, "added_tokens holds an entry without integer 'id' and string 'content'");
    const int64_t id = t["id"].get<int64_t>();
    if (id >= kGemma4VocabSize) continue;
    json copy = t;
    if (auto it = new_name.find(id); it != new_name.end()) {
      copy["content"] = it->second;
      copy["special"] = true;
      added_special.insert(id);
    }
    added.push_back(std::move(copy));
  }
  // A special token that Gemma 3 kept as an ordinary piece still has to be matched as a whole.
  for (const auto& [id, name] : new_name) {
    if (added_special.count(id)) continue;
    added.push_back({{"id", id},
                     {"content", name},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  std::stable_sort(added.begin(), added.end(), [](const json& a, const json& b) {
    return a["id"].get<int64_t>() < b["id"].get<int64_t>();
  });
  out["added_tokens"] = std::move(added);
  out["post_processor"] = nullptr;  // no automatic BOS: the chat template writes <bos> (spec §5.1)

  validate_result(out, label);
  return out;
}

json make_gemma4_tokenizer_config() {
  return json{
      {"add_bos_token", false},
      {"add_eos_token", false},
      {"bos_token", "<bos>"},
      {"eos_token", "<eos>"},  // stop ids (1, 106, 50) live in generation_config.json (spec §5.4)
      {"pad_token", "<pad>"},
      {"unk_token", "<unk>"},
      {"mask_token", "<mask>"},
      {"clean_up_tokenization_spaces", false},
      {"model_max_length", kGemma4VocabSize},
      {"padding_side", "left"},
      {"tokenizer_class", "GemmaTokenizer"},
  };
}

void write_gemma4_tokenizer_files(const std::filesystem::path& gemma3_tokenizer_json,
                                  const std::filesystem::path& out_dir) {
  const json converted =
      make_gemma4_tokenizer_json(read_tokenizer_json(gemma3_tokenizer_json), gemma3_tokenizer_json.string());
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) fail_input(out_dir.string(), "cannot create directory: " + ec.message());
  const auto write = [](const std::filesystem::path& file, const json& j) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    if (!out) fail_input(file.string(), "cannot open for writing");
    out << j.dump() << '\n';
    if (!out) fail_input(file.string(), "write failed");
  };
  write(out_dir / "tokenizer.json", converted);
  write(out_dir / "tokenizer_config.json", make_gemma4_tokenizer_config());
}

}  // namespace g4
