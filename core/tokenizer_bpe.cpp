// Tokenizer::load_json: a HF tokenizer.json with a byte-fallback BPE model in the shape Gemma uses
// (spec §6), and Tokenizer::load_dir. Behaviour follows the transformers.js implementation that the
// corpus expectations come from (tools/tokenizer-ref): added tokens are split out first on the raw
// text, each remaining segment is normalized (" " -> "▁") and BPE-encoded as a whole (the Split
// pre-tokenizer on " " finds nothing once every space is "▁").
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/bpe_model.h"
#include "core/error.h"
#include "core/special_tokens.h"
#include "core/tokenizer.h"
#include "core/utf8.h"

namespace g4 {
namespace {

using nlohmann::json;

constexpr std::uintmax_t kMaxJsonBytes = 512ull << 20;
constexpr int32_t kMaxAddedTokens = 1 << 20;

class BpeTokenizer final : public Tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool special) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  std::optional<int32_t> token_id(std::string_view piece) const override {
    const auto it = ids_.find(std::string(piece));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  std::string piece(int32_t id) const override {
    if (id < 0 || id >= vocab_size()) fail_input("token id", "id " + std::to_string(id) + " out of range");
    return pieces_[id];
  }

 private:
  friend class JsonLoader;
  bpe::MergeModel model_;
  bpe::AddedTokenMatcher added_;
  std::vector<std::string> pieces_;               // id -> piece (added-token content wins)
  std::unordered_map<std::string, int32_t> ids_;  // piece -> id
  std::vector<std::string> decoded_;              // id -> text after the decoder's Replace
  std::vector<int16_t> byte_value_;               // id -> byte of a <0xNN> piece, -1 otherwise
  std::string decode_replace_from_, decode_replace_to_;
};

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool special) const {
  std::string clean;
  if (!utf8::is_valid(text)) {
    clean = utf8::sanitize(text);
    text = clean;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (!added_.may_start(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    const auto match = added_.longest_at(text, i, special);
    if (match.length == 0) {
      ++i;
      continue;
    }
    model_.encode_segment(text.substr(start, i - start), out);
    out.push_back(match.id);
    i += match.length;
    start = i;
  }
  model_.encode_segment(text.substr(start), out);
  return out;
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::string out, bytes;
  auto flush_bytes = [&] {
    if (bytes.empty()) return;
    out += utf8::sanitize(bytes);  // TextDecoder semantics for a run of byte pieces
    bytes.clear();
  };
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      fail_input("ids", "token id " + std::to_string(id) + " out of range [0, " +
                            std::to_string(vocab_size()) + ")");
    }
    if (byte_value_[id] >= 0) {
      bytes.push_back(static_cast<char>(byte_value_[id]));
      continue;
    }
    flush_bytes();
    out += decoded_[id];
  }
  flush_bytes();
  return out;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  if (from.empty()) return s;
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

int byte_piece_value(std::string_view p) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  const int hi = hex(p[3]), lo = hex(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// The one code point of a string, or 0 when it is not exactly one code point.
char32_t single_code_point(std::string_view s) {
  if (s.empty() || !utf8::is_valid(s)) return 0;
  std::size_t pos = 0;
  const char32_t cp = utf8::next(s, pos);
  return pos == s.size() ? cp : 0;
}

class JsonLoader {
 public:
  explicit JsonLoader(std::filesystem::path path) : path_(std::move(path)), file_(path_.string()) {}

  std::unique_ptr<Tokenizer> load() {
    const json root = parse_file();
    if (!root.is_object()) fail("top level is not a JSON object");
    auto tok = std::make_unique<BpeTokenizer>();
    load_model(field(root, "model"), *tok);
    load_normalizer(root.value("normalizer", json()), tok->model_);
    check_pre_tokenizer(root.value("pre_tokenizer", json()), tok->model_);
    load_added_tokens(root.value("added_tokens", json::array()), *tok);
    load_decoder(root.value("decoder", json()), *tok);
    return tok;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const { fail_input(file_, what); }

  const json& field(const json& obj, const char* name) const {
    if (!obj.is_object() || !obj.contains(name)) fail(std::string("missing field \"") + name + "\"");
    return obj.at(name);
  }

  std::string string_field(const json& obj, const char* name) const {
    const json& v = field(obj, name);
    if (!v.is_string()) fail(std::string("field \"") + name + "\" is not a string");
    return v.get<std::string>();
  }

  json parse_file() const {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_, ec);
    if (ec) fail("cannot read: " + ec.message());
    if (size > kMaxJsonBytes) fail("file is larger than 512 MiB");
    std::ifstream in(path_, std::ios::binary);
    std::string text(size, '\0');
    if (!in.read(text.data(), static_cast<std::streamsize>(size))) fail("cannot read file");
    try {
      return json::parse(text);
    } catch (const json::parse_error& e) {
      fail(std::string("invalid JSON: ") + e.what());
    }
  }

  void load_model(const json& m, BpeTokenizer& tok) const {
    const std::string type = m.is_object() ? m.value("type", std::string()) : std::string();
    if (type != "BPE") fail("unsupported model type \"" + type + "\" (only \"BPE\" is supported)");
    for (const char* name : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (m.contains(name) && !m[name].is_null() && m[name] != "") fail(std::string("unsupported ") + name);
    if (m.value("ignore_merges", false)) fail("unsupported ignore_merges=true");
    if (m.contains("dropout") && !m["dropout"].is_null() && m["dropout"] != 0) fail("unsupported dropout");

    const json& vocab = field(m, "vocab");
    if (!vocab.is_object()) fail("model.vocab is not an object");
    const std::size_t n = vocab.size();
    tok.pieces_.assign(n, std::string());
    std::vector<bool> seen(n, false);
    tok.ids_.reserve(n * 2);
    for (const auto& [piece, idj] : vocab.items()) {
      if (!idj.is_number_integer()) fail("vocab id of \"" + piece + "\" is not an integer");
      const auto id = idj.get<int64_t>();
      if (id < 0 || static_cast<std::size_t>(id) >= n)
        fail("vocab id " + std::to_string(id) + " of \"" + piece + "\" is outside [0, " + std::to_string(n) +
             ")");
      if (seen[id]) fail("vocab id " + std::to_string(id) + " appears twice");
      seen[id] = true;
      tok.pieces_[id] = piece;
      tok.ids_.emplace(piece, static_cast<int32_t>(id));
    }

    bpe::MergeModel& model = tok.model_;
    model.byte_fallback = m.value("byte_fallback", false);
    model.fuse_unk = m.value("fuse_unk", false);
    model.char_ids.assign(0x110000, -1);
    for (int32_t id = 0; id < static_cast<int32_t>(n); ++id)
      if (const char32_t cp = single_code_point(tok.pieces_[id]); cp != 0) model.char_ids[cp] = id;
    model.byte_ids.fill(-1);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      if (const auto it = tok.ids_.find(name); it != tok.ids_.end()) model.byte_ids[b] = it->second;
    }
    if (m.contains("unk_token") && m["unk_token"].is_string()) {
      const auto it = tok.ids_.find(m["unk_token"].get<std::string>());
      if (it == tok.ids_.end()) fail("unk_token is not in the vocabulary");
      model.unk_id = it->second;
    } else if (!model.byte_fallback) {
      fail("model has neither unk_token nor byte_fallback");
    }
    load_merges(field(m, "merges"), tok);
    model.finish(tok.pieces_);
  }

  void load_merges(const json& merges, BpeTokenizer& tok) const {
    if (!merges.is_array()) fail("model.merges is not an array");
    bpe::MergeModel& model = tok.model_;
    model.rules.reserve(merges.size());
    model.ranks.reserve(merges.size());
    auto id_of = [&](const std::string& piece, std::size_t rank) {
      const auto it = tok.ids_.find(piece);
      if (it == tok.ids_.end())
        fail("merge " + std::to_string(rank) + " uses \"" + piece + "\", which is not in the vocabulary");
      return it->second;
    };
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const json& mj = merges[rank];
      std::string a, b;
      if (mj.is_array() && mj.size() == 2 && mj[0].is_string() && mj[1].is_string()) {
        a = mj[0].get<std::string>();
        b = mj[1].get<std::string>();
      } else if (mj.is_string()) {  // the older "a b" form
        const std::string s = mj.get<std::string>();
        const auto space = s.find(' ');
        if (space == std::string::npos) fail("merge " + std::to_string(rank) + " has no space");
        a = s.substr(0, space);
        b = s.substr(space + 1);
      } else {
        fail("merge " + std::to_string(rank) + " is neither [a, b] nor \"a b\"");
      }
      const bpe::MergeRule rule{id_of(a, rank), id_of(b, rank), id_of(a + b, rank)};
      model.rules.push_back(rule);
      model.ranks.insert(rule.left, rule.right, static_cast<uint32_t>(rank));
    }
  }

  // Supported: none, or Replace of one literal code point by another (Gemma: " " -> "▁").
  void load_normalizer(const json& n, bpe::MergeModel& model) const {
    if (n.is_null()) return;
    if (!n.is_object() || n.value("type", "") != "Replace" || !n.contains("pattern") ||
        !n["pattern"].contains("String"))
      fail("unsupported normalizer (only a Replace of one literal character is supported)");
    model.replace_from = single_code_point(string_field(n["pattern"], "String"));
    model.replace_to = single_code_point(string_field(n, "content"));
    if (model.replace_from == 0 || model.replace_to == 0)
      fail("unsupported normalizer: Replace must map one character to one character");
  }

  // Supported: none, or Split on the literal the normalizer has already replaced (so it never fires).
  void check_pre_tokenizer(const json& p, const bpe::MergeModel& model) const {
    if (p.is_null()) return;
    const bool no_op_split =
        p.is_object() && p.value("type", "") == "Split" && p.contains("pattern") &&
        p["pattern"].is_object() && p["pattern"].contains("String") && p["pattern"]["String"].is_string() &&
        !p.value("invert", false) && model.replace_from != 0 &&
        single_code_point(p["pattern"]["String"].get<std::string>()) == model.replace_from;
    if (!no_op_split)
      fail("unsupported pre_tokenizer (only a Split on the character the normalizer replaces is supported)");
  }

  void load_added_tokens(const json& added, BpeTokenizer& tok) const {
    if (!added.is_array()) fail("added_tokens is not an array");
    if (added.size() > static_cast<std::size_t>(kMaxAddedTokens)) fail("too many added_tokens");
    const auto limit = static_cast<int64_t>(tok.pieces_.size() + added.size());
    std::vector<bool> seen(static_cast<std::size_t>(limit), false);
    for (const json& t : added) {
      const std::string content = string_field(t, "content");
      const json& idj = field(t, "id");
      if (!idj.is_number_integer()) fail("added token \"" + content + "\" has a non-integer id");
      const auto id = idj.get<int64_t>();
      if (id < 0 || id >= limit)
        fail("added token \"" + content + "\" has id " + std::to_string(id) + " out of range");
      if (seen[id]) fail("added token id " + std::to_string(id) + " appears twice");
      seen[id] = true;
      if (content.empty()) fail("added token " + std::to_string(id) + " is empty");
      for (const char* flag : {"lstrip", "rstrip", "single_word"})
        if (t.value(flag, false)) fail("added token \"" + content + "\": unsupported " + flag + "=true");
      if (const auto it = tok.ids_.find(content); it != tok.ids_.end() && it->second != id)
        fail("added token \"" + content + "\" has id " + std::to_string(id) + " but the vocabulary says " +
             std::to_string(it->second));
      bool special = t.value("special", false);
      for (const auto& s : kGemma4SpecialTokens) special = special || s.text == content;
      if (static_cast<std::size_t>(id) >= tok.pieces_.size()) tok.pieces_.resize(id + 1);
      tok.pieces_[id] = content;
      tok.ids_[content] = static_cast<int32_t>(id);
      tok.added_.add(content, static_cast<int32_t>(id), special);
    }
  }

  // Supported: none, or a Sequence of Replace (literal), ByteFallback and Fuse in any order HF allows;
  // Fuse only joins, which decode() does anyway.
  void load_decoder(const json& d, BpeTokenizer& tok) const {
    std::vector<json> steps;
    if (d.is_object() && d.value("type", "") == "Sequence" && d.contains("decoders") &&
        d["decoders"].is_array())
      steps.assign(d["decoders"].begin(), d["decoders"].end());
    else if (!d.is_null())
      steps.push_back(d);
    bool byte_fallback = false;
    for (const json& s : steps) {
      const std::string type = s.is_object() ? s.value("type", "") : "";
      if (type == "Replace" && s.contains("pattern") && s["pattern"].contains("String")) {
        tok.decode_replace_from_ = string_field(s["pattern"], "String");
        tok.decode_replace_to_ = string_field(s, "content");
      } else if (type == "ByteFallback") {
        byte_fallback = true;
      } else if (type != "Fuse") {
        fail("unsupported decoder step \"" + type + "\" (supported: Replace, ByteFallback, Fuse)");
      }
    }
    const std::size_t n = tok.pieces_.size();
    tok.decoded_.resize(n);
    tok.byte_value_.assign(n, -1);
    for (std::size_t id = 0; id < n; ++id) {
      tok.decoded_[id] = replace_all(tok.pieces_[id], tok.decode_replace_from_, tok.decode_replace_to_);
      if (byte_fallback) tok.byte_value_[id] = static_cast<int16_t>(byte_piece_value(tok.pieces_[id]));
    }
  }

  std::filesystem::path path_;
  std::string file_;
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load_json(const std::filesystem::path& tokenizer_json) {
  return JsonLoader(tokenizer_json).load();
}

std::unique_ptr<Tokenizer> Tokenizer::load_dir(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / "tokenizer.json")) return load_json(dir / "tokenizer.json");
  if (std::filesystem::exists(dir / "tokenizer.model")) return load_sentencepiece(dir / "tokenizer.model");
  fail_input(dir.string(), "no tokenizer.json or tokenizer.model in this directory");
}

}  // namespace g4
