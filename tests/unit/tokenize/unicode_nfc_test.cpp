#include "helix/tokenize/unicode_nfc.h"

#include <gtest/gtest.h>

#include <random>

#include "tokenize_test_util.h"

namespace helix {
namespace {

std::string utf8(std::u32string_view text) {
  std::string out;
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

// Expected values are Python's unicodedata.normalize("NFC", ...).
TEST(UnicodeNfc, ComposesReordersAndRespectsExclusions) {
  EXPECT_EQ(to_nfc(utf8(U"e\u0301")), utf8(U"\u00E9"));
  EXPECT_EQ(to_nfc(utf8(U"\u1100\u1161\u11A8")), utf8(U"\uAC01"));          // Hangul L V T
  EXPECT_EQ(to_nfc(utf8(U"\u1E0B\u0323")), utf8(U"\u1E0D\u0307"));          // reordered marks
  EXPECT_EQ(to_nfc(utf8(U"a\u0301\u0323")), utf8(U"\u1EA1\u0301"));
  EXPECT_EQ(to_nfc(utf8(U"\u212B")), utf8(U"\u00C5"));                      // singleton
  EXPECT_EQ(to_nfc(utf8(U"\u00C5\u0327")), utf8(U"\u00C5\u0327"));
  EXPECT_EQ(to_nfc(utf8(U"q\u0307\u0323")), utf8(U"q\u0323\u0307"));
  EXPECT_EQ(to_nfc(utf8(U"\u0915\u093C")), utf8(U"\u0915\u093C"));          // exclusion U+0958
  EXPECT_EQ(to_nfc(utf8(U"A\u0300\u0301")), utf8(U"\u00C0\u0301"));         // second mark blocked
}

TEST(UnicodeNfc, LeavesNfcTextAndInvalidBytesAlone) {
  const std::string text = "plain ASCII, caf\xC3\xA9, \xE4\xB8\xAD\xE6\x96\x87, \xF0\x9F\x98\x80";
  EXPECT_EQ(to_nfc(text), text);
  const std::string invalid = std::string("e\xFF", 2) + utf8(U"\u0301") + "e" + utf8(U"\u0301");
  EXPECT_EQ(to_nfc(invalid), std::string("e\xFF", 2) + utf8(U"\u0301") + utf8(U"\u00E9"));
}

TEST(UnicodeNfc, IsIdempotent) {
  std::mt19937 rng(99);
  for (int i = 0; i < 200; ++i) {
    const std::string once = to_nfc(test::random_utf8(rng, 20));
    ASSERT_EQ(to_nfc(once), once);
  }
}

}  // namespace
}  // namespace helix
