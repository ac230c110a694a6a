// SentencePiece wrapper (core/tokenizer_sentencepiece.cpp): a tiny model trained here with the library's
// own trainer; the wrapper must agree with a SentencePieceProcessor used directly.
#include <catch2/catch.hpp>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tokenizer.h"

using namespace g4;

namespace {

// Trains once per test binary; returns the directory holding tokenizer.model.
std::filesystem::path trained_model_dir() {
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() / "g4_tok_test_sentencepiece";
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    const char* subjects[] = {"the cat", "a dog", "my neighbour", "the old sailor", "every student"};
    const char* verbs[] = {"sees", "likes", "paints", "remembers", "follows"};
    const char* objects[] = {"the river", "a red boat", "seven birds", "the quiet town", "an open window"};
    const char* tails[] = {"today", "at night", "in winter", "with care"};
    std::ofstream corpus(d / "corpus.txt");
    for (const char* s : subjects)
      for (const char* v : verbs)
        for (const char* o : objects)
          for (const char* t : tails) corpus << s << ' ' << v << ' ' << o << ' ' << t << ".\n";
    corpus.close();
    const std::string args = "--input=" + (d / "corpus.txt").string() +
                             " --model_prefix=" + (d / "tokenizer").string() +
                             " --vocab_size=120 --model_type=bpe --hard_vocab_limit=false"
                             " --character_coverage=1.0 --user_defined_symbols=<sep> --minloglevel=2"
                             " --num_threads=1";
    const auto status = sentencepiece::SentencePieceTrainer::Train(args);
    if (!status.ok()) throw std::runtime_error("sentencepiece training failed: " + status.ToString());
    return d;
  }();
  return dir;
}

}  // namespace

TEST_CASE("sentencepiece: wrapper agrees with the processor", "[tokenizer][sentencepiece]") {
  const auto dir = trained_model_dir();
  const auto tok = Tokenizer::load_sentencepiece(dir / "tokenizer.model");
  sentencepiece::SentencePieceProcessor sp;
  REQUIRE(sp.Load((dir / "tokenizer.model").string()).ok());

  CHECK(tok->vocab_size() == sp.GetPieceSize());
  for (const std::string s : {"the cat sees a red boat today.", "every student follows the river",
                              "unseen words: zebra xylophone!", "a dog<sep>the cat", "", "seven birds"}) {
    const std::vector<int> want = sp.EncodeAsIds(s);
    const std::vector<int32_t> got = tok->encode(s);
    CHECK(std::vector<int>(got.begin(), got.end()) == want);
    CHECK(tok->decode(got) == sp.DecodeIds(want));
  }
  // Text made only of training characters survives the round trip (single spaces, no leading space).
  for (const std::string s : {"the cat sees a red boat today.", "my neighbour paints seven birds in winter."})
    CHECK(tok->decode(tok->encode(s)) == s);
  // The user-defined symbol is passed through as text and matched by SentencePiece itself.
  const auto sep = tok->token_id("<sep>");
  REQUIRE(sep.has_value());
  const auto ids = tok->encode("a<sep>b");
  CHECK(std::find(ids.begin(), ids.end(), *sep) != ids.end());
}

TEST_CASE("sentencepiece: piece and token_id are inverse", "[tokenizer][sentencepiece]") {
  const auto tok = Tokenizer::load_sentencepiece(trained_model_dir() / "tokenizer.model");
  for (int32_t id = 0; id < tok->vocab_size(); ++id) {
    INFO("id " << id << " piece " << tok->piece(id));
    CHECK(tok->token_id(tok->piece(id)) == id);
  }
  CHECK_FALSE(tok->token_id("no such piece").has_value());
  CHECK_THROWS_AS(tok->decode(std::vector<int32_t>{tok->vocab_size()}), InputError);
  CHECK_THROWS_AS(tok->piece(-1), InputError);
}

TEST_CASE("sentencepiece: load_dir falls back to tokenizer.model / bad files are input errors",
          "[tokenizer][sentencepiece]") {
  const auto dir = trained_model_dir();
  CHECK(Tokenizer::load_dir(dir)->vocab_size() ==
        Tokenizer::load_sentencepiece(dir / "tokenizer.model")->vocab_size());
  const auto bad = dir / "bad.model";
  std::ofstream(bad) << "not a protobuf";
  try {
    Tokenizer::load_sentencepiece(bad);
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find(bad.string()) != std::string::npos);
  }
  CHECK_THROWS_AS(Tokenizer::load_sentencepiece(dir / "missing.model"), InputError);
}
