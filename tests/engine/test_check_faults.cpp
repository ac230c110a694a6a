// The checker must find planted bugs and name exactly the layer and tensor that has them.
#include <catch2/catch.hpp>

#include <cstring>

#include "core/dtype.h"
#include "engine/cpu/cpu_model.h"
#include "engine/weights.h"
#include "evals/backends.h"
#include "evals/check.h"
#include "tests/reference/tiny_checkpoint.h"

using namespace g4;

namespace {

struct Fixture {
  std::filesystem::path dir;
  ModelConfig cfg;
  std::unique_ptr<engine::Model> reference;
  Fixture() {
    test::TinySpec spec;
    spec.multimodal = false;
    spec.layers = 4;
    dir = test::write_tiny_checkpoint(spec, "faults");
    cfg = load_model_config(dir / "config.json");
    evals::BackendOptions ro;
    ro.backend = "reference";
    reference = evals::open_model(dir, ro);
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
  engine::EngineWeights weights() const {
    const WeightSet ws = WeightSet::open_dir(dir);
    return engine::load_engine_weights(cfg, ws, engine::parse_weight_plan("bf16"), false);
  }
  evals::CheckResult check(const engine::Model& m, evals::CheckMode mode) const {
    evals::CheckOptions opt;
    opt.mode = mode;
    opt.decode_steps = 1;
    opt.prompt = {2, 17, 99, 300, 41, 8, 250, 61, 77};
    return evals::run_check(*reference, m, opt);
  }
};

std::string first_failure(const evals::CheckResult& r) {
  return r.first_failure ? r.tensors[*r.first_failure].name : "(none)";
}

}  // namespace

TEST_CASE("check names the layer whose RoPE pairs the wrong lanes", "[engine][check]") {
  const Fixture f;
  engine::cpu::InjectedFaults faults;
  faults.interleaved_rope_layer = 2;
  const auto bad = engine::cpu::make_cpu_model_with_faults(f.cfg, f.weights(), {}, faults);
  for (const auto mode : {evals::CheckMode::Cumulative, evals::CheckMode::Isolated}) {
    const auto r = f.check(*bad, mode);
    CHECK_FALSE(r.passed());
    CHECK(first_failure(r) == "layers.2.q");  // q is emitted before k; both are wrong
    CHECK(r.tensors[*r.first_failure].step == 0);
  }
  // Without the fault the same weights pass.
  const auto good = engine::cpu::make_cpu_model(f.cfg, f.weights(), {});
  CHECK(f.check(*good, evals::CheckMode::Cumulative).passed());
}

TEST_CASE("check names the layer and tensor of one perturbed weight", "[engine][check]") {
  const Fixture f;
  engine::EngineWeights w = f.weights();
  // Layer 1's gate_proj, one element set far outside the weights' range: gate feeds ffn_act first.
  engine::QTensor& g = w.layers[1].gate_proj;
  auto copy = std::shared_ptr<uint8_t[]>(new uint8_t[g.bytes()]);
  std::memcpy(copy.get(), g.data, g.bytes());
  const bf16_t big = f32_to_bf16(4.0f);
  std::memcpy(copy.get() + 2 * 5, &big, 2);  // row 0, column 5
  g.owner = copy;
  g.data = copy.get();
  const auto bad = engine::cpu::make_cpu_model(f.cfg, std::move(w), {});
  for (const auto mode : {evals::CheckMode::Cumulative, evals::CheckMode::Isolated}) {
    const auto r = f.check(*bad, mode);
    INFO(evals::CheckResult(r).to_json().dump().substr(0, 400));
    CHECK(first_failure(r) == "layers.1.ffn_act");
  }
}
