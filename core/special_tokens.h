// Gemma 4 special and control tokens (spec §6): the one table the tokenizer builder, the chat template
// and the sampler's stop/suppress lists agree on.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

namespace g4 {

struct SpecialToken {
  int32_t id;
  std::string_view text;
};

namespace tok {
inline constexpr int32_t kPad = 0, kEos = 1, kBos = 2, kUnk = 3, kMask = 4;
inline constexpr int32_t kToolOpen = 46, kToolClose = 47, kToolCallOpen = 48, kToolCallClose = 49;
inline constexpr int32_t kToolResponseOpen = 50, kToolResponseClose = 51, kStringDelim = 52;
inline constexpr int32_t kThink = 98, kChannelOpen = 100, kChannelClose = 101;
inline constexpr int32_t kTurnOpen = 105, kTurnClose = 106, kNewline = 107;
inline constexpr int32_t kImageOpen = 255999, kAudioOpen = 256000;
inline constexpr int32_t kImageSoft = 258880, kAudioSoft = 258881, kImageClose = 258882, kAudioClose = 258883;
inline constexpr int32_t kVideoSoft = 258884;
}  // namespace tok

// Tokens matched literally only in trusted template text (never inside user text). "\n" (107) is an
// ordinary piece and is not listed.
inline constexpr std::array<SpecialToken, 24> kGemma4SpecialTokens{{
    {tok::kPad, "<pad>"},
    {tok::kEos, "<eos>"},
    {tok::kBos, "<bos>"},
    {tok::kUnk, "<unk>"},
    {tok::kMask, "<mask>"},
    {tok::kToolOpen, "<|tool>"},
    {tok::kToolClose, "<tool|>"},
    {tok::kToolCallOpen, "<|tool_call>"},
    {tok::kToolCallClose, "<tool_call|>"},
    {tok::kToolResponseOpen, "<|tool_response>"},
    {tok::kToolResponseClose, "<tool_response|>"},
    {tok::kStringDelim, "<|\"|>"},
    {tok::kThink, "<|think|>"},
    {tok::kChannelOpen, "<|channel>"},
    {tok::kChannelClose, "<channel|>"},
    {tok::kTurnOpen, "<|turn>"},
    {tok::kTurnClose, "<turn|>"},
    {tok::kImageOpen, "<|image>"},
    {tok::kAudioOpen, "<|audio>"},
    {tok::kImageSoft, "<|image|>"},
    {tok::kAudioSoft, "<|audio|>"},
    {tok::kImageClose, "<image|>"},
    {tok::kAudioClose, "<audio|>"},
    {tok::kVideoSoft, "<|video|>"},
}};

}  // namespace g4
