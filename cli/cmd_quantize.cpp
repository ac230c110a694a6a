// g4eval quantize: write a checkpoint in a weight plan's formats (engine/quantize_checkpoint.h).
//   g4eval quantize --model models/tiny --quant q4_0 --out models/tiny-q4_0
#include <chrono>
#include <cstdio>

#include "cli/command.h"
#include "engine/quantize_checkpoint.h"

namespace g4::cli {
namespace {

struct QuantizeArgs {
  std::string model, quant, out;
};

int run_quantize(const QuantizeArgs& a) {
  const engine::WeightPlan plan = engine::parse_weight_plan(a.quant);
  const auto t0 = std::chrono::steady_clock::now();
  const auto s = engine::write_quantized_checkpoint(a.model, plan, a.out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("quantized %zu of %zu tensors to %s: %.1f MB -> %.1f MB in %.1fs; wrote %s\n", s.quantized,
              s.tensors, plan.describe().c_str(), static_cast<double>(s.bytes_in) / 1e6,
              static_cast<double>(s.bytes_out) / 1e6, secs, a.out.c_str());
  return 0;
}

RegisterCommand reg("quantize", "Write a checkpoint with weights in a quantized format",
                    [](CLI::App& app) -> Action {
                      auto a = std::make_shared<QuantizeArgs>();
                      app.add_option("--model", a->model, "bf16/f32 checkpoint directory")->required();
                      app.add_option("--quant", a->quant,
                                     "weight plan: bf16 f32 i8 q8_0 q4_0 q4_k q6_k [,embed=|attn=|ffn=FMT]")
                          ->required();
                      app.add_option("--out", a->out, "output checkpoint directory")->required();
                      return [a] { return run_quantize(*a); };
                    });

}  // namespace
}  // namespace g4::cli
