// Tokenizers behind one interface:
//   - tokenizer.json: HF BPE with byte fallback (spec §6): normalizer " " -> "▁", no dummy prefix,
//     merges by rank, unknown characters as <0xNN> byte pieces; decoder "▁" -> " ", byte fallback, fuse.
//     Added tokens: non-special ones (e.g. "\n\n", "<table>", <unusedN>) are matched literally in any
//     text, as HF does; special ones (core/special_tokens.h and any added token with "special": true)
//     only when encode(..., special=true), i.e. in trusted template text.
//   - tokenizer.model: SentencePiece through the sentencepiece library, when a checkpoint ships only that.
// Input that is not valid UTF-8 is decoded with U+FFFD replacement (the WHATWG "maximal subpart" rule,
// which is what JavaScript's TextDecoder does) before tokenization.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace g4 {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Loads DIR/tokenizer.json if present, else DIR/tokenizer.model; InputError naming the file otherwise.
  static std::unique_ptr<Tokenizer> load_dir(const std::filesystem::path& dir);
  static std::unique_ptr<Tokenizer> load_json(const std::filesystem::path& tokenizer_json);
  static std::unique_ptr<Tokenizer> load_sentencepiece(const std::filesystem::path& tokenizer_model);

  // No BOS is added: the chat template writes <bos> itself (spec §5.1).
  virtual std::vector<int32_t> encode(std::string_view text, bool special = false) const = 0;
  // Ids out of range are an InputError. Special tokens decode to their text.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> token_id(std::string_view piece) const = 0;
  virtual std::string piece(int32_t id) const = 0;  // the vocabulary string of an id
};

}  // namespace g4
