// The Gemma 4 chat template (spec §5.1–§5.3), rendered in C++ rather than through Jinja, and the parser
// for generated replies. Follows the canonical chat_template.jinja; rules the spec leaves open are marked
// "[assumed]" in chat_template.cpp.
//
// Trust: the renderer returns Segments. Template text is trusted (special-token strings in it become
// control tokens); message text, tool names, descriptions, argument strings and keys are untrusted
// (tokenized with special=false, so a user typing "<|turn>" gets ordinary text pieces, never id 105).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tool_syntax.h"

namespace g4 {

class Tokenizer;

struct ContentPart {
  enum class Kind { Text, Image, Audio, Video };
  Kind kind = Kind::Text;
  std::string text;           // Kind::Text
  std::string path;           // media file (already resolved)
  int64_t n_soft_tokens = 0;  // filled by the caller after preprocessing; 0 renders the bare placeholder
};

struct ToolCall {
  std::string name;
  nlohmann::json arguments = nlohmann::json::object();
  std::string id;  // optional OpenAI "id", used to name the matching role:"tool" response
  bool operator==(const ToolCall&) const = default;
};

struct ToolResponse {
  std::string name;
  nlohmann::json response;
};

struct Message {
  std::string role;  // system | developer | user | assistant | model | tool
  std::vector<ContentPart> content;
  std::vector<ToolCall> tool_calls;
  std::vector<ToolResponse> tool_responses;  // on an assistant message (Gemma native) or a tool message
  std::string tool_call_id;                  // role "tool": the call it answers (OpenAI style)
  std::string reasoning;                     // the thought channel of an assistant message
};

struct TemplateOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = false;
  // Function declarations: {name, description, parameters{type, properties, required}}, optionally wrapped
  // as {"type": "function", "function": {...}} (OpenAI style).
  nlohmann::json tools = nlohmann::json::array();
};

// Renders the conversation. Bad input (video parts, media in a system message, a non-object tool) is an
// InputError naming "chat".
std::vector<Segment> render_chat(const std::vector<Message>& messages, const TemplateOptions& options);
std::string render_chat_text(const std::vector<Message>& messages, const TemplateOptions& options);
std::string join_segments(const std::vector<Segment>& segments);

// Token ids of rendered segments. Equals what HF gets by tokenizing the whole rendered string (it splits
// at special-token strings and runs BPE on each stretch between them), except that special-token strings
// inside untrusted text stay ordinary text. So the stretches between the special tokens of TRUSTED text
// are concatenated across segment boundaries and encoded in one piece with special=false: splitting at a
// trust boundary instead would change the BPE merges and break parity with HF.
std::vector<int32_t> tokenize_chat(const Tokenizer& tokenizer, const std::vector<Segment>& segments);

// A generated reply, split the way the HF response schema does (spec §5.3):
//   (<|channel>thought\n THINKING <channel|>)? (<|tool_call> … <tool_call|>)? CONTENT
//   (<turn|>|<|tool_response>)?
// Model output is untrusted: problems go to errors, nothing throws.
struct ParsedReply {
  std::string thinking;
  std::vector<ToolCall> tool_calls;
  std::string content;
  bool ended_with_turn_close = false;     // stopped on <turn|>
  bool ended_with_tool_response = false;  // stopped on <|tool_response> (waits for a tool result)
  std::vector<std::string> errors;
};
ParsedReply parse_reply(std::string_view generated_text);

// Parses one "call:NAME{key:value,...}" body (between <|tool_call> and <tool_call|>).
bool parse_tool_call(std::string_view body, ToolCall& call, std::string* error);

}  // namespace g4
