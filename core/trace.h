// The trace hook: a callback that receives every named intermediate tensor of a forward pass
// (names and shapes in docs/ARCHITECTURE.md "Layer-by-layer check"), as f32 values. Costs nothing when null.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace g4 {

using TraceFn = std::function<void(const std::string& name, const std::vector<int64_t>& shape,
                                   std::span<const float> values)>;

inline void emit(const TraceFn* trace, const std::string& name, const std::vector<int64_t>& shape,
                 std::span<const float> values) {
  if (trace != nullptr && *trace) (*trace)(name, shape, values);
}

}  // namespace g4
