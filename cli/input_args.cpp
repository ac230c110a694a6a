#include "cli/input_args.h"

#include <algorithm>
#include <climits>

#include "cli/prompt_input.h"
#include "core/error.h"
#include "core/number_list.h"

namespace g4::cli {

std::vector<int32_t> parse_ids(const std::string& text) {
  const auto v = parse_number_list(text, "--ids", 0, INT32_MAX, "a non-negative integer token id");
  return std::vector<int32_t>(v.begin(), v.end());
}

ForwardInput read_forward_input(const std::string& model_dir, const std::string& ids,
                                const std::string& prompt, const std::string& chat) {
  const int sources = !ids.empty() + !prompt.empty() + !chat.empty();
  if (sources != 1) fail_input("input", "give exactly one of --ids, --prompt, --chat");
  ForwardInput in;
  if (!ids.empty()) {
    in.ids = parse_ids(ids);
  } else if (!prompt.empty()) {
    in = raw_text_input(prompt, *Tokenizer::load_dir(model_dir)).input;
  } else {
    in = chat_file_input(chat, *Tokenizer::load_dir(model_dir)).input;
  }
  return in;
}

}  // namespace g4::cli
