// Comma-separated integer lists from the command line ("2,105,2364", "0,4096,32768").
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace g4 {

// Every item must be a whole integer in [min, max]; otherwise InputError(flag, "'ITEM' is not ...").
std::vector<int64_t> parse_number_list(std::string_view text, const std::string& flag, int64_t min,
                                       int64_t max, const std::string& what);

}  // namespace g4
