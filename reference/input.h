// The reference takes the shared forward input of core/forward_input.h.
#pragma once
#include "core/forward_input.h"

namespace g4::reference {
using g4::ForwardInput;
using g4::SoftTokenInput;
}  // namespace g4::reference
