#include "core/error.h"

namespace g4 {

void fail_input(std::string_view file, std::string_view what) {
  std::string msg(file);
  msg += ": ";
  msg += what;
  throw InputError(msg);
}

void fail_internal(const char* file, int line, std::string_view what) {
  throw InternalError(std::string(file) + ":" + std::to_string(line) + ": " + std::string(what));
}

}  // namespace g4
