#include "helix/tokenize/stream_decoder.h"

#include <gtest/gtest.h>

#include "helix/tokenize/bpe_trainer.h"
#include "helix/tokenize/byte_tokenizer.h"
#include "helix/tokenize/hf_bpe_tokenizer.h"
#include "helix/tokenize/load_tokenizer.h"
#include "helix/tokenize/sentencepiece_training.h"
#include "helix/tokenize/utf8.h"
#include "support/test_support.h"

namespace helix {
namespace {

// Every push() result, then finish().
std::vector<std::string> stream(const Tokenizer& tokenizer, const std::vector<int>& ids) {
  StreamDecoder decoder(tokenizer);
  std::vector<std::string> parts;
  for (int id : ids) parts.push_back(decoder.push(id));
  parts.push_back(decoder.finish());
  return parts;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& part : parts) out += part;
  return out;
}

TEST(StreamDecoder, HoldsBackASplitEmoji) {
  const auto tokenizer = make_byte_tokenizer();
  const std::string text = "a\xF0\x9F\x98\x80" "b";
  const std::vector<std::string> parts = stream(*tokenizer, tokenizer->encode(text));
  EXPECT_EQ(parts, (std::vector<std::string>{"a", "", "", "", "\xF0\x9F\x98\x80", "b", ""}));
  EXPECT_EQ(joined(parts), tokenizer->decode(tokenizer->encode(text)));
}

TEST(StreamDecoder, FinishFlushesAnUnfinishedCharacter) {
  const auto tokenizer = make_byte_tokenizer();
  StreamDecoder decoder(*tokenizer);
  EXPECT_EQ(decoder.push('x'), "x");
  EXPECT_EQ(decoder.push(0xF0), "");
  EXPECT_EQ(decoder.push(0x9F), "");
  EXPECT_EQ(decoder.finish(), "\xEF\xBF\xBD");
  // An impossible byte comes out at once, as U+FFFD; special tokens add nothing.
  EXPECT_EQ(decoder.push(0xFF), "\xEF\xBF\xBD");
  EXPECT_EQ(decoder.push(ByteTokenizer::kEosId), "");
  EXPECT_EQ(decoder.push('y'), "y");
}

TEST(StreamDecoder, ByteLevelBpeTokensThatSplitCharacters) {
  const auto tokenizer = HfBpeTokenizer::from_json(train_byte_level_bpe("plain words only", 300, {}));
  const std::string text = "emoji \xF0\x9F\x98\x80\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7 and \xE4\xB8\xAD plain words";
  const std::vector<int> ids = tokenizer->encode(text);
  const std::vector<std::string> parts = stream(*tokenizer, ids);
  EXPECT_EQ(joined(parts), text);
  for (const std::string& part : parts) EXPECT_TRUE(is_valid_utf8(part));
}

TEST(StreamDecoder, SentencePieceLeadingSpaces) {
  test::TempDir dir;
  train_sentencepiece_model("the keeper wrote down the wind and the waves\nthe ships that passed\n", 300,
                            dir.path() / "tokenizer.model");
  const auto tokenizer = load_tokenizer(dir.path());
  const std::string text = "the keeper wrote  the ships \xF0\x9F\x98\x80 passed";
  std::vector<int> ids = tokenizer->encode(text);
  const std::vector<std::string> parts = stream(*tokenizer, ids);
  EXPECT_EQ(joined(parts), tokenizer->decode(ids));
  EXPECT_EQ(joined(parts), text);
  EXPECT_EQ(parts.front().substr(0, 1), "t");  // the dummy-prefix space is not emitted
  // With a bos first, the first word still loses only the dummy prefix.
  ids.insert(ids.begin(), tokenizer->bos_id());
  EXPECT_EQ(joined(stream(*tokenizer, ids)), text);
  // Starting in the middle (a continuation) keeps what decode of that part gives.
  const std::vector<int> tail(ids.begin() + 3, ids.end());
  EXPECT_EQ(joined(stream(*tokenizer, tail)), tokenizer->decode(tail));
}

}  // namespace
}  // namespace helix
