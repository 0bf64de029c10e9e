#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "helix/tokenize/bpe_trainer.h"
#include "helix/tokenize/hf_bpe_tokenizer.h"
#include "tokenize_test_util.h"

namespace helix {
namespace {

TEST(Concurrency, TwoThreadsEncodeLikeOne) {
  const auto tokenizer = HfBpeTokenizer::from_json(train_byte_level_bpe(builtin_training_corpus(), 500, {}));
  std::mt19937 rng(42);
  std::vector<std::string> texts;
  const std::string_view corpus = builtin_training_corpus();
  for (int i = 0; i < 300; ++i) {
    const std::size_t start = rng() % corpus.size();
    texts.push_back(std::string(corpus.substr(start, 200)) + test::random_utf8(rng, 10));
  }
  // Serial results on a fresh tokenizer (empty cache), then both threads at once.
  const auto fresh = HfBpeTokenizer::from_json(train_byte_level_bpe(builtin_training_corpus(), 500, {}));
  std::vector<std::vector<int>> expected;
  for (const std::string& text : texts) expected.push_back(fresh->encode(text));

  std::vector<std::vector<int>> first(texts.size());
  std::vector<std::vector<int>> second(texts.size());
  std::thread a([&] {
    for (std::size_t i = 0; i < texts.size(); ++i) first[i] = tokenizer->encode(texts[i]);
  });
  std::thread b([&] {
    for (std::size_t i = texts.size(); i-- > 0;) second[i] = tokenizer->encode(texts[i]);
  });
  a.join();
  b.join();
  EXPECT_EQ(first, expected);
  EXPECT_EQ(second, expected);
}

}  // namespace
}  // namespace helix
