#include "core/tool_syntax.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>

#include "core/error.h"

namespace g4 {

void SegmentWriter::append(std::string_view text, bool is_trusted) {
  if (text.empty()) return;
  if (!segments_.empty() && segments_.back().trusted == is_trusted) {
    segments_.back().text.append(text);
  } else {
    segments_.push_back(Segment{std::string(text), is_trusted});
  }
}

namespace {

// Jinja's `dictsort` compares keys case-insensitively (case_sensitive=False by default), so "a" < "B";
// nlohmann's own order is bytewise. [assumed] keys equal up to case fall back to bytewise order.
std::vector<std::pair<const std::string*, const nlohmann::json*>> dictsort(const nlohmann::json& object) {
  std::vector<std::pair<const std::string*, const nlohmann::json*>> items;
  for (auto it = object.begin(); it != object.end(); ++it) items.emplace_back(&it.key(), &it.value());
  auto lower = [](const std::string& s) {
    std::string out = s;
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  std::stable_sort(items.begin(), items.end(), [&](const auto& a, const auto& b) {
    std::string la = lower(*a.first), lb = lower(*b.first);
    return la != lb ? la < lb : *a.first < *b.first;
  });
  return items;
}

}  // namespace

void write_tool_members(SegmentWriter& out, const nlohmann::json& object) {
  bool first = true;
  for (const auto& [key_ptr, value_ptr] : dictsort(object)) {
    const std::string& key = *key_ptr;
    const nlohmann::json& value = *value_ptr;
    if (!first) out.trusted(",");
    first = false;
    out.untrusted(key);
    out.trusted(":");
    write_tool_value(out, value, false);
  }
}

void write_tool_value(SegmentWriter& out, const nlohmann::json& value, bool escape_keys) {
  if (value.is_string()) {
    out.trusted(kStringDelim);
    out.untrusted(value.get_ref<const std::string&>());
    out.trusted(kStringDelim);
  } else if (value.is_boolean()) {
    out.trusted(value.get<bool>() ? "true" : "false");
  } else if (value.is_object()) {
    out.trusted("{");
    bool first = true;
    for (const auto& [key_ptr, member_ptr] : dictsort(value)) {
      const std::string& key = *key_ptr;
      const nlohmann::json& member = *member_ptr;
      if (!first) out.trusted(",");
      first = false;
      if (escape_keys) out.trusted(kStringDelim);
      out.untrusted(key);
      if (escape_keys) out.trusted(kStringDelim);
      out.trusted(":");
      write_tool_value(out, member, escape_keys);
    }
    out.trusted("}");
  } else if (value.is_array()) {
    out.trusted("[");
    for (size_t i = 0; i < value.size(); ++i) {
      if (i > 0) out.trusted(",");
      write_tool_value(out, value[i], escape_keys);
    }
    out.trusted("]");
  } else if (value.is_null()) {
    out.trusted("null");  // [assumed] Jinja would print Python's "None"; JSON's spelling is kept instead
  } else {
    out.trusted(value.dump());  // numbers: shortest round-trip form, "1.5", "3.0", "1e+16" like Python
  }
}

namespace {

constexpr int kMaxDepth = 64;  // model output is untrusted: bound the recursion

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void skip_space(std::string_view text, size_t& pos) {
  while (pos < text.size() && is_space(text[pos])) ++pos;
}

bool fail(std::string* error, std::string what, size_t pos) {
  if (error) *error = what + " at offset " + std::to_string(pos);
  return false;
}

bool parse_scalar(std::string_view token, nlohmann::json& value) {
  if (token == "true" || token == "True")
    value = true;
  else if (token == "false" || token == "False")
    value = false;
  else if (token == "null" || token == "None")
    value = nullptr;
  else {
    int64_t integer = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), integer);
    if (ec == std::errc() && end == token.data() + token.size()) {
      value = integer;
      return true;
    }
    // Anything else must be a JSON number (this also rejects "inf", "nan", "0x10", bare words).
    nlohmann::json parsed = nlohmann::json::parse(token, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_number()) return false;
    value = parsed;
  }
  return true;
}

bool parse_value(std::string_view text, size_t& pos, nlohmann::json& value, std::string* error, int depth);

// Parses {key:value,...} or [value,...]; pos is at the opening bracket.
bool parse_container(std::string_view text, size_t& pos, nlohmann::json& value, std::string* error,
                     int depth) {
  const bool is_object = text[pos] == '{';
  const char close = is_object ? '}' : ']';
  value = is_object ? nlohmann::json::object() : nlohmann::json::array();
  ++pos;
  skip_space(text, pos);
  if (pos < text.size() && text[pos] == close) {
    ++pos;
    return true;
  }
  while (true) {
    std::string key;
    if (is_object) {
      skip_space(text, pos);
      if (text.substr(pos).starts_with(kStringDelim)) {
        size_t end = text.find(kStringDelim, pos + kStringDelim.size());
        if (end == std::string_view::npos) return fail(error, "unterminated quoted key", pos);
        key = std::string(text.substr(pos + kStringDelim.size(), end - pos - kStringDelim.size()));
        pos = end + kStringDelim.size();
      } else {
        size_t start = pos;
        while (pos < text.size() && text[pos] != ':' && text[pos] != ',' && text[pos] != '}' &&
               text[pos] != '{' && !is_space(text[pos]))
          ++pos;
        if (pos == start) return fail(error, "expected a key", pos);
        key = std::string(text.substr(start, pos - start));
      }
      skip_space(text, pos);
      if (pos >= text.size() || text[pos] != ':')
        return fail(error, "expected ':' after key '" + key + "'", pos);
      ++pos;
    }
    nlohmann::json item;
    if (!parse_value(text, pos, item, error, depth + 1)) return false;
    if (is_object) {
      if (value.contains(key)) return fail(error, "duplicate key '" + key + "'", pos);
      value[key] = std::move(item);
    } else {
      value.push_back(std::move(item));
    }
    skip_space(text, pos);
    if (pos >= text.size()) return fail(error, std::string("expected ',' or '") + close + "'", pos);
    if (text[pos] == close) {
      ++pos;
      return true;
    }
    if (text[pos] != ',') return fail(error, std::string("expected ',' or '") + close + "'", pos);
    ++pos;
  }
}

bool parse_value(std::string_view text, size_t& pos, nlohmann::json& value, std::string* error, int depth) {
  if (depth > kMaxDepth) return fail(error, "nesting deeper than 64", pos);
  skip_space(text, pos);
  if (pos >= text.size()) return fail(error, "expected a value", pos);
  if (text.substr(pos).starts_with(kStringDelim)) {
    size_t start = pos + kStringDelim.size();
    size_t end = text.find(kStringDelim, start);
    if (end == std::string_view::npos) return fail(error, "unterminated string", pos);
    value = std::string(text.substr(start, end - start));
    pos = end + kStringDelim.size();
    return true;
  }
  if (text[pos] == '{' || text[pos] == '[') return parse_container(text, pos, value, error, depth);
  size_t start = pos;
  while (pos < text.size() && text[pos] != ',' && text[pos] != '}' && text[pos] != ']' && text[pos] != '<' &&
         !is_space(text[pos]))
    ++pos;
  std::string_view token = text.substr(start, pos - start);
  if (token.empty()) return fail(error, "expected a value", start);
  if (!parse_scalar(token, value)) return fail(error, "unquoted value '" + std::string(token) + "'", start);
  return true;
}

}  // namespace

