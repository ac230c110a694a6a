// Gemma 4 tool-call value syntax (spec §5.3): the text form the chat template gives JSON values inside
// <|tool>declaration:…<tool|>, <|tool_call>call:NAME{…}<tool_call|> and <|tool_response>response:NAME{…}.
//   string  <|"|>text<|"|>      (no escapes: the delimiter is one special token, 52)
//   object  {key:value,...}     keys bare (tool calls/responses) or <|"|>-quoted (escape_keys), dict-sorted
//   list    [value,...]
//   bool    true / false;  numbers as written;  null as "null"
// Rendering produces Segments: the syntax itself is trusted template text, the strings and keys are
// untrusted (so a user string holding "<|turn>" never becomes a control token).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace g4 {

// A piece of rendered chat text. trusted = template text, tokenized with special tokens matched;
// untrusted = text from the user, the model or a tool, where special-token strings stay plain text.
struct Segment {
  std::string text;
  bool trusted = false;
  bool operator==(const Segment&) const = default;
};

// Appends text to a segment list, merging adjacent pieces of the same trust.
class SegmentWriter {
 public:
  void trusted(std::string_view text) { append(text, true); }
  void untrusted(std::string_view text) { append(text, false); }
  std::vector<Segment>& segments() { return segments_; }

 private:
  void append(std::string_view text, bool is_trusted);
  std::vector<Segment> segments_;
};

inline constexpr std::string_view kStringDelim = "<|\"|>";

// Writes a JSON value in the Gemma 4 syntax (the template's format_argument macro).
void write_tool_value(SegmentWriter& out, const nlohmann::json& value, bool escape_keys);
// Writes the members of an object as key:value,... (no braces), keys bare and sorted.
void write_tool_members(SegmentWriter& out, const nlohmann::json& object);

// Parses one value in the Gemma 4 syntax starting at text[pos]; advances pos past it. On malformed input
// returns false and sets *error (one line); never throws.
bool parse_tool_value(std::string_view text, size_t& pos, nlohmann::json& value, std::string* error);

}  // namespace g4

namespace g4 {

// Writes one function declaration as the template's format_function_declaration macro does:
// declaration:NAME{description:<|"|>…<|"|>,parameters:{properties:{…},required:[…],type:<|"|>OBJECT<|"|>}}
// (without the surrounding <|tool>…<tool|>). Accepts {name, description, parameters} or the OpenAI
// wrapper {"type":"function","function":{…}}. A malformed declaration is an InputError naming "chat".
void write_tool_declaration(SegmentWriter& out, const nlohmann::json& tool);

}  // namespace g4
