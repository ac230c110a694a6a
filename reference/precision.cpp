#include "reference/precision.h"

#include "core/dtype.h"
#include "core/error.h"

namespace g4::reference {

Precision parse_precision(std::string_view s) {
  if (s == "bf16") return Precision::BF16;
  if (s == "fp32") return Precision::FP32;
  fail_input("--precision", "unknown precision '" + std::string(s) + "' (expected bf16 or fp32)");
}

std::string_view precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

float at_boundary(Precision p, float x) { return p == Precision::BF16 ? round_bf16(x) : x; }

}  // namespace g4::reference
