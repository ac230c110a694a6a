#include "core/number_list.h"

#include <algorithm>

#include "core/error.h"

namespace g4 {

std::vector<int64_t> parse_number_list(std::string_view text, const std::string& flag, int64_t min,
                                       int64_t max, const std::string& what) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item(text.substr(start, comma - start));
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v < min || v > max)
      fail_input(flag, "'" + item + "' is not " + what);
    out.push_back(v);
    start = comma + 1;
  }
  return out;
}

}  // namespace g4
