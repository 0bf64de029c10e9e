// SentencePiece-style tokenizer.json (LLaMA-2, Mistral): a character BPE with
// byte fallback behind Prepend/Replace normalizers (the older files) or a
// Metaspace pre-tokenizer (newer ones). The vocabulary is LLaMA's own, from
// llama.cpp's llama-spm GGUF, turned into tokenizer.json the way Hugging Face's
// converter does (merges from the pieces, ordered by score); it must then
// tokenize llama.cpp's llama-spm vectors as llama.cpp does.
#include <algorithm>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helix/core/error.h"
#include "helix/tokenize/gguf_vocab.h"
#include "helix/tokenize/hf_bpe_tokenizer.h"
#include "helix/tokenize/stream_decoder.h"
#include "helix/tokenize/utf8.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"

namespace helix {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kSpace = "\xE2\x96\x81";  // U+2581

fs::path spm_gguf() { return test::shared_data().parent_path() / "llama.cpp-vocab" / "ggml-vocab-llama-spm.gguf"; }

// Merges as Hugging Face's SentencePiece converter derives them: every split of
// a piece into two pieces, grouped by the piece's score (best first), within
// a piece ordered by the halves' ids.
json merges_of(const GgufVocab& vocab, const std::unordered_map<std::string, int>& ids) {
  struct Merge {
    std::string left, right;
    float score;
    int left_id, right_id;
  };
  std::vector<Merge> merges;
  for (int id = 0; id < vocab.size(); ++id) {
    if (vocab.type(id) != GgufTokenType::kNormal) continue;
    const std::string& piece = vocab.tokens[static_cast<std::size_t>(id)];
    std::vector<Merge> local;
    for (std::size_t cut = 1; cut < piece.size(); ++cut) {
      if ((static_cast<unsigned char>(piece[cut]) & 0xC0) == 0x80) continue;  // inside a character
      const auto l = ids.find(piece.substr(0, cut));
      const auto r = ids.find(piece.substr(cut));
      if (l == ids.end() || r == ids.end()) continue;
      local.push_back({l->first, r->first, vocab.scores[static_cast<std::size_t>(id)], l->second, r->second});
    }
    std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
      return std::pair(a.left_id, a.right_id) < std::pair(b.left_id, b.right_id);
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) { return a.score > b.score; });
  json out = json::array();
  for (const Merge& m : merges) out.push_back(m.left + " " + m.right);
  return out;
}

json llama2_tokenizer_json(bool metaspace) {
  const TensorStore store = TensorStore::open(spm_gguf());
  const GgufVocab vocab = read_gguf_vocab(store.metadata(), spm_gguf().string());
  std::unordered_map<std::string, int> ids;
  json vocab_json = json::object();
  for (int id = 0; id < vocab.size(); ++id) {
    ids.emplace(vocab.tokens[static_cast<std::size_t>(id)], id);
    vocab_json[vocab.tokens[static_cast<std::size_t>(id)]] = id;
  }
  json t;
  t["model"] = {{"type", "BPE"},         {"dropout", nullptr},         {"unk_token", "<unk>"},
                {"fuse_unk", true},      {"byte_fallback", true},      {"vocab", vocab_json},
                {"merges", merges_of(vocab, ids)}};
  t["added_tokens"] = json::array();
  for (int id : {0, 1, 2}) {
    t["added_tokens"].push_back({{"id", id}, {"content", vocab.tokens[static_cast<std::size_t>(id)]}, {"special", true}});
  }
  t["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}};
  if (metaspace) {  // Mistral-v0.3-style files
    t["normalizer"] = nullptr;
    t["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "first"}, {"split", false}};
    t["decoder"] = {{"type", "Metaspace"}, {"replacement", kSpace}, {"prepend_scheme", "first"}, {"split", false}};
  } else {  // LLaMA-2's file
    t["normalizer"] = {{"type", "Sequence"},
                       {"normalizers",
                        {{{"type", "Prepend"}, {"prepend", kSpace}},
                         {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}}}}};
    t["pre_tokenizer"] = nullptr;
    t["decoder"] = {{"type", "Sequence"},
                    {"decoders",
                     {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  }
  return t;
}

std::vector<std::string> read_inputs(const fs::path& file) {
  const std::string text = test::read_file(file);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  for (std::size_t begin = 0, end; (end = text.find(separator, begin)) != std::string::npos;
       begin = end + separator.size()) {
    out.push_back(text.substr(begin, end - begin));
  }
  return out;
}

std::vector<std::vector<int>> read_outputs(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::vector<int>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ids(line);
    out.emplace_back(std::istream_iterator<int>(ids), std::istream_iterator<int>());
  }
  return out;
}

class HfMetaspace : public ::testing::TestWithParam<bool> {};

TEST_P(HfMetaspace, LlamaVocabularyTokenizesAsLlamaCpp) {
  const auto tokenizer = HfBpeTokenizer::from_json(llama2_tokenizer_json(GetParam()), "llama2 tokenizer.json");
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_TRUE(tokenizer->add_bos());
  const std::vector<std::string> inputs = read_inputs(fs::path(spm_gguf().string() + ".inp"));
  const std::vector<std::vector<int>> expected = read_outputs(fs::path(spm_gguf().string() + ".out"));
  ASSERT_EQ(inputs.size(), expected.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    // tokenizers' Metaspace prepends no "▁" to text that already starts with a
    // space (SentencePiece and the Prepend normalizer do): there the ids differ
    // from llama.cpp's by design.
    if (GetParam() && inputs[i].starts_with(' ')) continue;
    const std::vector<int> ids = tokenizer->encode(inputs[i]);
    EXPECT_EQ(ids, expected[i]) << "input " << i << ": \"" << inputs[i] << "\"";
    if (is_valid_utf8(inputs[i])) {
      EXPECT_EQ(tokenizer->decode(ids), inputs[i]) << "decode of input " << i;
      StreamDecoder stream(*tokenizer);
      std::string streamed;
      for (int id : tokenizer->encode_with_bos(inputs[i])) streamed += stream.push(id);
      EXPECT_EQ(streamed + stream.finish(), inputs[i]) << "streamed decode of input " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, HfMetaspace, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? "Metaspace" : "PrependReplace"; });

TEST(HfMetaspaceErrors, UnsupportedPiecesNameTheField) {
  json t = llama2_tokenizer_json(false);
  t["normalizer"]["normalizers"][1]["pattern"] = {{"Regex", " +"}};
  try {
    HfBpeTokenizer::from_json(t, "tokenizer.json");
    FAIL() << "a regex Replace was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("normalizer.normalizers[1].pattern"), std::string::npos) << e.what();
  }
  json no_bytes = llama2_tokenizer_json(false);
  no_bytes["model"]["vocab"].erase("<0x41>");
  try {
    HfBpeTokenizer::from_json(no_bytes, "tokenizer.json");
    FAIL() << "a byte_fallback vocabulary without <0x41> was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("<0x41>"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace helix
