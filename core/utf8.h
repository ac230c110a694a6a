// UTF-8 decoding with WHATWG error handling: each "maximal subpart" of an ill-formed sequence becomes
// one U+FFFD (Unicode §3.9, "U+FFFD Substitution of Maximal Subparts"), which is exactly what
// JavaScript's TextDecoder does. The tokenizer sanitizes its input with this so that it sees the same
// code points as the JavaScript reference tokenizer.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace g4::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// Decodes the code point starting at s[pos] and advances pos past it. An ill-formed sequence yields
// U+FFFD and advances past its maximal subpart (at least one byte). Requires pos < s.size().
char32_t next(std::string_view s, std::size_t& pos);

bool is_valid(std::string_view s);

// s with every maximal subpart of an ill-formed sequence replaced by U+FFFD (EF BF BD).
std::string sanitize(std::string_view s);

// Appends the UTF-8 encoding of cp (a Unicode scalar value) to out.
void append(std::string& out, char32_t cp);

}  // namespace g4::utf8
