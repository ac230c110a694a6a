// The CLI's prompt flags turned into a ForwardInput, shared by the subcommands that run a model:
//   --prompt TEXT   one user turn through the chat template (the checkpoints are instruction-tuned), or
//                   with raw=true the text itself after <bos>;
//   --chat FILE     a chat JSON file (core/chat_messages.h); images and audio are preprocessed here so that
//                   the template knows their soft-token counts.
#pragma once
#include <filesystem>
#include <optional>
#include <string_view>

#include "core/forward_input.h"
#include "core/tokenizer.h"

namespace g4::cli {

struct PromptInput {
  ForwardInput input;
  bool chat_template = true;  // rendered through the chat template (so the reply can be parsed)
  bool thinking = false;      // the template enabled thinking
};

// One user turn, rendered with the generation prompt.
PromptInput user_turn_input(std::string_view text, const Tokenizer& tok, bool enable_thinking);
// <bos> followed by the text, encoded without special tokens.
PromptInput raw_text_input(std::string_view text, const Tokenizer& tok);
// A chat file; `enable_thinking` (when set) overrides the file's own enable_thinking.
PromptInput chat_file_input(const std::filesystem::path& file, const Tokenizer& tok,
                            std::optional<bool> enable_thinking = {});

}  // namespace g4::cli
