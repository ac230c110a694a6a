// g4eval generate: sample a reply from a checkpoint on any backend, streaming the text as it comes.
//   g4eval generate --model DIR --backend cuda --prompt "Why is the sky blue?" --max-tokens 200
//   g4eval generate --model DIR --chat chat.json --think --seed 3 --json out.json
// Sampling follows DIR/generation_config.json (else the 12B's defaults) unless overridden; temperature 0 is
// greedy. Stops on the config's eos ids or --max-tokens; a summary goes to stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/prompt_input.h"
#include "core/chat_template.h"
#include "core/config.h"
#include "core/error.h"
#include "core/tokenizer.h"
#include "engine/sampler.h"
#include "evals/backends.h"

namespace g4::cli {
namespace {

struct GenerateArgs {
  std::string model, backend = "cpu", quant = "bf16", precision = "bf16", prompt, chat, json;
  bool raw = false, think = false;
  int64_t max_tokens = 256;
  int threads = 0;
  double temperature = 0, top_p = 0, min_p = 0;
  int64_t top_k = 0;
  uint64_t seed = 0;
  // Set once parsed: which of the flags were given.
  CLI::Option *prompt_opt = nullptr, *quant_opt = nullptr, *precision_opt = nullptr;
  CLI::Option *temperature_opt = nullptr, *top_p_opt = nullptr, *min_p_opt = nullptr, *top_k_opt = nullptr;
};

// Prints decoded text as tokens arrive. Byte-fallback pieces of one character may come in separate tokens,
// so a tail that decodes to U+FFFD is held back (up to 4 tokens, the longest UTF-8 sequence) until the
// character completes; pieces are otherwise independent, so decoding a chunk at a time equals decoding the
// whole sequence.
class TextStream {
 public:
  explicit TextStream(const Tokenizer& tok) : tok_(tok) {}
  void push(int32_t id) {
    pending_.push_back(id);
    const std::string text = tok_.decode(pending_);
    static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    if (pending_.size() < 4 && text.ends_with(kReplacement)) return;
    emit(text);
  }
  void finish() {
    if (!pending_.empty()) emit(tok_.decode(pending_));
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

 private:
  void emit(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    pending_.clear();
  }
  const Tokenizer& tok_;
  std::vector<int32_t> pending_;
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
double per_second(int64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; }

GenerationConfig generation_config(const std::filesystem::path& dir) {
  const auto file = dir / "generation_config.json";
  return std::filesystem::exists(file) ? load_generation_config(file) : gemma4_12b_generation_config();
}

engine::SamplerOverrides overrides(const GenerateArgs& a) {
  engine::SamplerOverrides o;
  if (a.temperature_opt->count()) o.temperature = a.temperature;
  if (a.top_k_opt->count()) o.top_k = a.top_k;
  if (a.top_p_opt->count()) o.top_p = a.top_p;
  if (a.min_p_opt->count()) o.min_p = a.min_p;
  o.seed = a.seed;
  return o;
}

PromptInput prompt_input(const GenerateArgs& a, const Tokenizer& tok) {
  if (!a.chat.empty())
    return chat_file_input(a.chat, tok, a.think ? std::optional<bool>(true) : std::nullopt);
  if (a.raw) return raw_text_input(a.prompt, tok);
  return user_turn_input(a.prompt, tok, a.think);
}

nlohmann::json reply_json(const ParsedReply& r) {
  nlohmann::json calls = nlohmann::json::array();
  for (const ToolCall& c : r.tool_calls) calls.push_back({{"name", c.name}, {"arguments", c.arguments}});
  return {{"thinking", r.thinking}, {"content", r.content}, {"tool_calls", calls}, {"errors", r.errors}};
}

int run_generate(const GenerateArgs& a) {
  const bool has_prompt = a.prompt_opt->count() > 0;
  if (has_prompt == !a.chat.empty()) fail_input("generate", "give exactly one of --prompt, --chat");
  if (a.raw && !has_prompt) fail_input("--raw", "applies to --prompt only (a chat file is always templated)");
  if (a.raw && a.think) fail_input("--think", "needs the chat template; drop --raw");
  if (a.max_tokens < 1) fail_input("--max-tokens", std::to_string(a.max_tokens) + " must be >= 1");
  const GenerationConfig gc = generation_config(a.model);
  engine::Sampler sampler(engine::sampler_params(gc, overrides(a)));
  const std::set<int64_t> stop(gc.eos_token_id.begin(), gc.eos_token_id.end());

  const auto tok = Tokenizer::load_dir(a.model);
  const PromptInput prompt = prompt_input(a, *tok);

  evals::BackendOptions opt;
  opt.backend = a.backend;
  if (a.quant_opt->count()) opt.quant = a.quant;
  if (a.precision_opt->count()) opt.precision = a.precision;
  opt.threads = a.threads;
  const auto t_load = Clock::now();
  const auto model = evals::open_model(a.model, opt);
  const double load_s = seconds_since(t_load);

  const int64_t V = model->config().text.vocab_size;
  const int64_t max_pos = model->config().text.max_position_embeddings;
  const int64_t T = static_cast<int64_t>(prompt.input.ids.size());
  if (T >= max_pos)
    fail_input("generate", "the prompt has " + std::to_string(T) +
                               " tokens, leaving no room under the model's " + "max_position_embeddings " +
                               std::to_string(max_pos));
  for (const int32_t id : prompt.input.ids)
    if (id < 0 || id >= V)
      fail_input("generate", "prompt token " + std::to_string(id) + " is outside the model's vocabulary of " +
                                 std::to_string(V) + " (tokenizer and checkpoint disagree)");
  const int64_t max_context = std::min(max_pos, T + a.max_tokens);
  const auto session = model->session(max_context);

  const auto t_prefill = Clock::now();
  std::vector<float> logits = session->prefill(prompt.input, engine::LogitsWanted::Last);
  const double prefill_s = seconds_since(t_prefill);

  TextStream stream(*tok);
  std::vector<int32_t> out;
  std::string stop_reason;
  double decode_s = 0, sample_s = 0;
  int64_t decode_steps = 0;
  for (;;) {
    G4_CHECK(static_cast<int64_t>(logits.size()) == V, "the backend returned logits of the wrong size");
    const auto t_sample = Clock::now();
    const int32_t id = sampler.sample(logits);
    sample_s += seconds_since(t_sample);
    out.push_back(id);
    if (stop.count(id)) {
      stop_reason = "eos";
      break;
    }
    stream.push(id);
    if (static_cast<int64_t>(out.size()) >= a.max_tokens) {
      stop_reason = "max_tokens";
      break;
    }
    if (session->length() >= max_context) {
      stop_reason = "context";
      break;
    }
    const auto t_decode = Clock::now();
    logits = session->decode(id);
    decode_s += seconds_since(t_decode);
    ++decode_steps;
  }
  stream.finish();

  const bool stopped_on_eos = stop_reason == "eos";
  const std::span<const int32_t> text_ids(out.data(), out.size() - (stopped_on_eos ? 1 : 0));
  const std::string text = tok->decode(text_ids);
  const int64_t generated = static_cast<int64_t>(out.size());
  std::fprintf(
      stderr,
      "%s (%s): prompt %lld tokens, generated %lld (stop: %s); load %.2f s, prefill %.3f s (%.1f t/s), "
      "decode %lld steps %.3f s (%.2f t/s), sampling %.2f ms/token\n",
      model->backend().c_str(), model->plan().c_str(), static_cast<long long>(T),
      static_cast<long long>(generated), stop_reason.c_str(), load_s, prefill_s, per_second(T, prefill_s),
      static_cast<long long>(decode_steps), decode_s, per_second(decode_steps, decode_s),
      1e3 * sample_s / static_cast<double>(generated));

  if (!a.json.empty()) {
    const engine::SamplerParams& sp = sampler.params();
    nlohmann::json j = {
        {"backend", model->backend()},
        {"plan", model->plan()},
        {"prompt_ids", prompt.input.ids},
        {"output_ids", out},
        {"text", text},
        {"stop_reason", stop_reason},
        {"sampler",
         {{"temperature", sp.temperature},
          {"top_k", sp.top_k},
          {"top_p", sp.top_p},
          {"min_p", sp.min_p},
          {"seed", sp.seed},
          {"suppress", sp.suppress}}},
        {"timings",
         {{"load_s", load_s},
          {"prefill_s", prefill_s},
          {"decode_s", decode_s},
          {"sample_s", sample_s},
          {"prompt_tokens", T},
          {"generated_tokens", generated},
          {"decode_steps", decode_steps},
          {"prefill_tokens_per_s", per_second(T, prefill_s)},
          {"decode_tokens_per_s", per_second(decode_steps, decode_s)}}},
    };
    if (prompt.chat_template) {
      // The parser wants the stop token too: it reports whether the turn was closed.
      j["thinking_enabled"] = prompt.thinking;
      j["reply"] = reply_json(parse_reply(tok->decode(out)));
    }
    write_json_file(a.json, j);
  }
  return 0;
}

RegisterCommand reg(
    "generate", "Generate a reply (streamed to stdout) with any backend, sampling per generation_config.json",
    [](CLI::App& app) -> Action {
      auto a = std::make_shared<GenerateArgs>();
      app.add_option("--model", a->model, "checkpoint directory")->required();
      app.add_option("--backend", a->backend, "reference | cpu | cuda (default cpu)");
      a->quant_opt = app.add_option("--quant", a->quant, "engine weight plan (default bf16)");
      a->precision_opt = app.add_option("--precision", a->precision, "reference: bf16 | fp32 (default bf16)");
      app.add_option("--threads", a->threads, "CPU threads (0: G4_THREADS, else all cores)");
      a->prompt_opt = app.add_option("--prompt", a->prompt, "user text, sent as one chat turn");
      app.add_option("--chat", a->chat, "chat JSON file (messages, tools, enable_thinking)");
      app.add_flag("--raw", a->raw, "with --prompt: no chat template, just <bos> + text");
      app.add_flag("--think", a->think, "enable thinking in the chat template");
      app.add_option("--max-tokens", a->max_tokens, "most tokens to generate (default 256)");
      a->temperature_opt = app.add_option("--temperature", a->temperature, "override; 0 = greedy");
      a->top_k_opt = app.add_option("--top-k", a->top_k, "override; 0 = off");
      a->top_p_opt = app.add_option("--top-p", a->top_p, "override; 1 = off");
      a->min_p_opt = app.add_option("--min-p", a->min_p, "override; 0 = off");
      app.add_option("--seed", a->seed, "sampling seed (default 0); step n draws from (seed, n) alone");
      app.add_option("--json", a->json, "write prompt/output ids, text, stop reason and timings here");
      return [a] { return run_generate(*a); };
    });

}  // namespace
}  // namespace g4::cli