bool parse_tool_value(std::string_view text, size_t& pos, nlohmann::json& value, std::string* error) {
  return parse_value(text, pos, value, error, 0);
}

// ---- function declarations (the template's format_parameters / format_function_declaration) ----

namespace {

// Jinja truthiness of an optional member: present and not null/false/empty.
bool truthy(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return false;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string() || it->is_array() || it->is_object()) return !it->empty();
  return true;
}

// The template's `'string' in value['type'] or 'STRING' in value['type']`: a substring test on a string
// type, a membership test on a list of types.
bool type_has(const nlohmann::json& value, const std::string& lower) {
  if (!truthy(value, "type")) return false;
  const nlohmann::json& type = value["type"];
  std::string upper = lower;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (type.is_string()) {
    const std::string& s = type.get_ref<const std::string&>();
    return s.find(lower) != std::string::npos || s.find(upper) != std::string::npos;
  }
  if (type.is_array()) {
    for (const auto& t : type)
      if (t == lower || t == upper) return true;
  }
  return false;
}

std::string ascii_upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void write_quoted(SegmentWriter& out, const std::string& text) {
  out.trusted(kStringDelim);
  out.untrusted(text);
  out.trusted(kStringDelim);
}

void write_type(SegmentWriter& out, const nlohmann::json& type) {
  if (type.is_string()) {
    write_quoted(out, ascii_upper(type.get<std::string>()));
  } else if (type.is_array()) {
    out.trusted("[");
    for (size_t i = 0; i < type.size(); ++i) {
      if (i > 0) out.trusted(",");
      write_quoted(out, ascii_upper(type[i].is_string() ? type[i].get<std::string>() : type[i].dump()));
    }
    out.trusted("]");
  } else {
    write_tool_value(out, type, true);
  }
}

void write_required(SegmentWriter& out, const nlohmann::json& required) {
  out.trusted("required:[");
  for (size_t i = 0; i < required.size(); ++i) {
    if (i > 0) out.trusted(",");
    write_quoted(out, required[i].is_string() ? required[i].get<std::string>() : required[i].dump());
  }
  out.trusted("]");
}

// Emits "," before every member of a property but the first.
struct CommaList {
  SegmentWriter& out;
  bool any = false;
  void next() {
    if (any) out.trusted(",");
    any = true;
  }
};

