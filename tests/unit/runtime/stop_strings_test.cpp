// OpenAI stop strings over streamed text: what is released when, and what is held.
#include "helix/runtime/stop_strings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace helix::runtime {
namespace {

// Feeds the pieces and returns everything released, flush included.
std::string stream(std::vector<std::string> stops, const std::vector<std::string>& pieces) {
  StopStrings s(std::move(stops));
  std::string out;
  for (const std::string& p : pieces) out += s.push(p);
  return out + s.flush();
}

TEST(StopStrings, NoStopsPassesTextThrough) {
  StopStrings s({});
  EXPECT_EQ(s.push("Hello"), "Hello");
  EXPECT_EQ(s.push(", world"), ", world");
  EXPECT_EQ(s.push(""), "");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, StopInsideOnePiece) {
  StopStrings s({"END"});
  EXPECT_EQ(s.push("abc END def"), "abc ");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.push("more"), "");
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, StopAtTheVeryStart) {
  StopStrings s({"\n\n"});
  EXPECT_EQ(s.push("\n\nrest"), "");
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, StopSplitAcrossPieces) {
  StopStrings s({"bc"});
  EXPECT_EQ(s.push("ab"), "a") << "'b' could start the stop string";
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push("cd"), "") << "'b' + 'c' is the stop: nothing more, 'd' dropped";
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.flush(), "");
}

TEST(StopStrings, StopSplitOverManyPieces) {
  StopStrings s({"<|end|>"});
  EXPECT_EQ(s.push("x<"), "x");
  EXPECT_EQ(s.push("|e"), "");
  EXPECT_EQ(s.push("nd"), "");
  EXPECT_EQ(s.push("|"), "");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push(">tail"), "");
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, HeldPrefixReleasedWhenDisproved) {
  StopStrings s({"bc"});
  EXPECT_EQ(s.push("ab"), "a");
  EXPECT_EQ(s.push("x"), "bx") << "'bx' is not 'bc': the held 'b' goes out";
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.flush(), "");

  StopStrings t({"<|end|>"});
  EXPECT_EQ(t.push("a<|en"), "a");
  EXPECT_EQ(t.push("try"), "<|entry");
  EXPECT_FALSE(t.stopped());
}

TEST(StopStrings, DisprovedPrefixCanHoldANewOne) {
  // "aab" with stop "ab": the first 'a' is disproved, the second may start it.
  StopStrings s({"ab"});
  EXPECT_EQ(s.push("a"), "");
  EXPECT_EQ(s.push("a"), "a");
  EXPECT_EQ(s.push("b"), "");
  EXPECT_TRUE(s.stopped());
  // Overlapping prefix: "aab" vs stop "aab" fed one byte at a time.
  EXPECT_EQ(stream({"aab"}, {"a", "a", "a", "b", "c"}), "a");
}

TEST(StopStrings, HoldsTheLongestPossibleStart) {
  StopStrings s({"abcd", "cx"});
  // "abc" could start "abcd" (3 bytes) and "c" could start "cx" (1): hold all 3.
  EXPECT_EQ(s.push("zabc"), "z");
  EXPECT_EQ(s.push("x"), "ab") << "'cx' is the stop";
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, EarliestOfSeveralStopsWins) {
  StopStrings s({"world", "lo", "xyz"});
  EXPECT_EQ(s.push("hello world"), "hel");
  EXPECT_TRUE(s.stopped());
  // Order in the list does not matter.
  EXPECT_EQ(stream({"lo", "world"}, {"hello world"}), "hel");
  EXPECT_EQ(stream({"world", "lo"}, {"hello world"}), "hel");
  EXPECT_EQ(stream({"d", "wor"}, {"hello ", "world"}), "hello ");
}

TEST(StopStrings, FlushReturnsHeldText) {
  StopStrings s({"STOP"});
  EXPECT_EQ(s.push("the end ST"), "the end ");
  EXPECT_EQ(s.flush(), "ST");
  EXPECT_FALSE(s.stopped());
}

TEST(StopStrings, AfterStopEverythingIsEmpty) {
  StopStrings s({"."});
  EXPECT_EQ(s.push("One. Two"), "One");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.push(" three."), "");
  EXPECT_EQ(s.push("four"), "");
  EXPECT_EQ(s.flush(), "");
  EXPECT_TRUE(s.stopped());
}

TEST(StopStrings, EmptyStopStringsAreIgnored) {
  StopStrings s({"", "zz", ""});
  EXPECT_EQ(s.push("abc"), "abc") << "an empty stop would match at 0";
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push("zz"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(stream({""}, {"anything", " at all"}), "anything at all");
}

TEST(StopStrings, MultiByteUtf8) {
  // "é" is C3 A9, "→" is E2 86 92.
  StopStrings s({"é!"});
  EXPECT_EQ(s.push("café"), "caf") << "the whole 'é' may start 'é!'";
  EXPECT_EQ(s.push("!"), "");
  EXPECT_TRUE(s.stopped());

  StopStrings t({"→"});
  EXPECT_EQ(t.push("a \xE2"), "a ") << "a lone lead byte of the stop is held";
  EXPECT_EQ(t.push("\x86"), "");
  EXPECT_EQ(t.push("\x92 b"), "");
  EXPECT_TRUE(t.stopped());

  StopStrings u({"→"});
  EXPECT_EQ(u.push("über \xE2\x86"), "über ");
  EXPECT_EQ(u.push("\x90 x"), "\xE2\x86\x90 x") << "'←' is not '→'";
  EXPECT_FALSE(u.stopped());

  EXPECT_EQ(stream({"日本"}, {"こんにちは日", "本語"}), "こんにちは");
  EXPECT_EQ(stream({"日本"}, {"こんにちは日", "曜日"}), "こんにちは日曜日");
}

TEST(StopStrings, ReleasedTextIsTheStreamUpToTheStop) {
  // However the text is cut, the output is the text before the first stop.
  const std::string text = "alpha beta <stop> gamma";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_EQ(stream({"<stop>"}, {text.substr(0, cut), text.substr(cut)}), "alpha beta ") << cut;
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  EXPECT_EQ(stream({"<stop>"}, bytes), "alpha beta ");
  EXPECT_EQ(stream({"<nope>"}, bytes), text);
}

}  // namespace
}  // namespace helix::runtime
