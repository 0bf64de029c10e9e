// The GGUF tokenizer beyond llama.cpp's vectors: stories260K's embedded
// SentencePiece vocabulary against the sentencepiece library on its own
// tokenizer.model, GGUF files without a tokenizer beside them, the special-token
// split, and errors that name the key.
#include "helix/tokenize/gguf_tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helix/core/error.h"
#include "helix/tokenize/gguf_pre_tokenizers.h"
#include "helix/engine/model_tokenizer.h"
#include "helix/tokenize/load_tokenizer.h"
#include "helix/tokenize/sentencepiece_tokenizer.h"
#include "helix/tokenize/special_partition.h"
#include "helix/tokenize/stream_decoder.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"

namespace helix {
namespace {

namespace fs = std::filesystem;

fs::path stories() { return test::source_dir() / "data" / "models" / "stories260K"; }

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Texts with the corners of SentencePiece: newlines, tabs, characters outside
// the 512-piece vocabulary (byte fallback), a word that is a single piece.
// (No leading, trailing or repeated spaces: tok512.model removes extra
// whitespace before encoding, which llama.cpp -- and so helix -- never does;
// LLaMA-2's tokenizer.model does not either.)
const std::vector<std::string> kTexts = {
    "Once upon a time, there was a little girl named Lily.",
    "line one\nline two\n\n",
    "\t tab",
    "caf\xC3\xA9 na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80",
    "She said: \"I'm 3 years old!\"",
    "a",
    "",
};

TEST(GgufTokenizer, Stories260KEncodesAsTheSentencePieceLibraryDoes) {
  const auto from_gguf = load_model_tokenizer(stories() / "model.gguf");
  const auto library = SentencePieceTokenizer::load(stories() / "tokenizer.model");
  ASSERT_EQ(from_gguf->vocab_size(), library->vocab_size());
  EXPECT_EQ(from_gguf->kind(), "sentencepiece");
  EXPECT_EQ(from_gguf->bos_id(), library->bos_id());
  EXPECT_EQ(from_gguf->eos_id(), library->eos_id());
  EXPECT_TRUE(from_gguf->add_bos());
  // Where the library removes extra whitespace, helix keeps it as llama.cpp does.
  EXPECT_EQ(from_gguf->encode(" x").size(), library->encode(" x").size() + 1);
  for (const std::string& text : kTexts) {
    const std::vector<int> ids = from_gguf->encode(text);
    EXPECT_EQ(ids, library->encode(text)) << "\"" << text << "\"";
    EXPECT_EQ(from_gguf->decode(ids), library->decode(ids)) << "\"" << text << "\"";
  }
  // Every piece but <unk> (0), whose surface tok512.model sets to an escaped
  // string, decodes alike.
  for (int id = 1; id < library->vocab_size(); ++id) {
    EXPECT_EQ(from_gguf->token_bytes(id), library->token_bytes(id)) << "id " << id;
  }
}

TEST(GgufTokenizer, StreamingAGgufTokenizerGivesTheWholeText) {
  const auto tokenizer = load_model_tokenizer(stories() / "model.gguf");
  const std::string text = kTexts[6] + " " + kTexts[0];
  StreamDecoder decoder(*tokenizer);
  std::string streamed;
  for (int id : tokenizer->encode_with_bos(text)) streamed += decoder.push(id);
  streamed += decoder.finish();
  EXPECT_EQ(streamed, text);
}

TEST(GgufTokenizer, AGgufAloneNeedsNothingBesideIt) {
  test::TempDir dir;
  fs::copy_file(stories() / "model.gguf", dir.path() / "stories.gguf");
  const auto tokenizer = load_model_tokenizer(dir.path() / "stories.gguf");
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("Lily saw a ball.")), "Lily saw a ball.");
}

TEST(GgufTokenizer, ControlTokensAreParsedOnlyWhenAsked) {
  const auto tokenizer = load_model_tokenizer(stories() / "model.gguf");
  const auto& gguf = dynamic_cast<const GgufTokenizer&>(*tokenizer);
  const std::vector<int> parsed = gguf.encode("<s>Hi", /*parse_control=*/true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed.front(), gguf.bos_id());
  const std::vector<int> plain = gguf.encode("<s>Hi", /*parse_control=*/false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), gguf.bos_id()), 0);
  EXPECT_EQ(gguf.decode(plain), "<s>Hi");
}

TEST(SpecialPartition, TakesTheLongestTokenFirstThenLeftToRight) {
  // llama.cpp's order: "bcd" (longer) is cut out before "ab" is looked for.
  const SpecialPartition partition({{"ab", 1}, {"bcd", 2}, {"x", 3}});
  const std::vector<TextFragment> parts = partition.split("abcd x ab");
  std::vector<std::pair<std::string, int>> got;
  for (const TextFragment& f : parts) got.emplace_back(std::string(f.text), f.id);
  const std::vector<std::pair<std::string, int>> want = {{"a", -1}, {"bcd", 2}, {" ", -1}, {"x", 3},
                                                         {" ", -1}, {"ab", 1}};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(SpecialPartition({}).split("").empty());
}

nlohmann::json minimal_vocab() {
  return {{"tokenizer.ggml.model", "llama"},
          {"tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a"}},
          {"tokenizer.ggml.scores", {0.0, 0.0, 0.0, -1.0}},
          {"tokenizer.ggml.token_type", {2, 3, 3, 1}},
          {"tokenizer.ggml.bos_token_id", 1}};
}

TEST(GgufVocab, BadMetadataNamesTheKey) {
  nlohmann::json bad_type = minimal_vocab();
  bad_type["tokenizer.ggml.token_type"][2] = 9;
  EXPECT_NE(error_of([&] { read_gguf_vocab(bad_type, "f.gguf"); }).find("tokenizer.ggml.token_type[2]"),
            std::string::npos);
  nlohmann::json short_scores = minimal_vocab();
  short_scores["tokenizer.ggml.scores"] = {0.0};
  EXPECT_NE(error_of([&] { read_gguf_vocab(short_scores, "f.gguf"); }).find("tokenizer.ggml.scores: 1 entries for 4"),
            std::string::npos);
  nlohmann::json bad_id = minimal_vocab();
  bad_id["tokenizer.ggml.eos_token_id"] = 99;
  EXPECT_NE(error_of([&] { read_gguf_vocab(bad_id, "f.gguf"); }).find("eos_token_id: id 99 is outside"),
            std::string::npos);
  nlohmann::json other_model = minimal_vocab();
  other_model["tokenizer.ggml.model"] = "bert";
  EXPECT_NE(error_of([&] { read_gguf_vocab(other_model, "f.gguf"); }).find("\"bert\" is not supported"),
            std::string::npos);
  EXPECT_NE(error_of([&] { gguf_pre_tokenizer("no-such-pre"); }).find("\"no-such-pre\" is not supported"),
            std::string::npos);
}

TEST(GgufVocab, UnknownCharactersFallBackToTheUnknownToken) {
  // No byte pieces: each byte of a character outside the vocabulary becomes
  // <unk>. "a b" is "▁a▁b": "▁a" is a piece; "▁" (3 bytes) and "b" are not.
  const auto tokenizer = GgufTokenizer::from_vocab(read_gguf_vocab(minimal_vocab(), "f.gguf"), "f.gguf");
  EXPECT_EQ(tokenizer->encode("a b"), (std::vector<int>{3, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace helix
