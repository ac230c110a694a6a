#include "core/chat_template.h"

#include <algorithm>
#include <array>

#include "core/error.h"
#include "core/special_tokens.h"
#include "core/tokenizer.h"

namespace g4 {
namespace {

bool is_model_role(const std::string& role) { return role == "assistant" || role == "model"; }

// Jinja's `| trim` (Python str.strip). [assumed] ASCII whitespace only; Unicode spaces are kept.
std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kSpace);
  return s.substr(b, e - b + 1);
}

// The template's strip_thinking: drops every "<|channel>…<channel|>" span of an earlier model answer.
std::string strip_thinking(std::string_view text) {
  std::string result;
  size_t start = 0;
  while (true) {
    size_t close = text.find("<channel|>", start);
    std::string_view part = text.substr(start, close == std::string_view::npos ? close : close - start);
    size_t open = part.find("<|channel>");
    result.append(part.substr(0, open));
    if (close == std::string_view::npos) break;
    start = close + std::string_view("<channel|>").size();
  }
  return std::string(trim(result));
}

void write_media(SegmentWriter& out, const ContentPart& part, size_t message_index) {
  const bool image = part.kind == ContentPart::Kind::Image;
  if (part.kind == ContentPart::Kind::Video)
    fail_input("chat", "messages[" + std::to_string(message_index) +
                           "]: video input is not supported (use image frames)");
  if (part.n_soft_tokens < 0) fail_input("chat", "negative soft-token count");
  if (part.n_soft_tokens == 0) {  // not yet preprocessed: the template's bare placeholder
    out.trusted(image ? "<|image|>" : "<|audio|>");
    return;
  }
  // The processor's expansion (spec §3.5).
  std::string soft = image ? "<|image|>" : "<|audio|>";
  out.trusted(image ? "<|image>" : "<|audio>");
  std::string run;
  run.reserve(soft.size() * static_cast<size_t>(part.n_soft_tokens));
  for (int64_t i = 0; i < part.n_soft_tokens; ++i) run += soft;
  out.trusted(run);
  out.trusted(image ? "<image|>" : "<audio|>");
}

// The message body ("captured_content" in the template). Returns whether it is non-blank.
bool write_content(SegmentWriter& out, const Message& m, bool model, size_t index) {
  bool has_content = false;
  for (const ContentPart& part : m.content) {
    if (part.kind == ContentPart::Kind::Text) {
      std::string text = model ? strip_thinking(part.text) : std::string(trim(part.text));
      has_content |= !text.empty();
      out.untrusted(text);
    } else {
      write_media(out, part, index);
      has_content = true;
    }
  }
  return has_content;
}

void write_tool_response(SegmentWriter& out, const std::string& name, const nlohmann::json& response) {
  out.trusted("<|tool_response>response:");
  out.untrusted(name);
  out.trusted("{");
  if (response.is_object()) {
    write_tool_members(out, response);
  } else {
    out.trusted("value:");
    write_tool_value(out, response, false);
  }
  out.trusted("}<tool_response|>");
}

void write_tool_call(SegmentWriter& out, const ToolCall& call) {
  out.trusted("<|tool_call>call:");
  out.untrusted(call.name);
  out.trusted("{");
  if (call.arguments.is_object()) {
    write_tool_members(out, call.arguments);
  } else if (call.arguments
                 .is_string()) {  // pre-formatted argument text, passed through as the template does
    out.untrusted(call.arguments.get<std::string>());
  } else if (!call.arguments.is_null()) {
    fail_input("chat", "tool call '" + call.name + "' arguments must be an object");
  }
  out.trusted("}<tool_call|>");
}

std::string system_text(const Message& m) {
  // [assumed] several text parts are trimmed and joined with one space; media is refused.
  std::string text;
  for (const ContentPart& part : m.content) {
    if (part.kind != ContentPart::Kind::Text)
      fail_input("chat", "messages[0]: a system message holds text only");
    std::string_view t = trim(part.text);
    if (t.empty()) continue;
    if (!text.empty()) text += ' ';
    text += t;
  }
  return text;
}

enum class Last { None, ToolCall, ToolResponse, Media };

}  // namespace

