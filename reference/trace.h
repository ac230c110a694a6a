// The reference emits the shared trace of core/trace.h (names in docs/ARCHITECTURE.md).
#pragma once
#include "core/trace.h"

namespace g4::reference {
using g4::emit;
using g4::TraceFn;
}  // namespace g4::reference
