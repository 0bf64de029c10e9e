#include "helix/tokenize/hf_bpe_tokenizer.h"

#include <gtest/gtest.h>

#include "helix/core/error.h"
#include "support/test_support.h"
#include "tokenize_test_util.h"

namespace helix {
namespace {

using test::hand_made_tokenizer;

constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// a=97 b=98 c=99; 256 "bc", 257 "ab", 258 " t", 259 "he", 260 " the", 261 "abc".
// The merge "b c" outranks "a b", so "abc" must become [a, bc] although merging
// left to right would give [ab, c].
nlohmann::json ranked_tokenizer() {
  return hand_made_tokenizer({"bc", "ab", " t", "he", " the", "abc"},
                             {{"b", "c"}, {"a", "b"}, {"h", "e"}, {" ", "t"}, {" t", "he"}});
}

std::vector<int> encode(const nlohmann::json& json, std::string_view text) {
  return HfBpeTokenizer::from_json(json)->encode(text);
}

// The message of the Error that parsing `json` throws ("" if none).
std::string load_error(const nlohmann::json& json) {
  try {
    HfBpeTokenizer::from_json(json, "my/tokenizer.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(HfBpeTokenizer, MergesInRankOrderNotLeftToRight) {
  const auto json = ranked_tokenizer();
  EXPECT_EQ(encode(json, "abc"), (std::vector<int>{97, 256}));
  EXPECT_EQ(encode(json, "abab"), (std::vector<int>{257, 257}));
  EXPECT_EQ(encode(json, "abcab"), (std::vector<int>{97, 256, 257}));
  EXPECT_EQ(encode(json, "cab"), (std::vector<int>{99, 257}));
}

TEST(HfBpeTokenizer, ChainedMergesAndPreTokens) {
  const auto json = ranked_tokenizer();
  EXPECT_EQ(encode(json, " the"), (std::vector<int>{260}));
  EXPECT_EQ(encode(json, "the"), (std::vector<int>{'t', 259}));
  // "the the": pre-tokens "the", " the"; the space never merges into the first word.
  EXPECT_EQ(encode(json, "the the"), (std::vector<int>{'t', 259, 260}));
  EXPECT_EQ(encode(json, "  the"), (std::vector<int>{' ', 260}));
  EXPECT_EQ(encode(json, ""), std::vector<int>{});
}

TEST(HfBpeTokenizer, IgnoreMergesEmitsWholeVocabularyWords) {
  auto json = ranked_tokenizer();
  EXPECT_EQ(encode(json, "abc"), (std::vector<int>{97, 256}));
  json["model"]["ignore_merges"] = true;
  EXPECT_EQ(encode(json, "abc"), (std::vector<int>{261}));
  EXPECT_EQ(encode(json, "abcab"), (std::vector<int>{97, 256, 257}));  // not itself in the vocabulary
}

TEST(HfBpeTokenizer, MergesMayBeGivenAsPairs) {
  auto json = ranked_tokenizer();
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& merge : json["model"]["merges"]) {
    const std::string text = merge.get<std::string>();
    const auto space = text.find(' ');
    pairs.push_back({text.substr(0, space), text.substr(space + 1)});
  }
  json["model"]["merges"] = pairs;
  EXPECT_EQ(encode(json, "abc the"), (std::vector<int>{97, 256, 260}));
}

TEST(HfBpeTokenizer, AddedTokensSplitFirstLongestMatch) {
  auto json = ranked_tokenizer();
  json["added_tokens"] = {test::added_token_json(300, "<|end|>", true), test::added_token_json(301, "<a>", false),
                          test::added_token_json(302, "<a><b>", false)};
  const auto tokenizer = HfBpeTokenizer::from_json(json);
  EXPECT_EQ(tokenizer->vocab_size(), 303);
  EXPECT_EQ(tokenizer->encode("abc<|end|>abc"), (std::vector<int>{97, 256, 300, 97, 256}));
  EXPECT_EQ(tokenizer->encode("<|end|><|end|>"), (std::vector<int>{300, 300}));
  EXPECT_EQ(tokenizer->encode("x<a><b>y<a>"), (std::vector<int>{'x', 302, 'y', 301}));
  // Without the added token "<|end" is plain text: '<', '|', "end", '|' ...
  EXPECT_EQ(tokenizer->encode("<|end"), (std::vector<int>{'<', '|', 'e', 'n', 'd'}));
  // Special tokens decode to nothing, other added tokens to their text.
  const std::vector<int> ids = tokenizer->encode("ab<|end|> the<a>");
  EXPECT_EQ(tokenizer->decode(ids), "ab the<a>");
  EXPECT_EQ(tokenizer->token_bytes(300), "");
  EXPECT_EQ(tokenizer->token_bytes(301), "<a>");
  EXPECT_EQ(tokenizer->token_id("<|end|>"), 300);
  EXPECT_EQ(tokenizer->token_id("<nope>"), std::nullopt);
}

TEST(HfBpeTokenizer, AddedTokenStripsWhitespace) {
  auto json = ranked_tokenizer();
  auto token = test::added_token_json(300, "<m>", true);
  token["lstrip"] = true;
  token["rstrip"] = true;
  json["added_tokens"] = {token};
  EXPECT_EQ(encode(json, "ab  <m>  ab"), (std::vector<int>{257, 300, 257}));
}

TEST(HfBpeTokenizer, Gpt2PatternSplitsLikeTheReference) {
  const auto tokenizer = HfBpeTokenizer::from_json(ranked_tokenizer());
  EXPECT_EQ(tokenizer->pre_tokens("Hello world's  123!!\n\n  x"),
            (std::vector<std::string>{"Hello", " world", "'s", " ", " 123", "!!", "\n\n ", " x"}));
  EXPECT_EQ(tokenizer->pre_tokens("don't STOP"), (std::vector<std::string>{"don", "'t", " STOP"}));
  EXPECT_EQ(tokenizer->pre_tokens("héllo wörld 42"), (std::vector<std::string>{"héllo", " wörld", " 42"}));
  EXPECT_EQ(tokenizer->pre_tokens("tail   "), (std::vector<std::string>{"tail", "   "}));
}

TEST(HfBpeTokenizer, AddPrefixSpace) {
  auto json = ranked_tokenizer();
  json["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_EQ(encode(json, "the"), (std::vector<int>{260}));
  EXPECT_EQ(encode(json, " the"), (std::vector<int>{260}));
}

nlohmann::json llama3_pre_tokenizer() {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", kLlama3Pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
}

TEST(HfBpeTokenizer, Llama3PatternGroupsDigitsByThree) {
  auto json = ranked_tokenizer();
  json["pre_tokenizer"] = llama3_pre_tokenizer();
  const auto tokenizer = HfBpeTokenizer::from_json(json);
  EXPECT_EQ(tokenizer->pre_tokens("1234567 apples"), (std::vector<std::string>{"123", "456", "7", " apples"}));
  EXPECT_EQ(tokenizer->pre_tokens("I'VE seen 12,5"),
            (std::vector<std::string>{"I", "'VE", " seen", " ", "12", ",", "5"}));
  EXPECT_EQ(tokenizer->pre_tokens("a\n\n\tb"), (std::vector<std::string>{"a", "\n\n", "\tb"}));
  EXPECT_EQ(tokenizer->encode("abc 1234"), (std::vector<int>{97, 256, ' ', '1', '2', '3', '4'}));
}

TEST(HfBpeTokenizer, SplitBehaviorsAndDigits) {
  auto json = ranked_tokenizer();
  const auto split_on_dash = [&](std::string behavior) {
    json["pre_tokenizer"] = {{"type", "Sequence"},
                             {"pretokenizers",
                              {{{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}},
                               {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    return HfBpeTokenizer::from_json(json)->pre_tokens("the-final--countdown");
  };
  EXPECT_EQ(split_on_dash("Isolated"), (std::vector<std::string>{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split_on_dash("Removed"), (std::vector<std::string>{"the", "final", "countdown"}));
  EXPECT_EQ(split_on_dash("MergedWithPrevious"), (std::vector<std::string>{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split_on_dash("MergedWithNext"), (std::vector<std::string>{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split_on_dash("Contiguous"), (std::vector<std::string>{"the", "-", "final", "--", "countdown"}));

  json["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers",
                            {{{"type", "Digits"}, {"individual_digits", true}},
                             {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  EXPECT_EQ(HfBpeTokenizer::from_json(json)->pre_tokens("ab12c"), (std::vector<std::string>{"ab", "1", "2", "c"}));
}

TEST(HfBpeTokenizer, TemplateProcessingGivesTheBos) {
  auto json = ranked_tokenizer();
  json["added_tokens"] = {test::added_token_json(300, "<|begin_of_text|>", true)};
  json["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       {{{"type", "ByteLevel"}, {"trim_offsets", false}},
        {{"type", "TemplateProcessing"},
         {"single", {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                     {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
         {"special_tokens",
          {{"<|begin_of_text|>",
            {{"id", "<|begin_of_text|>"}, {"ids", {300}}, {"tokens", {"<|begin_of_text|>"}}}}}}}}}};
  const auto tokenizer = HfBpeTokenizer::from_json(json);
  EXPECT_EQ(tokenizer->bos_id(), 300);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->encode_with_bos("abc"), (std::vector<int>{300, 97, 256}));
  EXPECT_EQ(tokenizer->encode("abc"), (std::vector<int>{97, 256}));
}

TEST(HfBpeTokenizer, NfcNormalizerComposes) {
  auto json = ranked_tokenizer();
  json["normalizer"] = {{"type", "NFC"}};
  const auto tokenizer = HfBpeTokenizer::from_json(json);
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("e\xCC\x81t\xC3\xA9")), "\xC3\xA9t\xC3\xA9");
}

TEST(HfBpeTokenizer, EncodesAnyBytesAndDecodesThemBack) {
  const auto tokenizer = HfBpeTokenizer::from_json(ranked_tokenizer());
  const std::string bytes = std::string("ab\xF0\x9F\x98", 5) + std::string("\x00\xFF\xC3 the\x80", 9);
  EXPECT_EQ(tokenizer->decode(tokenizer->encode(bytes)), bytes);
}

TEST(HfBpeTokenizer, DecodeRejectsIdsOutsideTheVocabulary) {
  const auto tokenizer = HfBpeTokenizer::from_json(ranked_tokenizer());
  const std::vector<int> bad = {97, 5000};
  try {
    tokenizer->decode(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("5000"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tokenizer->token_bytes(-1), Error);
}

TEST(HfBpeTokenizer, MalformedFilesNameTheField) {
  auto missing_vocab = ranked_tokenizer();
  missing_vocab["model"].erase("vocab");
  EXPECT_NE(load_error(missing_vocab).find("my/tokenizer.json: model.vocab: missing"), std::string::npos)
      << load_error(missing_vocab);

  auto unknown_merge = ranked_tokenizer();
  unknown_merge["model"]["merges"].push_back("x zz");
  const std::string merge_error = load_error(unknown_merge);
  EXPECT_NE(merge_error.find("model.merges[5]"), std::string::npos) << merge_error;
  EXPECT_NE(merge_error.find("\"zz\""), std::string::npos) << merge_error;

  auto bad_merge_shape = ranked_tokenizer();
  bad_merge_shape["model"]["merges"][1] = "abc";
  EXPECT_NE(load_error(bad_merge_shape).find("model.merges[1]"), std::string::npos);

  auto bad_regex = ranked_tokenizer();
  bad_regex["pre_tokenizer"] = llama3_pre_tokenizer();
  bad_regex["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  const std::string regex_error = load_error(bad_regex);
  EXPECT_NE(regex_error.find("pre_tokenizer.pretokenizers[0].pattern.Regex"), std::string::npos) << regex_error;

  auto unigram = ranked_tokenizer();
  unigram["model"]["type"] = "Unigram";
  EXPECT_NE(load_error(unigram).find("model.type"), std::string::npos);

  auto lowercase = ranked_tokenizer();
  lowercase["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_NE(load_error(lowercase).find("normalizer.type"), std::string::npos);

  auto whitespace = ranked_tokenizer();
  whitespace["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_NE(load_error(whitespace).find("pre_tokenizer.type"), std::string::npos);

  auto metaspace_decoder = ranked_tokenizer();
  metaspace_decoder["decoder"] = {{"type", "Metaspace"}};
  EXPECT_NE(load_error(metaspace_decoder).find("decoder.type"), std::string::npos);

  // byte_fallback makes it a character BPE, which needs the <0xAB> byte tokens.
  auto fallback = ranked_tokenizer();
  fallback["model"]["byte_fallback"] = true;
  EXPECT_NE(load_error(fallback).find("byte_fallback needs all 256"), std::string::npos);

  auto missing_byte = ranked_tokenizer();
  missing_byte["model"]["vocab"].erase(to_byte_level("\n"));
  EXPECT_NE(load_error(missing_byte).find("0x0A"), std::string::npos) << load_error(missing_byte);

  auto wrong_type = ranked_tokenizer();
  wrong_type["model"]["vocab"]["zz"] = "seven";
  EXPECT_NE(load_error(wrong_type).find("model.vocab.zz: expected an integer"), std::string::npos);

  auto bad_added = ranked_tokenizer();
  bad_added["added_tokens"] = {{{"content", "<x>"}}};
  EXPECT_NE(load_error(bad_added).find("added_tokens[0].id"), std::string::npos);
}

TEST(HfBpeTokenizer, LoadNamesTheFile) {
  test::TempDir dir;
  const auto file = dir.write("tokenizer.json", "{ not json");
  try {
    HfBpeTokenizer::load(file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  const auto good = dir.write("good.json", ranked_tokenizer().dump());
  EXPECT_EQ(HfBpeTokenizer::load(good)->encode("abc"), (std::vector<int>{97, 256}));
}

TEST(HfBpeTokenizer, LongInputsStayFast) {
  const auto tokenizer = HfBpeTokenizer::from_json(ranked_tokenizer());
  // One 200 KB pre-token: the merge loop must not be quadratic.
  std::string word;
  for (int i = 0; i < 100000; ++i) word += "ab";
  const std::vector<int> ids = tokenizer->encode(word);
  EXPECT_EQ(ids.size(), 100000U);
  EXPECT_EQ(tokenizer->decode(ids), word);
}

}  // namespace
}  // namespace helix
