#include "core/chat_messages.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace g4 {
namespace {

using nlohmann::json;

// Error reporting with the file name and the JSON path of the offending value.
struct Ctx {
  const std::string& file;
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    fail_input(file, where + " " + what);
  }
};

std::string type_name(const json& v) { return v.type_name(); }

const std::string& require_string(const Ctx& ctx, const json& obj, const char* key,
                                  const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) ctx.fail(where, std::string("has no \"") + key + "\"");
  if (!it->is_string()) ctx.fail(where + "." + key, "must be a string, not " + type_name(*it));
  return it->get_ref<const std::string&>();
}

std::string optional_string(const Ctx& ctx, const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) ctx.fail(where + "." + key, "must be a string, not " + type_name(*it));
  return it->get<std::string>();
}

std::string resolve(const std::filesystem::path& base_dir, const std::string& path) {
  std::filesystem::path p(path);
  return (p.is_absolute() ? p : base_dir / p).lexically_normal().string();
}

std::vector<ContentPart> parse_content(const Ctx& ctx, const json& content, const std::string& where,
                                       const std::filesystem::path& base_dir) {
  std::vector<ContentPart> parts;
  if (content.is_null()) return parts;
  if (content.is_string()) {
    parts.push_back(ContentPart{ContentPart::Kind::Text, content.get<std::string>(), "", 0});
    return parts;
  }
  if (!content.is_array())
    ctx.fail(where, "must be a string, a list of parts or null, not " + type_name(content));
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    std::string at = where + "[" + std::to_string(i) + "]";
    if (!part.is_object()) ctx.fail(at, "must be an object, not " + type_name(part));
    const std::string& type = require_string(ctx, part, "type", at);
    ContentPart out;
    if (type == "text") {
      out.kind = ContentPart::Kind::Text;
      out.text = require_string(ctx, part, "text", at);
    } else if (type == "image" || type == "audio") {
      out.kind = type == "image" ? ContentPart::Kind::Image : ContentPart::Kind::Audio;
      const std::string& path = require_string(ctx, part, "path", at);
      if (path.empty()) ctx.fail(at + ".path", "is empty");
      out.path = resolve(base_dir, path);
    } else {
      ctx.fail(at + ".type", "'" + type + "' unknown (text, image, audio)");
    }
    parts.push_back(std::move(out));
  }
  return parts;
}

ToolCall parse_tool_call_json(const Ctx& ctx, const json& call, const std::string& where) {
  if (!call.is_object()) ctx.fail(where, "must be an object, not " + type_name(call));
  ToolCall out;
  out.id = optional_string(ctx, call, "id", where);
  const bool wrapped = call.contains("function");
  const json& fn = wrapped ? call["function"] : call;
  std::string fn_where = wrapped ? where + ".function" : where;
  if (!fn.is_object()) ctx.fail(fn_where, "must be an object, not " + type_name(fn));
  out.name = require_string(ctx, fn, "name", fn_where);
  if (out.name.empty()) ctx.fail(fn_where + ".name", "is empty");
  auto args = fn.find("arguments");
  if (args == fn.end() || args->is_null()) {
    out.arguments = json::object();
  } else if (args->is_string()) {  // OpenAI sends arguments as a JSON-encoded string
    json parsed = json::parse(args->get<std::string>(), nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object())
      ctx.fail(fn_where + ".arguments", "is a string that does not hold a JSON object");
    out.arguments = std::move(parsed);
  } else if (args->is_object()) {
    out.arguments = *args;
  } else {
    ctx.fail(fn_where + ".arguments", "must be an object, not " + type_name(*args));
  }
  return out;
}

