// UTF-8 decoding with U+FFFD per maximal subpart. Expected outputs are worked by hand from Unicode §3.9
// (Table 3-7 well-formed byte ranges, Table 3-8 example), which is also what WHATWG TextDecoder does.
#include <catch2/catch.hpp>

#include <string>

#include "core/utf8.h"

using namespace g4;

namespace {
const std::string kFFFD = "\xEF\xBF\xBD";
std::string fffd(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += kFFFD;
  return s;
}
}  // namespace

TEST_CASE("utf8: valid text passes unchanged", "[tokenizer][utf8]") {
  for (const std::string s : {"", "abc", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBF\xBD",
                              "\xEF\xBB\xBFhi", "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF", "\xEE\x80\x80"}) {
    CHECK(utf8::is_valid(s));
    CHECK(utf8::sanitize(s) == s);
  }
}

TEST_CASE("utf8: next decodes code points and advances", "[tokenizer][utf8]") {
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";  // a, U+00E9, U+20AC, U+1F600
  std::size_t pos = 0;
  CHECK(utf8::next(s, pos) == U'a');
  CHECK(pos == 1);
  CHECK(utf8::next(s, pos) == 0xE9);
  CHECK(pos == 3);
  CHECK(utf8::next(s, pos) == 0x20AC);
  CHECK(pos == 6);
  CHECK(utf8::next(s, pos) == 0x1F600);
  CHECK(pos == 10);
}

TEST_CASE("utf8: maximal subparts become one U+FFFD each", "[tokenizer][utf8]") {
  // Unicode 15 §3.9 Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 ->
  // a FFFD(F1 80 80) FFFD(E1 80) FFFD(C2) b FFFD(80) c FFFD(80) FFFD(BF) d
  CHECK(utf8::sanitize("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64") ==
        "a" + fffd(3) + "b" + kFFFD + "c" + fffd(2) + "d");
  // F0 needs a second byte in 90..BF, so F0 alone is a subpart and each 80 is another: 3 replacements.
  CHECK(utf8::sanitize("\xF0\x80\x80") == fffd(3));
  CHECK(utf8::sanitize("\xF0\x90\x80") == fffd(1));      // truncated 4-byte sequence: one subpart
  CHECK(utf8::sanitize("\xE2\x82") == fffd(1));          // truncated at the end
  CHECK(utf8::sanitize("\xE2\x82x") == fffd(1) + "x");   // the breaking byte is kept
  CHECK(utf8::sanitize("\xED\xA0\x80") == fffd(3));      // surrogate D800: ED allows only 80..9F next
  CHECK(utf8::sanitize("\xC0\xAF") == fffd(2));          // overlong '/': C0 never starts a sequence
  CHECK(utf8::sanitize("\xE0\x80\xAF") == fffd(3));      // overlong: E0 needs A0..BF next
  CHECK(utf8::sanitize("\xF4\x90\x80\x80") == fffd(4));  // above U+10FFFF
  CHECK(utf8::sanitize("\xF5\xFF\xFE") == fffd(3));
  CHECK(utf8::sanitize("\xC3") == fffd(1));
  for (const std::string bad : {"\x80", "\xC3", "a\xFF", "\xED\xA0\x80", "\xF0\x9F\x98"})
    CHECK_FALSE(utf8::is_valid(bad));
}

TEST_CASE("utf8: append encodes at each length boundary", "[tokenizer][utf8]") {
  std::string s;
  utf8::append(s, 0x7F);
  utf8::append(s, 0x80);
  utf8::append(s, 0x7FF);
  utf8::append(s, 0x800);
  utf8::append(s, 0xFFFF);
  utf8::append(s, 0x10000);
  utf8::append(s, 0x10FFFF);
  CHECK(s == "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF");
}