std::vector<Segment> render_chat(const std::vector<Message>& messages, const TemplateOptions& options) {
  static const std::array<std::string_view, 6> kRoles = {"system",    "developer", "user",
                                                         "assistant", "model",     "tool"};
  for (size_t i = 0; i < messages.size(); ++i) {
    if (std::find(kRoles.begin(), kRoles.end(), messages[i].role) == kRoles.end())
      fail_input("chat", "messages[" + std::to_string(i) + "].role '" + messages[i].role +
                             "' unknown (system, developer, user, assistant, model, tool)");
  }
  if (!options.tools.is_null() && !options.tools.is_array()) fail_input("chat", "tools must be a list");
  const bool has_tools = options.tools.is_array() && !options.tools.empty();

  SegmentWriter out;
  out.trusted("<bos>");
  size_t first = 0;
  const bool system_first =
      !messages.empty() && (messages[0].role == "system" || messages[0].role == "developer");
  if (options.enable_thinking || has_tools || system_first) {
    out.trusted("<|turn>system\n");
    if (options.enable_thinking) out.trusted("<|think|>\n");
    if (system_first) {
      out.untrusted(system_text(messages[0]));
      first = 1;
    }
    if (has_tools) {
      for (const nlohmann::json& tool : options.tools) {
        out.trusted("<|tool>");
        write_tool_declaration(out, tool);
        out.trusted("<tool|>");
      }
    }
    out.trusted("<turn|>\n");
  }

  // Reasoning is replayed only for model messages after the last user message that carry tool calls
  // (the current tool-use cycle); earlier thoughts are dropped.
  size_t last_user = 0;
  bool any_user = false;
  for (size_t i = first; i < messages.size(); ++i) {
    if (messages[i].role == "user") {
      last_user = i;
      any_user = true;
    }
  }

  bool turn_open = false;  // the last message left its model turn open (tool call / response pending)
  std::string prev_role;   // role of the previous non-tool message
  for (size_t i = first; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (m.role == "tool") continue;  // rendered inside the model turn that made the call
    const bool model = is_model_role(m.role);
    // [assumed] a later system/developer message renders as a "system" turn.
    const std::string role = model ? "model" : (m.role == "developer" ? "system" : m.role);
    // Consecutive model messages (split only by tool messages) share one turn, as in the template.
    if (!(model && is_model_role(prev_role))) out.trusted("<|turn>" + role + "\n");
    prev_role = m.role;

    Last last = Last::None;
    if (model && !m.reasoning.empty() && (!any_user || i > last_user) && !m.tool_calls.empty()) {
      out.trusted("<|channel>thought\n");
      out.untrusted(m.reasoning);
      out.trusted("\n<channel|>");
    }
    for (const ToolCall& call : m.tool_calls) write_tool_call(out, call);
    if (!m.tool_calls.empty()) last = Last::ToolCall;

    bool wrote_response = false;
    if (!m.tool_responses.empty()) {  // Gemma native: responses carried on the assistant message
      for (const ToolResponse& r : m.tool_responses)
        write_tool_response(out, r.name.empty() ? "unknown" : r.name, r.response);
      wrote_response = true;
    } else if (!m.tool_calls.empty()) {  // OpenAI style: the role:"tool" messages that follow
      for (size_t k = i + 1; k < messages.size() && messages[k].role == "tool"; ++k) {
        const Message& t = messages[k];
        for (const ToolResponse& r : t.tool_responses) {
          std::string name = r.name.empty() ? "unknown" : r.name;
          for (const ToolCall& c : m.tool_calls)
            if (!t.tool_call_id.empty() && c.id == t.tool_call_id) name = c.name;
          write_tool_response(out, name, r.response);
          wrote_response = true;
        }
        for (const ContentPart& part : t.content)
          if (part.kind != ContentPart::Kind::Text) write_media(out, part, k);
      }
    }
    if (wrote_response) last = Last::ToolResponse;

    const bool has_content = write_content(out, m, model, i);
    for (const ContentPart& part : m.content)
      if (part.kind != ContentPart::Kind::Text) last = Last::Media;

    if (last == Last::ToolCall) {
      out.trusted("<|tool_response>");  // the call waits for its result: the turn stays open
      turn_open = true;
    } else if (wrote_response && !has_content) {
      turn_open = true;  // the model continues after the tool result in the same turn
    } else {
      out.trusted("<turn|>\n");
      turn_open = false;
    }
  }

  // [assumed] The template skips the prompt whenever the last model message had a tool response, even
  // after its turn was closed by content; we skip it only while the turn is still open.
  if (options.add_generation_prompt && !turn_open) {
    out.trusted("<|turn>model\n");
    if (!options.enable_thinking) out.trusted("<|channel>thought\n<channel|>");
  }
  return std::move(out.segments());
}

std::string join_segments(const std::vector<Segment>& segments) {
  std::string text;
  for (const Segment& s : segments) text += s.text;
  return text;
}

std::string render_chat_text(const std::vector<Message>& messages, const TemplateOptions& options) {
  return join_segments(render_chat(messages, options));
}

std::vector<int32_t> tokenize_chat(const Tokenizer& tokenizer, const std::vector<Segment>& segments) {
  std::vector<int32_t> ids;
  std::string run;  // text between two special tokens, possibly spanning several segments
  auto flush = [&] {
    if (run.empty()) return;
    std::vector<int32_t> piece = tokenizer.encode(run, false);
    ids.insert(ids.end(), piece.begin(), piece.end());
    run.clear();
  };
  for (const Segment& seg : segments) {
    if (!seg.trusted) {
      run += seg.text;
      continue;
    }
    std::string_view text = seg.text;
    // Next occurrence of each special token at or after pos; positions only move forward, so each is
    // searched again only once passed (keeps long soft-token runs linear).
    std::array<size_t, kGemma4SpecialTokens.size()> next;
    for (size_t k = 0; k < next.size(); ++k) next[k] = text.find(kGemma4SpecialTokens[k].text);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t best = std::string_view::npos, best_k = 0;
      for (size_t k = 0; k < next.size(); ++k) {
        if (next[k] != std::string_view::npos && next[k] < pos)
          next[k] = text.find(kGemma4SpecialTokens[k].text, pos);
        if (next[k] < best) {  // no token string is a prefix of another, so there are no ties
          best = next[k];
          best_k = k;
        }
      }
      if (best == std::string_view::npos) {
        run.append(text.substr(pos));
        break;
      }
      run.append(text.substr(pos, best - pos));
      flush();
      ids.push_back(kGemma4SpecialTokens[best_k].id);
      pos = best + kGemma4SpecialTokens[best_k].text.size();
    }
  }
  flush();
  return ids;
}

