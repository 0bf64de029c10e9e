#include "helix/tokenize/byte_tokenizer.h"

#include <gtest/gtest.h>

#include <random>

#include "helix/core/error.h"

namespace helix {
namespace {

TEST(ByteTokenizer, RoundTripsArbitraryBytes) {
  const auto tokenizer = make_byte_tokenizer();
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  bytes += std::string("\xF0\x9F\x98", 3);  // a truncated emoji: invalid UTF-8
  const std::vector<int> ids = tokenizer->encode(bytes);
  ASSERT_EQ(ids.size(), bytes.size());
  EXPECT_EQ(ids[0], 0);
  EXPECT_EQ(ids[255], 255);
  EXPECT_EQ(tokenizer->decode(ids), bytes);

  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string random;
  for (int i = 0; i < 1000; ++i) random.push_back(static_cast<char>(byte(rng)));
  EXPECT_EQ(tokenizer->decode(tokenizer->encode(random)), random);
}

TEST(ByteTokenizer, SpecialTokens) {
  const auto tokenizer = make_byte_tokenizer();
  EXPECT_EQ(tokenizer->kind(), "byte");
  EXPECT_EQ(tokenizer->vocab_size(), 258);
  EXPECT_EQ(tokenizer->bos_id(), 256);
  EXPECT_EQ(tokenizer->eos_id(), 257);
  EXPECT_EQ(tokenizer->stop_ids(), std::vector<int>{257});
  EXPECT_EQ(tokenizer->encode_with_bos("hi"), (std::vector<int>{256, 'h', 'i'}));
  EXPECT_EQ(tokenizer->token_id("<eos>"), 257);
  EXPECT_EQ(tokenizer->token_bytes(256), "");
  const std::vector<int> with_specials = {256, 'o', 'k', 257};
  EXPECT_EQ(tokenizer->decode(with_specials), "ok");
  const std::vector<int> bad = {258};
  EXPECT_THROW(tokenizer->decode(bad), Error);
}

}  // namespace
}  // namespace helix
