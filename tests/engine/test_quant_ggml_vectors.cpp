// Independent expected values: bytes and dot products computed by llama.cpp itself. The numbers below were
// produced by calling quantize_row_{q8_0,q4_0,q4_K,q6_K,q8_K}_ref and ggml_vec_dot_*_generic from the
// prebuilt libggml-base.so / libggml-cpu-x64.so shipped in the npm package @node-llama-cpp/linux-x64@3.21.1
// (a build without FMA contraction), on the inputs made by test_input() below (integer arithmetic and
// exact float scalings only, so every platform gets the same floats). The program that printed them is not
// part of the repository; docs/quant-formats.md says how to redo it.
#include <catch2/catch.hpp>

#include <bit>
#include <cstring>
#include <utility>
#include <vector>

#include "engine/quant/format.h"

using namespace g4::quant;

namespace {

// Values in [-1, 1) with 23 random bits, every 61st one ×16, super-block b scaled by 2^-(b mod 5).
std::vector<float> test_input(int n, uint32_t seed) {
  std::vector<float> x(n);
  uint32_t s = seed;
  for (int k = 0; k < n; ++k) {
    s = s * 1664525u + 1013904223u;
    float v = static_cast<float>(static_cast<int32_t>(s >> 8) - 8388608) / 8388608.0f;
    if (k % 61 == 0) v *= 16.0f;
    x[k] = v / static_cast<float>(1 << (k / 256 % 5));
  }
  return x;
}

uint64_t fnv1a(const std::vector<uint8_t>& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 1099511628211ull;
  }
  return h;
}

constexpr int kN = 4096;

struct Expected {
  Format format;
  uint64_t fnv;       // of the quantized row of test_input(4096, 1)
  uint32_t dot_bits;  // ggml_vec_dot_*_generic of that row with test_input(4096, 2) as q8_0 / q8_K
};

const Expected kExpected[] = {
    {Format::Q8_0, 0xf29adf3e733915aaull, 0x43e439aau},  // 456.4505
    {Format::Q4_0, 0xf826af27fba3812eull, 0x43e58515u},  // 459.039703
    {Format::Q4_K, 0x3448be10a5e85c2cull, 0x43e08f32u},  // 449.118713
    {Format::Q6_K, 0xcef99d488a0bf396ull, 0x43e3a6b9u},  // 455.302521
};

}  // namespace

TEST_CASE("quantizers give llama.cpp's bytes", "[quant]") {
  const auto w = test_input(kN, 1);
  for (const Expected& e : kExpected) {
    INFO(info(e.format).name);
    std::vector<uint8_t> q(row_bytes(e.format, kN));
    quantize_row(e.format, w.data(), q.data(), kN);
    CHECK(fnv1a(q) == e.fnv);
  }
  // Whole first blocks, for a readable diff when the hashes disagree.
  std::vector<uint8_t> q4(row_bytes(Format::Q4_0, kN));
  quantize_row(Format::Q4_0, w.data(), q4.data(), kN);
  const std::vector<uint8_t> q4_first = {0x37, 0x3c, 0x90, 0x88, 0x88, 0x88, 0x77, 0x78, 0x79,
                                         0x88, 0x77, 0x88, 0x88, 0x88, 0x88, 0x89, 0x97, 0x79};
  CHECK(std::vector<uint8_t>(q4.begin(), q4.begin() + 18) == q4_first);
  std::vector<uint8_t> qk(row_bytes(Format::Q4_K, kN));
  quantize_row(Format::Q4_K, w.data(), qk.data(), kN);
  const std::vector<uint8_t> q4k_head = {0xff, 0x23, 0x46, 0x30, 0x28, 0xd2, 0x08, 0x7f,
                                         0x3f, 0x16, 0x07, 0x45, 0x79, 0x84, 0x78, 0xb3,
                                         0x90, 0xed, 0xad, 0xbe, 0xac, 0xed, 0xde, 0xce};
  CHECK(std::vector<uint8_t>(qk.begin(), qk.begin() + 24) == q4k_head);
}

TEST_CASE("long rows give llama.cpp's bytes", "[quant]") {
  // 256 super-blocks: enough that a single float operation rounded differently (an FMA contraction in
  // make_qkx2_quants, say) shows up somewhere.
  constexpr int n = 65536;
  const auto x = test_input(n, 3);
  const std::pair<Format, uint64_t> expected[] = {{Format::Q8_0, 0x0ae2ccd821e9c2d5ull},
                                                  {Format::Q4_0, 0xfcf06bcec3e60e3aull},
                                                  {Format::Q4_K, 0x1e465fbddb1f5777ull},
                                                  {Format::Q6_K, 0xc05aa502480d0d91ull}};
  for (const auto& [format, fnv] : expected) {
    INFO(info(format).name);
    std::vector<uint8_t> q(row_bytes(format, n));
    quantize_row(format, x.data(), q.data(), n);
    CHECK(fnv1a(q) == fnv);
  }
  std::vector<uint8_t> q8_k(activation_row_bytes(Format::Q6_K, n));
  quantize_activation_row(Format::Q6_K, x.data(), q8_k.data(), n);
  CHECK(fnv1a(q8_k) == 0x9d0ce5320dd75691ull);
}

TEST_CASE("activation quantizers give llama.cpp's bytes", "[quant]") {
  const auto a = test_input(kN, 2);
  std::vector<uint8_t> q8_0(activation_row_bytes(Format::Q4_0, kN)),
      q8_k(activation_row_bytes(Format::Q4_K, kN));
  quantize_activation_row(Format::Q4_0, a.data(), q8_0.data(), kN);
  quantize_activation_row(Format::Q4_K, a.data(), q8_k.data(), kN);
  CHECK(fnv1a(q8_0) == 0x2789e87285f3220eull);
  CHECK(fnv1a(q8_k) == 0xe67fd99d4d03bc6dull);
}

TEST_CASE("vec_dot_scalar gives llama.cpp's generic dot product bits", "[quant]") {
  const auto w = test_input(kN, 1), a = test_input(kN, 2);
  for (const Expected& e : kExpected) {
    INFO(info(e.format).name);
    std::vector<uint8_t> q(row_bytes(e.format, kN)), act(activation_row_bytes(e.format, kN));
    quantize_row(e.format, w.data(), q.data(), kN);
    quantize_activation_row(e.format, a.data(), act.data(), kN);
    const float s = vec_dot_scalar(e.format, kN, q.data(), act.data());
    CHECK(std::bit_cast<uint32_t>(s) == e.dot_bits);
  }
}
