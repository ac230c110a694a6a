// G4_CUDA_CALL: every CUDA runtime call goes through it; a failure becomes an error naming the call,
// the file and line and CUDA's own message.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "core/error.h"

#define G4_CUDA_CALL(expr)                                                                              \
  do {                                                                                                  \
    cudaError_t g4_err_ = (expr);                                                                       \
    if (g4_err_ != cudaSuccess)                                                                         \
      ::g4::fail_internal(__FILE__, __LINE__, std::string(#expr) + ": " + cudaGetErrorString(g4_err_)); \
  } while (0)
