// libFuzzer target: arbitrary bytes -> SafetensorsFile::parse. A rejected input must be an InputError;
// any other exception, crash or sanitizer report is a finding. Run via scripts/fuzz.sh.
// The custom mutator keeps the 8-byte length prefix in step with the header: plain byte mutations almost
// always break the framing or the JSON, so without it the data-section checks (ranges past the end, holes)
// were never reached — a build with the end-of-data check removed survived 60 s of plain fuzzing.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "core/error.h"
#include "core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto f = g4::SafetensorsFile::parse(std::span<const uint8_t>(data, size), "fuzz");
    // Oracle for accepted files: the views tile the data section in order, each exactly numel x dtype size.
    uint64_t n = 0;
    for (size_t i = 0; i < 8; ++i) n |= static_cast<uint64_t>(data[i]) << (8 * i);
    const uint8_t* next = data + 8 + n;
    volatile uint8_t sink = 0;
    for (const auto& t : f->tensors()) {
      if (t.bytes.data() != next && !t.bytes.empty()) __builtin_trap();
      if (t.bytes.size() != static_cast<uint64_t>(t.numel()) * g4::dtype_size(t.dtype)) __builtin_trap();
      next += t.bytes.size();
      // Touch both ends so ASan checks the range really lies inside the input.
      if (!t.bytes.empty()) sink = static_cast<uint8_t>(sink ^ t.bytes.front() ^ t.bytes.back());
      const bool is_float =
          t.dtype == g4::DType::BF16 || t.dtype == g4::DType::F16 || t.dtype == g4::DType::F32;
      if (is_float && t.numel() <= (1 << 16)) (void)g4::to_f32(t);
    }
    if (next != data + size) __builtin_trap();
    (void)sink;
  } catch (const g4::InputError&) {
  }
  return 0;
}

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  uint64_t n = 0;
  for (size_t i = 0; i < 8 && i < size; ++i) n |= static_cast<uint64_t>(data[i]) << (8 * i);
  const bool framed = size >= 8 && n <= size - 8;
  const unsigned mode = std::minstd_rand(seed)() % 3;
  if (!framed || mode == 0) return LLVMFuzzerMutate(data, size, max_size);  // anything goes
  const size_t data_start = 8 + static_cast<size_t>(n);
  if (mode == 1) {  // mutate the header only and rewrite its length; the data section moves along
    const std::vector<uint8_t> tail(data + data_start, data + size);
    if (max_size <= 8 + tail.size()) return LLVMFuzzerMutate(data, size, max_size);
    const size_t new_n = LLVMFuzzerMutate(data + 8, static_cast<size_t>(n), max_size - 8 - tail.size());
    if (!tail.empty()) std::memcpy(data + 8 + new_n, tail.data(), tail.size());
    for (size_t i = 0; i < 8; ++i) data[i] = static_cast<uint8_t>(static_cast<uint64_t>(new_n) >> (8 * i));
    return 8 + new_n + tail.size();
  }
  if (max_size <= data_start) return LLVMFuzzerMutate(data, size, max_size);
  return data_start +
         LLVMFuzzerMutate(data + data_start, size - data_start, max_size - data_start);  // data only
}
