#include "helix/tokenize/bpe_trainer.h"

#include <gtest/gtest.h>

#include "helix/core/error.h"
#include "helix/tokenize/hf_bpe_tokenizer.h"
#include "tokenize_test_util.h"

namespace helix {
namespace {

const std::vector<std::string> kSpecials = {"<|begin_of_text|>", "<|end_of_text|>"};

// Training is the slow part; the tests share one tokenizer of 600 tokens.
const nlohmann::json& trained_json() {
  static const nlohmann::json json = train_byte_level_bpe(builtin_training_corpus(), 600, kSpecials);
  return json;
}

const HfBpeTokenizer& trained() {
  static const auto tokenizer = HfBpeTokenizer::from_json(trained_json(), "trained");
  return *tokenizer;
}

TEST(BpeTrainer, BuiltinCorpusIsAFewKilobytesOfText) {
  EXPECT_GT(builtin_training_corpus().size(), 3000U);
  EXPECT_TRUE(is_valid_utf8(builtin_training_corpus()));
}

TEST(BpeTrainer, IsDeterministic) {
  const nlohmann::json again = train_byte_level_bpe(builtin_training_corpus(), 600, kSpecials);
  EXPECT_EQ(again.dump(), trained_json().dump());
}

TEST(BpeTrainer, HonoursTheVocabularySize) {
  EXPECT_EQ(trained().vocab_size(), 600);
  EXPECT_EQ(trained_json()["model"]["merges"].size(), 600U - 256U - kSpecials.size());
  // The specials are the last ids.
  EXPECT_EQ(trained().token_id("<|begin_of_text|>"), 598);
  EXPECT_EQ(trained().token_id("<|end_of_text|>"), 599);
  EXPECT_EQ(trained().token_bytes(599), "");
  // A corpus too small for the request is padded with reserved specials.
  const std::vector<std::string> one = {"<eos>"};
  const auto tiny = HfBpeTokenizer::from_json(train_byte_level_bpe("aaa bbb aaa", 300, one));
  EXPECT_EQ(tiny->vocab_size(), 300);
  EXPECT_EQ(tiny->token_id("<eos>"), 299);
  EXPECT_TRUE(tiny->token_id("<|reserved_0|>").has_value());
  EXPECT_EQ(tiny->encode("aaa").size(), 1U);  // merging went on down to pairs seen once
}

TEST(BpeTrainer, LearnsTheMostFrequentPairsFirst) {
  const auto tokenizer = HfBpeTokenizer::from_json(train_byte_level_bpe("ab ab ab ab cd cd", 258, {}));
  // Pre-tokens "ab", " ab" x3, " cd" x2: (a,b) occurs 4 times, then (' ',ab) 3 times.
  EXPECT_EQ(tokenizer->encode("ab"), (std::vector<int>{256}));
  EXPECT_EQ(tokenizer->token_bytes(256), "ab");
  EXPECT_EQ(tokenizer->token_bytes(257), " ab");
}

TEST(BpeTrainer, ABosNamedSpecialIsAddedByThePostProcessor) {
  EXPECT_EQ(trained().bos_id(), 598);
  EXPECT_TRUE(trained().add_bos());
  EXPECT_EQ(trained().encode_with_bos("the sea"),
            [] {
              std::vector<int> ids = {598};
              const std::vector<int> body = trained().encode("the sea");
              ids.insert(ids.end(), body.begin(), body.end());
              return ids;
            }());
  const std::vector<std::string> no_bos = {"<|endoftext|>"};
  const auto plain = HfBpeTokenizer::from_json(train_byte_level_bpe("some text", 300, no_bos));
  EXPECT_EQ(plain->bos_id(), -1);
  EXPECT_FALSE(plain->add_bos());
}

TEST(BpeTrainer, RejectsImpossibleRequests) {
  EXPECT_THROW(train_byte_level_bpe("text", 257, kSpecials), Error);
  const std::vector<std::string> repeated = {"<x>", "<x>"};
  EXPECT_THROW(train_byte_level_bpe("text", 300, repeated), Error);
}

TEST(BpeTrainer, MergesCompressTheCorpus) {
  const std::string_view corpus = builtin_training_corpus();
  const std::vector<int> ids = trained().encode(corpus);
  EXPECT_LT(ids.size() * 2, corpus.size()) << ids.size() << " tokens for " << corpus.size() << " bytes";
  EXPECT_EQ(trained().decode(ids), corpus);
}

TEST(BpeTrainer, RoundTripsRandomUnicode) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 200; ++i) {
    const std::string text = test::random_utf8(rng, 1 + static_cast<std::size_t>(i % 40));
    const std::vector<int> ids = trained().encode(text);
    ASSERT_EQ(trained().decode(ids), text) << "case " << i;
    for (int id : ids) ASSERT_LT(id, 598);  // plain text never yields a special token
  }
}

TEST(BpeTrainer, RoundTripsSpecialsInsideText) {
  const std::string text = "<|begin_of_text|>Hello, keeper.<|end_of_text|>";
  const std::vector<int> ids = trained().encode(text);
  EXPECT_EQ(ids.front(), 598);
  EXPECT_EQ(ids.back(), 599);
  EXPECT_EQ(trained().decode(ids), "Hello, keeper.");
}

}  // namespace
}  // namespace helix