void write_properties(SegmentWriter& out, const nlohmann::json& properties, bool filter_standard_keys) {
  static const std::array<std::string_view, 5> kStandardKeys = {"description", "type", "properties",
                                                                "required", "nullable"};
  bool first = true;
  for (const auto& [key_ptr, value_ptr] : dictsort(properties)) {
    const std::string& key = *key_ptr;
    const nlohmann::json& value = *value_ptr;
    if (filter_standard_keys &&
        std::find(kStandardKeys.begin(), kStandardKeys.end(), key) != kStandardKeys.end())
      continue;
    if (!value.is_object()) fail_input("chat", "tool parameter '" + key + "' is not an object");
    if (!first) out.trusted(",");
    first = false;
    out.untrusted(key);
    out.trusted(":{");
    CommaList members{out};
    if (truthy(value, "description")) {
      members.next();
      out.trusted("description:");
      write_quoted(out, value["description"].is_string() ? value["description"].get<std::string>()
                                                         : value["description"].dump());
    }
    if (type_has(value, "string")) {
      if (truthy(value, "enum")) {
        members.next();
        out.trusted("enum:");
        write_tool_value(out, value["enum"], true);
      }
    } else if (type_has(value, "array") && truthy(value, "items") && value["items"].is_object()) {
      members.next();
      out.trusted("items:{");
      CommaList items{out};
      for (const auto& [item_key_ptr, item_value_ptr] : dictsort(value["items"])) {
        const std::string& item_key = *item_key_ptr;
        const nlohmann::json& item_value = *item_value_ptr;
        if (item_value.is_null()) continue;
        items.next();
        if (item_key == "properties") {
          out.trusted("properties:{");
          if (item_value.is_object()) write_properties(out, item_value, false);
          out.trusted("}");
        } else if (item_key == "required" && item_value.is_array()) {
          write_required(out, item_value);
        } else if (item_key == "type") {
          out.trusted("type:");
          write_type(out, item_value);
        } else {
          out.untrusted(item_key);
          out.trusted(":");
          write_tool_value(out, item_value, true);
        }
      }
      out.trusted("}");
    }
    if (truthy(value, "nullable")) {
      members.next();
      out.trusted("nullable:true");
    }
    if (type_has(value, "object")) {
      members.next();
      out.trusted("properties:{");
      if (value.contains("properties") && value["properties"].is_object()) {
        write_properties(out, value["properties"], false);
      } else {
        write_properties(out, value, true);  // the template's fallback: the schema's own non-standard keys
      }
      out.trusted("}");
      if (truthy(value, "required") && value["required"].is_array()) {
        members.next();
        write_required(out, value["required"]);
      }
    }
    if (value.contains("type")) {  // [assumed] a property without "type" gets no type member
      members.next();
      out.trusted("type:");
      write_type(out, value["type"]);
    }
    out.trusted("}");
  }
}

}  // namespace

void write_tool_declaration(SegmentWriter& out, const nlohmann::json& tool) {
  const nlohmann::json& fn = tool.is_object() && tool.contains("function") ? tool["function"] : tool;
  if (!fn.is_object()) fail_input("chat", "tool declaration is not an object");
  if (!fn.contains("name") || !fn["name"].is_string() || fn["name"].get_ref<const std::string&>().empty())
    fail_input("chat", "tool declaration without a \"name\" string");
  out.trusted("declaration:");
  out.untrusted(fn["name"].get<std::string>());
  out.trusted("{description:");
  write_quoted(out, fn.contains("description") && fn["description"].is_string()
                        ? fn["description"].get<std::string>()
                        : std::string());
  if (truthy(fn, "parameters")) {
    const nlohmann::json& params = fn["parameters"];
    if (!params.is_object())
      fail_input("chat", "tool '" + fn["name"].get<std::string>() + "' parameters is not an object");
    out.trusted(",parameters:{");
    CommaList members{out};
    if (truthy(params, "properties") && params["properties"].is_object()) {
      members.next();
      out.trusted("properties:{");
      write_properties(out, params["properties"], false);
      out.trusted("}");
    }
    if (truthy(params, "required") && params["required"].is_array()) {
      members.next();
      write_required(out, params["required"]);
    }
    if (truthy(params, "type")) {
      members.next();
      out.trusted("type:");
      write_type(out, params["type"]);
    }
    out.trusted("}");
  }
  if (fn.contains("response") && fn["response"].is_object()) {
    const nlohmann::json& response = fn["response"];
    out.trusted(",response:{");
    CommaList members{out};
    if (truthy(response, "description")) {
      members.next();
      out.trusted("description:");
      write_quoted(out, response["description"].is_string() ? response["description"].get<std::string>()
                                                            : response["description"].dump());
    }
    if (truthy(response, "type")) {
      members.next();
      out.trusted("type:");
      write_type(out, response["type"]);
    }
    out.trusted("}");
  }
  out.trusted("}");
}

}  // namespace g4
