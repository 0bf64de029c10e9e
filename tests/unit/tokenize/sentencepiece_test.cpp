#include "helix/tokenize/sentencepiece_tokenizer.h"

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include "helix/core/error.h"
#include "helix/tokenize/load_tokenizer.h"
#include "helix/tokenize/sentencepiece_training.h"
#include "helix/tokenize/training_corpus.h"
#include "support/test_support.h"
#include "tokenize_test_util.h"

namespace helix {
namespace {

// One small model (vocab 400) trained once for all tests of this file.
const test::TempDir& model_dir() {
  static const test::TempDir dir;
  static const bool trained = [] {
    train_sentencepiece_model(builtin_training_corpus(), 400, dir.path() / "tokenizer.model");
    return true;
  }();
  (void)trained;
  return dir;
}

const Tokenizer& tokenizer() {
  static const auto loaded = load_tokenizer(model_dir().path());
  return *loaded;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SentencePiece, LoadsThroughTheModelDirectory) {
  EXPECT_EQ(tokenizer().kind(), "sentencepiece");
  EXPECT_GT(tokenizer().vocab_size(), 256 + 3);
  EXPECT_LE(tokenizer().vocab_size(), 400);
  EXPECT_EQ(tokenizer().bos_id(), 1);
  EXPECT_EQ(tokenizer().eos_id(), 2);
  EXPECT_TRUE(tokenizer().add_bos());
  EXPECT_EQ(tokenizer().stop_ids(), std::vector<int>{2});
  EXPECT_EQ(tokenizer().token_id("</s>"), 2);
  EXPECT_EQ(tokenizer().token_id("no such piece"), std::nullopt);
  EXPECT_EQ(tokenizer().token_bytes(1), "");
}

TEST(SentencePiece, RoundTripsTextIncludingUnseenCharacters) {
  for (const std::string text : {"The harbour town woke slowly.", "  two  spaces and a tab\tend ",
                                 "emoji \xF0\x9F\x98\x80 and \xE4\xB8\xAD\xE6\x96\x87", "line\nbreaks\n\n"}) {
    const std::vector<int> ids = tokenizer().encode(text);
    EXPECT_EQ(tokenizer().decode(ids), text);
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 50; ++i) {
    const std::string text = test::random_utf8(rng, 25);
    // Leading spaces and control characters survive: the identity normalizer keeps
    // them, and decode drops only the dummy-prefix space encode added.
    EXPECT_EQ(tokenizer().decode(tokenizer().encode(text)), text) << "case " << i;
  }
}

TEST(SentencePiece, DecodeMatchesTheLibrary) {
  sentencepiece::SentencePieceProcessor processor;
  ASSERT_TRUE(processor.Load((model_dir().path() / "tokenizer.model").string()).ok());
  const std::string text = " Mara kept the lighthouse: 57.3912 degrees \xC3\xA9t\xC3\xA9.";
  std::vector<int> ids = tokenizer().encode_with_bos(text);
  ids.push_back(2);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(tokenizer().decode(ids), processor.DecodeIds(ids));
  const std::vector<int> tail(ids.begin() + 3, ids.end());
  EXPECT_EQ(tokenizer().decode(tail), processor.DecodeIds(tail));
  // Byte pieces decode to raw bytes: half an emoji stays half an emoji.
  const std::vector<int> emoji = tokenizer().encode("\xF0\x9F\x98\x80");
  ASSERT_GE(emoji.size(), 4U);
  const std::vector<int> last_two(emoji.end() - 2, emoji.end());
  EXPECT_EQ(tokenizer().decode(last_two), "\x98\x80");
}

TEST(SentencePiece, MissingOrCorruptModelNamesTheFile) {
  test::TempDir empty;
  const std::string missing = error_of([&] { load_tokenizer(empty.path()); });
  EXPECT_NE(missing.find(empty.path().string()), std::string::npos) << missing;
  EXPECT_NE(missing.find("tokenizer.model"), std::string::npos) << missing;

  const auto corrupt = empty.write("tokenizer.model", "this is not a protobuf");
  const std::string bad = error_of([&] { load_tokenizer(empty.path()); });
  EXPECT_NE(bad.find(corrupt.string()), std::string::npos) << bad;

  const std::string absent = error_of([&] { SentencePieceTokenizer::load(empty.path() / "nope.model"); });
  EXPECT_NE(absent.find("nope.model"), std::string::npos) << absent;
}

TEST(SentencePiece, TrainingErrorsAreReported) {
  test::TempDir dir;
  EXPECT_THROW(train_sentencepiece_model("", 300, dir.path() / "m.model"), Error);
  EXPECT_THROW(train_sentencepiece_model("tiny corpus", 50, dir.path() / "m.model"), Error);
}

}  // namespace
}  // namespace helix