namespace {

constexpr std::string_view kCallOpen = "<|tool_call>", kCallClose = "<tool_call|>";

bool starts_with_at(std::string_view text, size_t pos, std::string_view prefix) {
  return text.substr(std::min(pos, text.size())).starts_with(prefix);
}

// Parses "call:NAME{...}" at text[pos]; advances pos past the closing brace.
bool parse_call_at(std::string_view text, size_t& pos, ToolCall& call, std::string* error) {
  if (!starts_with_at(text, pos, "call:")) {
    if (error) *error = "tool call does not start with 'call:'";
    return false;
  }
  pos += 5;
  size_t brace = text.find('{', pos);
  if (brace == std::string_view::npos) {
    if (error) *error = "tool call without an argument object";
    return false;
  }
  std::string_view name = text.substr(pos, brace - pos);
  if (name.empty() || name.find_first_of(" \t\n\r<>,:}") != std::string_view::npos) {
    if (error) *error = "bad tool name '" + std::string(name.substr(0, 64)) + "'";
    return false;
  }
  pos = brace;
  nlohmann::json args;
  if (!parse_tool_value(text, pos, args, error)) return false;
  call.name = std::string(name);
  call.arguments = std::move(args);
  call.id.clear();
  return true;
}

}  // namespace

bool parse_tool_call(std::string_view body, ToolCall& call, std::string* error) {
  size_t pos = 0;
  if (!parse_call_at(body, pos, call, error)) return false;
  if (!trim(body.substr(pos)).empty()) {
    if (error) *error = "text after the argument object";
    return false;
  }
  return true;
}

ParsedReply parse_reply(std::string_view text) {
  ParsedReply reply;
  // Thought channel: only at the very start, as in the response schema.
  constexpr std::string_view kThought = "<|channel>thought\n", kChannelClose = "<channel|>";
  if (text.starts_with(kThought)) {
    size_t close = text.find(kChannelClose, kThought.size());
    if (close == std::string_view::npos) {
      reply.thinking = std::string(text.substr(kThought.size()));
      reply.errors.push_back("thought channel not closed by <channel|>");
      return reply;
    }
    reply.thinking = std::string(text.substr(kThought.size(), close - kThought.size()));
    text.remove_prefix(close + kChannelClose.size());
  }
  // The reply ends at the first stop marker; the generator stops there, so more text is unexpected.
  size_t turn_close = text.find("<turn|>"), tool_wait = text.find("<|tool_response>");
  size_t end = std::min(turn_close, tool_wait);
  if (end != std::string_view::npos) {
    reply.ended_with_turn_close = end == turn_close;
    reply.ended_with_tool_response = end == tool_wait;
    size_t marker = reply.ended_with_turn_close ? std::string_view("<turn|>").size()
                                                : std::string_view("<|tool_response>").size();
    std::string_view rest = text.substr(end + marker);
    if (rest != "<eos>" && !trim(rest).empty())
      reply.errors.push_back("text after the end of the reply ignored");
    text = text.substr(0, end);
  }
  // Tool calls: from a leading <|tool_call> to the LAST <tool_call|> (the schema's greedy group).
  if (text.starts_with(kCallOpen)) {
    size_t last_close = text.rfind(kCallClose);
    if (last_close == std::string_view::npos) {
      reply.errors.push_back("tool call not closed by <tool_call|>");
      reply.content = std::string(text);
      return reply;
    }
    std::string_view calls = text.substr(0, last_close + kCallClose.size());
    size_t pos = 0;
    while (pos < calls.size()) {
      size_t open = calls.find(kCallOpen, pos);
      if (open == std::string_view::npos) break;
      if (!trim(calls.substr(pos, open - pos)).empty())
        reply.errors.push_back("text between tool calls ignored");
      pos = open + kCallOpen.size();
      ToolCall call;
      std::string error;
      bool ok = parse_call_at(calls, pos, call, &error);
      if (ok && !starts_with_at(calls, pos, kCallClose)) {
        ok = false;
        error = "expected <tool_call|> after the arguments";
      }
      size_t close = calls.find(kCallClose, ok ? pos : open);
      if (!ok) {
        reply.errors.push_back("tool call " + std::to_string(reply.tool_calls.size() + 1) + ": " + error);
      } else {
        reply.tool_calls.push_back(std::move(call));
      }
      pos = close == std::string_view::npos ? calls.size() : close + kCallClose.size();
    }
    text.remove_prefix(calls.size());
  }
  reply.content = std::string(text);
  return reply;
}

}  // namespace g4
