// The --chat FILE.json format: an OpenAI-like message list, either bare or wrapped as
//   {"messages": [...], "tools": [...], "enable_thinking": bool}
// Message: {"role": system|developer|user|assistant|model|tool,
//           "content": string | null | [{"type":"text","text":…} | {"type":"image","path":…} |
//           {"type":"audio","path":…}], "reasoning" | "reasoning_content": string, (assistant) "tool_calls":
//           [{"id"?, "function": {"name", "arguments": object | JSON string}} | {"name", "arguments"}],
//           "tool_responses": [{"name", "response": any}],                  (assistant, Gemma native)
//           "name", "tool_call_id"}                                         (tool; content is the result)
// Relative media paths are resolved against the JSON file's directory. Every error is one InputError line
// naming the file and the JSON path, e.g. "chat.json: messages[2].content[0].type 'vidoe' unknown (…)".
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/chat_template.h"

namespace g4 {

struct ChatRequest {
  std::vector<Message> messages;
  nlohmann::json tools = nlohmann::json::array();
  std::optional<bool> enable_thinking;  // set only when the file says so
};

// file_label names the source in errors; base_dir resolves relative media paths.
ChatRequest parse_chat_json(const nlohmann::json& doc, const std::string& file_label,
                            const std::filesystem::path& base_dir);
ChatRequest load_chat_file(const std::filesystem::path& path);

}  // namespace g4
