// `g4eval forward` end to end: the dumped logits equal the library's bits; bad flags exit 2 with one line.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/safetensors.h"
#include "reference/model.h"
#include "tests/reference/tiny_checkpoint.h"

using namespace g4;

namespace {
int run(const std::string& args) {
  const int rc = std::system((std::string(G4_BINARY_PATH) + " forward " + args + " >/dev/null 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
}  // namespace

TEST_CASE("g4eval forward dumps the reference logits and traces", "[reference][cli]") {
  test::TinySpec spec;
  spec.multimodal = false;
  const auto dir = test::write_tiny_checkpoint(spec, "cli");
  const auto out = dir / "out.safetensors";
  const std::string model = "--model " + dir.string() + " --dump " + out.string();
  REQUIRE(run(model + " --backend reference --precision fp32 --ids 2,105,300,7 --trace") == 0);
  {
    const auto f = SafetensorsFile::open(out);
    const TensorView* logits = f->find("logits");
    REQUIRE(logits != nullptr);
    CHECK(logits->shape == std::vector<int64_t>{4, 512});
    CHECK(f->find("layers.2.ffn_act") != nullptr);
    reference::ForwardInput in;
    in.ids = {2, 105, 300, 7};
    const auto want = reference::Model::load(dir, reference::Precision::FP32).forward(in);
    const auto got = to_f32(*logits);
    REQUIRE(got.size() == want.size());
    CHECK(std::memcmp(got.data(), want.data(), got.size() * 4) == 0);
  }
  CHECK(run(model + " --ids 2,512") == 2);  // outside the vocabulary
  CHECK(run(model + " --ids 2,x") == 2);    // not an integer
  CHECK(run(model + " --ids 2 --backend nosuch") == 2);
  CHECK(run(model + " --ids 2 --precision f16") == 2);
  CHECK(run(model) == 2);      // no input
  std::string too_long = "2";  // max_position_embeddings (4096) + 1 tokens
  for (int i = 0; i < 4096; ++i) too_long += ",7";
  CHECK(run(model + " --ids " + too_long) == 2);
  std::filesystem::remove_all(dir);
}
