// Pins the SHA-256 of the reference's logits on the make-tiny checkpoint (seed 0), so any numerical change
// to the reference (or to make-tiny's weights) is a visible, deliberate event (DESIGN.md "Precision
// contract"). To re-pin after an intended change: run this test, read the printed digest, update kPinned*.
// The digest depends on glibc's expf/tanhf/powf/sinf/cosf; a different libm version may change it.
#include <catch2/catch.hpp>

#include <openssl/evp.h>

#include <unistd.h>
#include <fstream>
#include <string>

#include "core/config.h"
#include "core/tiny_checkpoint.h"
#include "reference/model.h"

using namespace g4;

namespace {

std::string sha256_hex(const std::vector<float>& v) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(v.data(), v.size() * sizeof(float), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned int i = 0; i < len; ++i) s += {hex[md[i] >> 4], hex[md[i] & 15]};
  return s;
}

// <bos><|turn>user\n ... then ordinary text ids: 40 positions, past make-tiny's 32-token sliding window, so
// the pinned bits cover the window's edge as well as the full layer's whole-context attention.
const std::vector<int32_t> kIds = {2,      105, 2364, 107,  9259,   1902,   506,    5279,   563,    9079,
                                   236761, 107, 818,  5279, 563,    506,    2608,   529,    7001,   236764,
                                   532,    506, 9079, 563,  2113,   236761, 106,    107,    105,    4368,
                                   107,    818, 9079, 563,  236743, 236810, 236832, 236771, 236761, 106};
constexpr const char* kPinnedBf16 = "d8ba7c635b2db353f49d7fb01f5562f752e7b7489180848328e37a0e71b3058c";
constexpr const char* kPinnedFp32 = "b7f134b347b8f40557fc2ea2e097d5a9b88f68805bf46574673acb8c9c80e53b";

}  // namespace

TEST_CASE("reference logits on the make-tiny checkpoint match the pinned SHA-256", "[reference][pinned]") {
  const auto dir = std::filesystem::temp_directory_path() / ("g4_ref_pinned_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const ModelConfig cfg = tiny_model_config();
  REQUIRE(static_cast<int64_t>(kIds.size()) > cfg.text.sliding_window);
  std::ofstream(dir / "config.json") << to_json(cfg).dump(2);
  write_tiny_weights(cfg, 0, dir / "model.safetensors");
  reference::ForwardInput in;
  in.ids = kIds;
  const std::string bf16 = sha256_hex(reference::Model::load(dir, reference::Precision::BF16).forward(in));
  const std::string fp32 = sha256_hex(reference::Model::load(dir, reference::Precision::FP32).forward(in));
  std::filesystem::remove_all(dir);
  INFO("bf16 " << bf16 << "\nfp32 " << fp32);
  CHECK(bf16 == kPinnedBf16);
  CHECK(fp32 == kPinnedFp32);
}
