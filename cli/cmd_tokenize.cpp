// g4eval tokenize --model DIR [--special] [--decode]
// Reads stdin one JSON value per line and writes one JSON line per input line, flushed each time, so a
// driving process can talk to it line by line:
//   encode (default): a JSON string in -> a JSON array of ids out (no BOS added);
//   --decode:         a JSON array of ids in -> a JSON string out.
// DIR needs only tokenizer.json or tokenizer.model. A malformed line is an input error (exit 2).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "core/tokenizer.h"

namespace g4::cli {
namespace {

struct TokenizeOptions {
  std::string model_dir;
  bool special = false;
  bool decode = false;
};

int run_tokenize(const TokenizeOptions& opt) {
  const auto tok = Tokenizer::load_dir(opt.model_dir);
  std::string line;
  for (long line_no = 1; std::getline(std::cin, line); ++line_no) {
    const std::string where = "stdin:" + std::to_string(line_no);
    nlohmann::json in;
    try {
      in = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error&) {
      fail_input(where, opt.decode ? "expected a JSON array of token ids" : "expected a JSON string");
    }
    std::string out;
    if (opt.decode) {
      std::vector<int32_t> ids;
      if (!in.is_array()) fail_input(where, "expected a JSON array of token ids");
      for (const auto& v : in) {
        if (!v.is_number_integer()) fail_input(where, "expected a JSON array of token ids");
        const auto id = v.get<int64_t>();
        if (id < 0 || id >= tok->vocab_size())
          fail_input(where, "token id " + std::to_string(id) + " out of range");
        ids.push_back(static_cast<int32_t>(id));
      }
      // Decoded text can hold U+FFFD but is always valid UTF-8, so dump() cannot throw.
      out = nlohmann::json(tok->decode(ids)).dump();
    } else {
      if (!in.is_string()) fail_input(where, "expected a JSON string");
      out = nlohmann::json(tok->encode(in.get<std::string>(), opt.special)).dump();
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  return 0;
}

RegisterCommand reg("tokenize", "Encode JSON strings from stdin to token ids (or --decode ids to text)",
                    [](CLI::App& app) -> Action {
                      auto opt = std::make_shared<TokenizeOptions>();
                      app.add_option("--model", opt->model_dir,
                                     "Directory with tokenizer.json or tokenizer.model")
                          ->required();
                      app.add_flag(
                          "--special", opt->special,
                          "Match special tokens (<bos>, <|turn>, ...) literally: trusted template text only");
                      app.add_flag("--decode", opt->decode, "Read JSON id arrays, write JSON strings");
                      return [opt] { return run_tokenize(*opt); };
                    });

}  // namespace
}  // namespace g4::cli
