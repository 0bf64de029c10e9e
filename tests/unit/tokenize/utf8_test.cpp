#include "helix/tokenize/utf8.h"

#include <gtest/gtest.h>

namespace helix {
namespace {

TEST(Utf8, CompletePrefixHoldsBackOnlyAnUnfinishedTail) {
  const std::string emoji = "\xF0\x9F\x98\x80";
  EXPECT_EQ(complete_utf8_prefix("ab" + emoji), 6U);
  EXPECT_EQ(complete_utf8_prefix("ab" + emoji.substr(0, 3)), 2U);
  EXPECT_EQ(complete_utf8_prefix("ab" + emoji.substr(0, 1)), 2U);
  EXPECT_EQ(complete_utf8_prefix("\xC3"), 0U);
  // Bytes that can never complete are not held back.
  EXPECT_EQ(complete_utf8_prefix("a\x80"), 2U);
  EXPECT_EQ(complete_utf8_prefix("a\xF0" "b"), 3U);
  EXPECT_EQ(complete_utf8_prefix("\xED\xA0"), 2U);  // a surrogate
}

TEST(Utf8, SanitizeReplacesMaximalInvalidSubparts) {
  EXPECT_EQ(sanitize_utf8("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(sanitize_utf8("a\xF0\x9F" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(sanitize_utf8("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));                 // above U+10FFFF
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));
}

}  // namespace
}  // namespace helix
