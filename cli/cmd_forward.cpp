// g4eval forward: one forward pass of a checkpoint, logits (and with --trace every named intermediate)
// dumped to a safetensors file as f32. Only the reference backend exists so far.
//   g4eval forward --model DIR --backend reference --precision bf16 --ids 2,105,2364 --dump out.safetensors
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>

#include "cli/command.h"
#include "core/audio.h"
#include "core/chat_messages.h"
#include "core/chat_template.h"
#include "core/error.h"
#include "core/image.h"
#include "core/safetensors.h"
#include "core/tokenizer.h"
#include "reference/model.h"

namespace g4::cli {
namespace {

struct ForwardArgs {
  std::string model, backend = "reference", precision = "bf16", ids, prompt, chat, dump;
  bool trace = false;
};

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v < 0 || v > INT32_MAX)
      fail_input("--ids", "'" + item + "' is not a non-negative integer token id");
    ids.push_back(static_cast<int32_t>(v));
    start = comma + 1;
  }
  return ids;
}

// Renders a chat file; images and audio are preprocessed so their soft-token counts are known.
reference::ForwardInput chat_input(const std::string& file, const Tokenizer& tok) {
  ChatRequest req = load_chat_file(file);
  reference::ForwardInput in;
  for (Message& m : req.messages)
    for (ContentPart& part : m.content) {
      reference::SoftTokenInput media;
      if (part.kind == ContentPart::Kind::Image) {
        ImagePatches p = preprocess_image(load_image(part.path));
        media.kind = reference::SoftTokenInput::Image;
        media.n = p.n;
        media.data = std::move(p.values);
        media.positions = std::move(p.positions);
      } else if (part.kind == ContentPart::Kind::Audio) {
        AudioFrames a = load_audio_frames(part.path);
        media.kind = reference::SoftTokenInput::Audio;
        media.n = a.n;
        media.data = std::move(a.values);
      } else {
        continue;
      }
      part.n_soft_tokens = media.n;
      in.media.push_back(std::move(media));
    }
  TemplateOptions opt;
  opt.tools = req.tools;
  opt.enable_thinking = req.enable_thinking.value_or(false);
  in.ids = tokenize_chat(tok, render_chat(req.messages, opt));
  return in;
}

int run_forward(const ForwardArgs& a) {
  if (a.backend != "reference")
    fail_input("--backend", "'" + a.backend + "' is not available in this build yet (only reference)");
  const reference::Precision precision = reference::parse_precision(a.precision);
  const int sources = !a.ids.empty() + !a.prompt.empty() + !a.chat.empty();
  if (sources != 1) fail_input("forward", "give exactly one of --ids, --prompt, --chat");

  reference::ForwardInput in;
  if (!a.ids.empty()) {
    in.ids = parse_ids(a.ids);
  } else if (!a.prompt.empty()) {
    const auto tok = Tokenizer::load_dir(a.model);
    in.ids = {2};  // <bos>
    const auto body = tok->encode(a.prompt, false);
    in.ids.insert(in.ids.end(), body.begin(), body.end());
  } else {
    in = chat_input(a.chat, *Tokenizer::load_dir(a.model));
  }

  const auto t0 = std::chrono::steady_clock::now();
  const reference::Model model = reference::Model::load(a.model, precision);
  const int64_t V = model.config().text.vocab_size;
  const int64_t max_pos = model.config().text.max_position_embeddings;
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
  const reference::TraceFn trace = [&](const std::string& name, const std::vector<int64_t>& shape,
                                       std::span<const float> v) {
    traced[name] = {shape, std::vector<float>(v.begin(), v.end())};
  };
  const std::vector<float> logits = model.forward(in, a.trace ? &trace : nullptr);
  const auto t2 = std::chrono::steady_clock::now();
  const int64_t T = static_cast<int64_t>(in.ids.size());
  out.add_f32("logits", {T, V}, logits);
  for (const auto& [name, tv] : traced)
    if (name != "logits") out.add_f32(name, tv.first, tv.second);
  out.set_metadata("backend", a.backend);
  out.set_metadata("precision", std::string(reference::precision_name(precision)));
  out.write(a.dump);

  const auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::printf("T=%lld V=%lld precision=%s load %.2fs forward %.2fs (%.3fs/token)\n",
              static_cast<long long>(T), static_cast<long long>(V), a.precision.c_str(), secs(t1 - t0),
              secs(t2 - t1), secs(t2 - t1) / static_cast<double>(T));
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
                      app.add_option("--backend", a->backend, "reference (cpu, cuda: not yet)");
                      app.add_option("--precision", a->precision, "bf16 | fp32 (default bf16)");
                      app.add_option("--ids", a->ids, "comma-separated token ids, e.g. 2,105,2364");
                      app.add_option("--prompt", a->prompt, "text, tokenized with <bos> prepended");
                      app.add_option("--chat", a->chat, "chat JSON file (messages, tools, enable_thinking)");
                      app.add_option("--dump", a->dump, "output .safetensors")->required();
                      app.add_flag("--trace", a->trace, "also dump every named intermediate tensor");
                      return [a] { return run_forward(*a); };
                    });

}  // namespace
}  // namespace g4::cli
