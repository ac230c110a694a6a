// libFuzzer target: arbitrary bytes -> JSON -> parse_model_config / parse_generation_config. Malformed JSON
// and InputError are expected rejections; any other exception, crash or sanitizer report is a finding.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    (void)g4::parse_model_config(j, "fuzz");
  } catch (const g4::InputError&) {
  }
  try {
    (void)g4::parse_generation_config(j, "fuzz");
  } catch (const g4::InputError&) {
  }
  return 0;
}
