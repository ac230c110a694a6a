// The reference's two precision modes (docs/ARCHITECTURE.md, "Precision contract").
//   bf16: activations rounded to bf16 at the tensor boundaries of the public bf16 eager run,
//         fp32 accumulation, norms and softmax in fp32.
//   fp32: the same graph with fp32 activations (weights widened from their stored dtype).
#pragma once
#include <string_view>

namespace g4::reference {

enum class Precision { BF16, FP32 };

Precision parse_precision(std::string_view s);  // "bf16" | "fp32"; InputError("--precision: ...") otherwise
std::string_view precision_name(Precision p);

// Applies the mode's boundary rounding: bf16 rounds to nearest even, fp32 leaves the value alone.
float at_boundary(Precision p, float x);

}  // namespace g4::reference
