// Tokenizer::load_sentencepiece: a tokenizer.model through the sentencepiece library, for checkpoints
// that ship no tokenizer.json. Text goes to SentencePiece as it is (after U+FFFD repair of invalid
// UTF-8); its own control and user-defined symbols handling applies, and no BOS is added.
#include <sentencepiece_processor.h>

#include "core/error.h"
#include "core/tokenizer.h"
#include "core/utf8.h"

namespace g4 {
namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::filesystem::path& path) {
    const auto status = sp_.Load(path.string());
    if (!status.ok()) fail_input(path.string(), "cannot load SentencePiece model: " + status.ToString());
  }

  std::vector<int32_t> encode(std::string_view text, bool /*special*/) const override {
    std::string clean;
    if (!utf8::is_valid(text)) {
      clean = utf8::sanitize(text);
      text = clean;
    }
    const std::vector<int> ids = sp_.EncodeAsIds(absl::string_view(text.data(), text.size()));
    return std::vector<int32_t>(ids.begin(), ids.end());
  }

  std::string decode(std::span<const int32_t> ids) const override {
    std::vector<int> v;
    v.reserve(ids.size());
    for (const int32_t id : ids) {
      if (id < 0 || id >= vocab_size())
        fail_input("ids", "token id " + std::to_string(id) + " out of range [0, " +
                              std::to_string(vocab_size()) + ")");
      v.push_back(id);
    }
    return sp_.DecodeIds(v);
  }

  int32_t vocab_size() const override { return sp_.GetPieceSize(); }

  std::optional<int32_t> token_id(std::string_view piece) const override {
    const int id = sp_.PieceToId(absl::string_view(piece.data(), piece.size()));
    // PieceToId answers unk_id for unknown pieces; only the unk piece itself really has that id.
    if (id == sp_.unk_id() && sp_.IdToPiece(id) != piece) return std::nullopt;
    return id;
  }

  std::string piece(int32_t id) const override {
    if (id < 0 || id >= vocab_size()) fail_input("token id", "id " + std::to_string(id) + " out of range");
    return sp_.IdToPiece(id);
  }

 private:
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load_sentencepiece(const std::filesystem::path& tokenizer_model) {
  if (!std::filesystem::exists(tokenizer_model)) fail_input(tokenizer_model.string(), "no such file");
  return std::make_unique<SentencePieceTokenizer>(tokenizer_model);
}

}  // namespace g4
