// Helpers shared by the test files.
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace g4::testing {

// A fresh directory under the system temp dir, removed (with its contents) at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag = "test") {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("g4_" + tag + "_" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// The real Gemma vocabulary (npm package, installed by scripts/install-deps.sh) is a dependency, not an
// option: tests that need it fail, rather than skip, when it is missing.
inline void require_gemma_vocab() {
  if (!std::filesystem::is_regular_file(G4_DEFAULT_VOCAB))
    FAIL("Gemma vocabulary missing (" G4_DEFAULT_VOCAB "); run scripts/install-deps.sh");
}

}  // namespace g4::testing