Message parse_message(const Ctx& ctx, const json& m, const std::string& where,
                      const std::filesystem::path& base_dir) {
  static const std::array<std::string_view, 6> kRoles = {"system",    "developer", "user",
                                                         "assistant", "model",     "tool"};
  if (!m.is_object()) ctx.fail(where, "must be an object, not " + type_name(m));
  Message out;
  out.role = require_string(ctx, m, "role", where);
  if (std::find(kRoles.begin(), kRoles.end(), out.role) == kRoles.end())
    ctx.fail(where + ".role", "'" + out.role + "' unknown (system, developer, user, assistant, model, tool)");
  const bool model = out.role == "assistant" || out.role == "model";
  for (const char* key : {"tool_calls", "tool_responses", "reasoning", "reasoning_content"}) {
    if (!model && m.contains(key) && !m[key].is_null())
      ctx.fail(where + "." + key, "is only allowed on an assistant message");
  }
  const json content = m.contains("content") ? m["content"] : json();
  if (out.role == "tool") {
    // The tool's result: a string, any JSON value, or a list of parts whose text is the result.
    std::string name = optional_string(ctx, m, "name", where);
    out.tool_call_id = optional_string(ctx, m, "tool_call_id", where);
    if (content.is_array() && std::all_of(content.begin(), content.end(), [](const json& p) {
          return p.is_object() && p.contains("type");
        })) {
      std::string text;
      for (ContentPart& part : parse_content(ctx, content, where + ".content", base_dir)) {
        if (part.kind == ContentPart::Kind::Text)
          text += part.text;
        else
          out.content.push_back(std::move(part));
      }
      out.tool_responses.push_back(ToolResponse{name, text});
    } else {
      out.tool_responses.push_back(ToolResponse{name, content.is_null() ? json("") : content});
    }
    return out;
  }
  if (out.role == "system" || out.role == "developer") {
    out.content = parse_content(ctx, content, where + ".content", base_dir);
    for (size_t i = 0; i < out.content.size(); ++i)
      if (out.content[i].kind != ContentPart::Kind::Text)
        ctx.fail(where + ".content[" + std::to_string(i) + "]", "a system message holds text only");
    return out;
  }
  out.content = parse_content(ctx, content, where + ".content", base_dir);
  if (!model) return out;
  out.reasoning = optional_string(ctx, m, "reasoning", where);
  if (out.reasoning.empty()) out.reasoning = optional_string(ctx, m, "reasoning_content", where);
  if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
    const json& calls = m["tool_calls"];
    if (!calls.is_array()) ctx.fail(where + ".tool_calls", "must be a list, not " + type_name(calls));
    for (size_t i = 0; i < calls.size(); ++i)
      out.tool_calls.push_back(
          parse_tool_call_json(ctx, calls[i], where + ".tool_calls[" + std::to_string(i) + "]"));
  }
  if (m.contains("tool_responses") && !m["tool_responses"].is_null()) {
    const json& responses = m["tool_responses"];
    if (!responses.is_array())
      ctx.fail(where + ".tool_responses", "must be a list, not " + type_name(responses));
    for (size_t i = 0; i < responses.size(); ++i) {
      std::string at = where + ".tool_responses[" + std::to_string(i) + "]";
      if (!responses[i].is_object()) ctx.fail(at, "must be an object, not " + type_name(responses[i]));
      std::string name = require_string(ctx, responses[i], "name", at);
      if (!responses[i].contains("response")) ctx.fail(at, "has no \"response\"");
      out.tool_responses.push_back(ToolResponse{name, responses[i]["response"]});
    }
  }
  return out;
}

void check_tools(const Ctx& ctx, const json& tools) {
  if (!tools.is_array()) ctx.fail("tools", "must be a list, not " + type_name(tools));
  for (size_t i = 0; i < tools.size(); ++i) {
    std::string at = "tools[" + std::to_string(i) + "]";
    if (!tools[i].is_object()) ctx.fail(at, "must be an object, not " + type_name(tools[i]));
    const bool wrapped = tools[i].contains("function");
    const json& fn = wrapped ? tools[i]["function"] : tools[i];
    std::string fn_at = wrapped ? at + ".function" : at;
    if (!fn.is_object()) ctx.fail(fn_at, "must be an object, not " + type_name(fn));
    if (require_string(ctx, fn, "name", fn_at).empty()) ctx.fail(fn_at + ".name", "is empty");
    if (fn.contains("description") && !fn["description"].is_string())
      ctx.fail(fn_at + ".description", "must be a string");
    if (fn.contains("parameters") && !fn["parameters"].is_object() && !fn["parameters"].is_null())
      ctx.fail(fn_at + ".parameters", "must be an object, not " + type_name(fn["parameters"]));
  }
}

}  // namespace

ChatRequest parse_chat_json(const json& doc, const std::string& file_label,
                            const std::filesystem::path& base_dir) {
  Ctx ctx{file_label};
  ChatRequest request;
  const json* messages = &doc;
  if (doc.is_object()) {
    for (const auto& [key, value] : doc.items()) {
      if (key != "messages" && key != "tools" && key != "enable_thinking")
        ctx.fail(key, "unknown key (messages, tools, enable_thinking)");
    }
    if (!doc.contains("messages")) ctx.fail("top level", "has no \"messages\"");
    messages = &doc["messages"];
    if (doc.contains("tools")) {
      check_tools(ctx, doc["tools"]);
      request.tools = doc["tools"];
    }
    if (doc.contains("enable_thinking")) {
      if (!doc["enable_thinking"].is_boolean()) ctx.fail("enable_thinking", "must be true or false");
      request.enable_thinking = doc["enable_thinking"].get<bool>();
    }
  } else if (!doc.is_array()) {
    ctx.fail("top level", "must be a list of messages or an object with \"messages\"");
  }
  if (!messages->is_array()) ctx.fail("messages", "must be a list, not " + type_name(*messages));
  if (messages->empty()) ctx.fail("messages", "is empty");
  const std::string prefix = doc.is_object() ? "messages" : "";
  bool calls_pending = false;  // a tool message must answer the assistant message right before it
  for (size_t i = 0; i < messages->size(); ++i) {
    std::string where = prefix + "[" + std::to_string(i) + "]";
    Message m = parse_message(ctx, (*messages)[i], where, base_dir);
    if (m.role == "tool" && !calls_pending)
      ctx.fail(where, "tool message does not follow an assistant tool call");
    if (m.role != "tool") calls_pending = !m.tool_calls.empty() && m.tool_responses.empty();
    request.messages.push_back(std::move(m));
  }
  return request;
}

ChatRequest load_chat_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input(path.string(), "cannot open chat file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  json doc;
  try {
    doc = json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    fail_input(path.string(), std::string("not valid JSON: ") + e.what());
  }
  return parse_chat_json(doc, path.string(), path.parent_path());
}

}  // namespace g4
