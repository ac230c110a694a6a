// Errors. Two kinds, kept apart because they exit differently:
//   InputError  - something a user handed us is wrong (file, flag, data). One line that names the file
//                 and the problem; the CLI prints it and exits 2.
//   G4_CHECK    - an internal invariant broke (a bug). Carries __FILE__:__LINE__; the CLI exits 3.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace g4 {

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws InputError("FILE: WHAT"). FILE may be a path or a flag name such as "--ids".
[[noreturn]] void fail_input(std::string_view file, std::string_view what);

struct InternalError : std::logic_error {
  using std::logic_error::logic_error;
};

[[noreturn]] void fail_internal(const char* file, int line, std::string_view what);

}  // namespace g4

#define G4_CHECK(cond, msg)                                                                                 \
  do {                                                                                                      \
    if (!(cond)) ::g4::fail_internal(__FILE__, __LINE__, std::string("check failed: " #cond ": ") + (msg)); \
  } while (0)
