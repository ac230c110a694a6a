// g4eval forward: one forward pass of a checkpoint, logits (and with --trace every named intermediate)
// dumped to a safetensors file as f32, on any backend (reference, cpu, cuda).
//   g4eval forward --model DIR --backend reference --precision bf16 --ids 2,105,2364 --dump out.safetensors
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>

#include "cli/command.h"
#include "cli/input_args.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "evals/backends.h"

namespace g4::cli {
namespace {

struct ForwardArgs {
  std::string model, backend = "reference", precision = "bf16", quant, ids, prompt, chat, dump;
  bool trace = false;
  int threads = 0;
};

int run_forward(const ForwardArgs& a) {
  const ForwardInput in = read_forward_input(a.model, a.ids, a.prompt, a.chat);
  const auto t0 = std::chrono::steady_clock::now();
  evals::BackendOptions bo;
  bo.backend = a.backend;
  bo.precision = a.precision;
  bo.quant = a.quant.empty() ? (a.backend == "reference" ? "bf16" : "") : a.quant;
  bo.threads = a.threads;
  const auto model = evals::open_model(a.model, bo);
  const int64_t V = model->config().text.vocab_size;
  const int64_t max_pos = model->config().text.max_position_embeddings;
  if (static_cast<int64_t>(in.ids.size()) > max_pos)
    fail_input("forward", "the input has " + std::to_string(in.ids.size()) +
                              " tokens, more than the model's max_position_embeddings " +
                              std::to_string(max_pos));
  for (const int32_t id : in.ids)
    if (id >= V)
      fail_input("--ids", "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                              std::to_string(V) + ")");
  const auto t1 = std::chrono::steady_clock::now();

  SafetensorsWriter out;
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> traced;
  const TraceFn trace = [&](const std::string& name, const std::vector<int64_t>& shape,
                            std::span<const float> v) {
    traced[name] = {shape, std::vector<float>(v.begin(), v.end())};
  };
  const std::vector<float> logits =
      model->session(static_cast<int64_t>(in.ids.size()))
          ->prefill(in, engine::LogitsWanted::All, {a.trace ? &trace : nullptr, nullptr});
  const auto t2 = std::chrono::steady_clock::now();
  const int64_t T = static_cast<int64_t>(in.ids.size());
  out.add_f32("logits", {T, V}, logits);
  for (const auto& [name, tv] : traced)
    if (name != "logits") out.add_f32(name, tv.first, tv.second);
  out.set_metadata("backend", a.backend);
  out.set_metadata("plan", model->plan());
  out.write(a.dump);

  const auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf("T=%lld V=%lld backend=%s plan=%s load %.2fs forward %.2fs (%.3fs/token)\n",
              static_cast<long long>(T), static_cast<long long>(V), a.backend.c_str(), model->plan().c_str(),
              secs(t1 - t0), secs(t2 - t1), secs(t2 - t1) / static_cast<double>(T));
  const float* last = logits.data() + (T - 1) * V;
  std::vector<int32_t> order(static_cast<size_t>(V));
  std::iota(order.begin(), order.end(), 0);
  const size_t k = std::min<size_t>(5, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<int64_t>(k), order.end(),
                    [&](int32_t x, int32_t y) { return last[x] > last[y] || (last[x] == last[y] && x < y); });
  std::printf("top-5 next tokens:");
  for (size_t i = 0; i < k; ++i) std::printf(" %d (%.4f)", order[i], static_cast<double>(last[order[i]]));
  std::printf("\nwrote %s (%zu tensors)\n", a.dump.c_str(), a.trace ? traced.size() : size_t{1});
  return 0;
}

RegisterCommand reg("forward", "One forward pass: dump logits (and --trace intermediates) to safetensors",
                    [](CLI::App& app) -> Action {
                      auto a = std::make_shared<ForwardArgs>();
                      app.add_option("--model", a->model, "checkpoint directory")->required();
                      app.add_option("--backend", a->backend, "reference | cpu | cuda (default reference)");
                      app.add_option("--precision", a->precision,
                                     "reference only: bf16 | fp32 (default bf16)");
                      app.add_option(
                          "--quant", a->quant,
                          "engine weight plan: bf16 f32 i8 q8_0 q4_0 q4_k q6_k [,embed=|attn=|ffn=FMT]");
                      app.add_option("--threads", a->threads, "threads (default: G4_THREADS or all cores)");
                      app.add_option("--ids", a->ids, "comma-separated token ids, e.g. 2,105,2364");
                      app.add_option("--prompt", a->prompt, "text, tokenized with <bos> prepended");
                      app.add_option("--chat", a->chat, "chat JSON file (messages, tools, enable_thinking)");
                      app.add_option("--dump", a->dump, "output .safetensors")->required();
                      app.add_flag("--trace", a->trace, "also dump every named intermediate tensor");
                      return [a] { return run_forward(*a); };
                    });

}  // namespace
}  // namespace g4::cli
