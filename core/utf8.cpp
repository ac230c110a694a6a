// WHATWG UTF-8 decoder (https://encoding.spec.whatwg.org/#utf-8-decoder), one code point at a time.
#include "core/utf8.h"

namespace g4::utf8 {
namespace {

// Sets ill_formed when the returned U+FFFD stands for bytes that were not a well-formed sequence.
char32_t decode(std::string_view s, std::size_t& pos, bool& ill_formed) {
  ill_formed = true;
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ill_formed = false;
    ++pos;
    return b0;
  }
  int need = 0;
  char32_t cp = 0;
  // The second byte's allowed range is narrower after E0, ED, F0 and F4 (Unicode Table 3-7): this is
  // what rejects overlong forms, surrogates and values above U+10FFFF at the earliest byte.
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    ++pos;  // 80..C1, F5..FF never start a sequence
    return kReplacement;
  }
  std::size_t j = pos + 1;
  for (int k = 0; k < need; ++k) {
    if (j >= s.size()) {
      pos = j;  // truncated at the end: the whole prefix is one maximal subpart
      return kReplacement;
    }
    const auto b = static_cast<unsigned char>(s[j]);
    if (b < lo || b > hi) {
      pos = j;  // the offending byte is not consumed: it starts the next sequence
      return kReplacement;
    }
    lo = 0x80;
    hi = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    ++j;
  }
  pos = j;
  ill_formed = false;
  return cp;
}

}  // namespace

char32_t next(std::string_view s, std::size_t& pos) {
  bool ill_formed = false;
  return decode(s, pos, ill_formed);
}

bool is_valid(std::string_view s) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    if (static_cast<unsigned char>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    bool ill_formed = false;
    decode(s, pos, ill_formed);
    if (ill_formed) return false;
  }
  return true;
}

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  std::size_t pos = 0;
  while (pos < s.size()) append(out, next(s, pos));
  return out;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace g4::utf8
