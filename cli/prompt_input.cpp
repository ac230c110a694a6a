#include "cli/prompt_input.h"

#include <string>
#include <utility>

#include "core/audio.h"
#include "core/chat_messages.h"
#include "core/chat_template.h"
#include "core/image.h"
#include "core/special_tokens.h"

namespace g4::cli {

PromptInput user_turn_input(std::string_view text, const Tokenizer& tok, bool enable_thinking) {
  Message user;
  user.role = "user";
  ContentPart part;
  part.text = std::string(text);
  user.content.push_back(std::move(part));
  TemplateOptions opt;
  opt.enable_thinking = enable_thinking;
  PromptInput p;
  p.input.ids = tokenize_chat(tok, render_chat({user}, opt));
  p.thinking = enable_thinking;
  return p;
}

PromptInput raw_text_input(std::string_view text, const Tokenizer& tok) {
  PromptInput p;
  p.chat_template = false;
  p.input.ids = {tok.token_id("<bos>").value_or(g4::tok::kBos)};
  const std::vector<int32_t> body = tok.encode(text, false);
  p.input.ids.insert(p.input.ids.end(), body.begin(), body.end());
  return p;
}

PromptInput chat_file_input(const std::filesystem::path& file, const Tokenizer& tok,
                            std::optional<bool> enable_thinking) {
  ChatRequest req = load_chat_file(file);
  PromptInput p;
  for (Message& m : req.messages)
    for (ContentPart& part : m.content) {
      SoftTokenInput media;
      if (part.kind == ContentPart::Kind::Image) {
        ImagePatches patches = preprocess_image(load_image(part.path));
        media.kind = SoftTokenInput::Image;
        media.n = patches.n;
        media.data = std::move(patches.values);
        media.positions = std::move(patches.positions);
      } else if (part.kind == ContentPart::Kind::Audio) {
        AudioFrames frames = load_audio_frames(part.path);
        media.kind = SoftTokenInput::Audio;
        media.n = frames.n;
        media.data = std::move(frames.values);
      } else {
        continue;
      }
      part.n_soft_tokens = media.n;
      p.input.media.push_back(std::move(media));
    }
  TemplateOptions opt;
  opt.tools = req.tools;
  opt.enable_thinking = enable_thinking.value_or(req.enable_thinking.value_or(false));
  p.thinking = opt.enable_thinking;
  p.input.ids = tokenize_chat(tok, render_chat(req.messages, opt));
  return p;
}

}  // namespace g4::cli
