// The --ids / --prompt / --chat flags of forward and check turned into a forward input.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/forward_input.h"
#include "core/tokenizer.h"

namespace g4::cli {

// "2,105,2364" -> ids; InputError("--ids", ...) for anything but non-negative integers.
std::vector<int32_t> parse_ids(const std::string& text);

// Exactly one of ids / prompt (raw text after <bos>, cli/prompt_input.h) / chat must be non-empty
// (InputError otherwise).
ForwardInput read_forward_input(const std::string& model_dir, const std::string& ids,
                                const std::string& prompt, const std::string& chat);

}  // namespace g4::cli
