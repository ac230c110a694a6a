// Parsing generated replies (spec §5.3) and the --chat JSON format. Expected values are hand-written.
#include <catch2/catch.hpp>
#include <filesystem>

#include "core/chat_messages.h"
#include "core/chat_template.h"
#include "core/error.h"

namespace {

using nlohmann::json;
const std::string Q = "<|\"|>";

// The InputError message for a chat document, or "" if it parses.
std::string chat_error(const std::string& text) {
  try {
    g4::parse_chat_json(json::parse(text), "chat.json", "/base");
  } catch (const g4::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("parse_reply: plain answer ending with <turn|>", "[chat]") {
  auto r = g4::parse_reply("The sky is blue.<turn|>");
  CHECK(r.content == "The sky is blue.");
  CHECK(r.thinking.empty());
  CHECK(r.tool_calls.empty());
  CHECK(r.ended_with_turn_close);
  CHECK_FALSE(r.ended_with_tool_response);
  CHECK(r.errors.empty());
}

TEST_CASE("parse_reply: thinking / then a tool call waiting for its response", "[chat]") {
  std::string text = "<|channel>thought\nNeed data.<channel|><|tool_call>call:get_weather{location:" + Q +
                     "Paris, FR" + Q + ",days:3,ratio:-2.5,metric:true,extra:null,opts:{deep:[1," + Q + "a" +
                     Q + ",[]]}}<tool_call|><|tool_response>";
  auto r = g4::parse_reply(text);
  CHECK(r.errors.empty());
  CHECK(r.thinking == "Need data.");
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0].name == "get_weather");
  json expected = {{"location", "Paris, FR"}, {"days", 3},
                   {"ratio", -2.5},           {"metric", true},
                   {"extra", nullptr},        {"opts", {{"deep", json::array({1, "a", json::array()})}}}};
  CHECK(r.tool_calls[0].arguments == expected);
  CHECK(r.tool_calls[0].arguments["days"].is_number_integer());
  CHECK(r.content.empty());
  CHECK(r.ended_with_tool_response);
}

TEST_CASE("tool call round trip: render / parse / render again", "[chat]") {
  g4::Message m;
  m.role = "assistant";
  m.tool_calls.push_back(
      {"search", json{{"query", "a <|turn> b"}, {"limit", 2}, {"tags", json::array({"x", "y"})}}, ""});
  m.tool_calls.push_back({"noop", json::object(), ""});
  g4::TemplateOptions options;
  options.add_generation_prompt = false;
  std::string rendered = g4::render_chat_text({m}, options);
  const std::string head = "<bos><|turn>model\n";
  REQUIRE(rendered.starts_with(head));
  std::string generated = rendered.substr(head.size());
  CHECK(generated == "<|tool_call>call:search{limit:2,query:" + Q + "a <|turn> b" + Q + ",tags:[" + Q + "x" +
                         Q + "," + Q + "y" + Q +
                         "]}<tool_call|><|tool_call>call:noop{}<tool_call|><|tool_response>");
  auto r = g4::parse_reply(generated);
  CHECK(r.errors.empty());
  REQUIRE(r.tool_calls.size() == 2);
  CHECK(r.tool_calls[0] == m.tool_calls[0]);
  CHECK(r.tool_calls[1] == m.tool_calls[1]);
  g4::Message again;
  again.role = "assistant";
  again.tool_calls = r.tool_calls;
  CHECK(g4::render_chat_text({again}, options) == rendered);
}

TEST_CASE("parse_reply: malformed calls are reported / never thrown", "[chat]") {
  auto bad_value = g4::parse_reply("<|tool_call>call:f{x:Paris}<tool_call|>");
  CHECK(bad_value.tool_calls.empty());
  REQUIRE(bad_value.errors.size() == 1);
  CHECK(bad_value.errors[0].find("unquoted value 'Paris'") != std::string::npos);

  auto unterminated = g4::parse_reply("<|tool_call>call:f{x:" + Q + "a");
  CHECK(unterminated.tool_calls.empty());
  CHECK_FALSE(unterminated.errors.empty());

  auto no_prefix = g4::parse_reply("<|tool_call>f{}<tool_call|><|tool_call>call:g{a:1}<tool_call|>");
  REQUIRE(no_prefix.tool_calls.size() == 1);  // the good call survives the bad one
  CHECK(no_prefix.tool_calls[0].name == "g");
  CHECK(no_prefix.errors.size() == 1);

  std::string deep =
      "<|tool_call>call:f{a:" + std::string(200, '[') + std::string(200, ']') + "}<tool_call|>";
  CHECK_FALSE(g4::parse_reply(deep).errors.empty());

  auto open_thought = g4::parse_reply("<|channel>thought\nhmm");
  CHECK(open_thought.thinking == "hmm");
  CHECK_FALSE(open_thought.errors.empty());
}

TEST_CASE("chat JSON: fixtures load / relative paths resolve against the file", "[chat]") {
  std::filesystem::path dir = std::filesystem::path(G4_FIXTURES_DIR) / "chat";
  auto image = g4::load_chat_file(dir / "describe_image.json");
  REQUIRE(image.messages.size() == 2);
  CHECK_FALSE(image.enable_thinking.has_value());
  REQUIRE(image.messages[1].content.size() == 2);
  CHECK(image.messages[1].content[1].kind == g4::ContentPart::Kind::Image);
  CHECK(image.messages[1].content[1].path == (dir / "media" / "cat.png").lexically_normal().string());

  auto weather = g4::load_chat_file(dir / "weather_tools.json");
  REQUIRE(weather.enable_thinking.has_value());
  CHECK(*weather.enable_thinking);
  g4::TemplateOptions options;
  options.enable_thinking = true;
  options.tools = weather.tools;
  std::string text = g4::render_chat_text(weather.messages, options);
  CHECK(
      text.ends_with("<|turn>user\nHow warm is it in Paris?<turn|>\n<|turn>model\n<|channel>thought\n"
                     "I should call the weather tool.\n<channel|><|tool_call>call:get_weather{location:" +
                     Q + "Paris" + Q + "}<tool_call|><|tool_response>response:get_weather{sky:" + Q +
                     "clear" + Q + ",temperature:18}<tool_response|>"));
}

TEST_CASE("chat JSON: malformed files are one-line errors with the JSON path", "[chat]") {
  std::filesystem::path dir = std::filesystem::path(G4_FIXTURES_DIR) / "chat";
  try {
    g4::load_chat_file(dir / "bad_part_type.json");
    FAIL("accepted");
  } catch (const g4::InputError& e) {
    std::string msg = e.what();
    CHECK(msg.find("bad_part_type.json: messages[2].content[0].type 'vidoe' unknown (text, image, audio)") !=
          std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
  CHECK_THROWS_AS(g4::load_chat_file(dir / "not_json.json"), g4::InputError);
  CHECK_THROWS_AS(g4::load_chat_file(dir / "missing.json"), g4::InputError);

  CHECK(chat_error(R"([{"role": "user", "content": "hi"}])") == "");
  CHECK(chat_error(R"([{"role": "usr", "content": "hi"}])") ==
        "chat.json: [0].role 'usr' unknown (system, developer, user, assistant, model, tool)");
  CHECK(chat_error(R"({"messages": []})") == "chat.json: messages is empty");
  CHECK(chat_error(R"({"messages": [{"role": "user"}], "enable_thinkng": true})") ==
        "chat.json: enable_thinkng unknown key (messages, tools, enable_thinking)");
  CHECK(chat_error(R"({"messages": [{"role": "user", "content": 5}]})") ==
        "chat.json: messages[0].content must be a string, a list of parts or null, not number");
  CHECK(chat_error(R"([{"role": "user", "content": [{"type": "image"}]}])") ==
        "chat.json: [0].content[0] has no \"path\"");
  CHECK(chat_error(R"([{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}])") ==
        "chat.json: [1] tool message does not follow an assistant tool call");
  CHECK(chat_error(
            R"([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}])") ==
        "chat.json: [0].tool_calls[0].function.arguments is a string that does not hold a JSON object");
  CHECK(chat_error(R"([{"role": "user", "content": "x", "tool_calls": []}])") ==
        "chat.json: [0].tool_calls is only allowed on an assistant message");
  CHECK(chat_error(R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"description": "d"}]})") ==
        "chat.json: tools[0] has no \"name\"");
}

TEST_CASE("parse_reply never throws on scrambled model output", "[chat]") {
  const std::vector<std::string> pieces = {"<|tool_call>",
                                           "<tool_call|>",
                                           "call:",
                                           "f",
                                           "{",
                                           "}",
                                           "[",
                                           "]",
                                           ":",
                                           ",",
                                           Q,
                                           "1",
                                           "-2.5e3",
                                           "true",
                                           "x",
                                           " ",
                                           "<|channel>thought\n",
                                           "<channel|>",
                                           "<turn|>",
                                           "<|tool_response>",
                                           "\xff"};
  uint32_t state = 12345;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text = trial % 2 ? "<|tool_call>call:f{" : "";
    for (int i = 0; i < 12; ++i) {
      state = state * 1664525u + 1013904223u;  // LCG: deterministic
      text += pieces[(state >> 16) % pieces.size()];
    }
    CHECK_NOTHROW(g4::parse_reply(text));
  }
}
