// llama.cpp's tokenizer test vectors (../shared/data/llama.cpp-vocab): for every
// family helix claims, the vocabulary is loaded from the vocabulary-only GGUF
// itself and each test string must give exactly the ids llama.cpp gives
// (no BOS/EOS added, control tokens not parsed: as its test-tokenizer-0 runs).
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "helix/tokenize/gguf_tokenizer.h"
#include "helix/tokenize/utf8.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"

namespace helix {
namespace {

namespace fs = std::filesystem;

fs::path vocab_dir() { return test::shared_data().parent_path() / "llama.cpp-vocab"; }

std::vector<std::string> read_inputs(const fs::path& file) {
  const std::string text = test::read_file(file);
  constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find(kSeparator, begin);
    if (end == std::string::npos) break;
    out.push_back(text.substr(begin, end - begin));
    begin = end + kSeparator.size();
  }
  return out;
}

std::vector<std::vector<int>> read_outputs(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::vector<int>> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ids(line);
    std::vector<int> row;
    int id = 0;
    while (ids >> id) row.push_back(id);
    out.push_back(std::move(row));
  }
  return out;
}

std::string show(const std::vector<int>& ids) {
  std::string out;
  for (int id : ids) out += " " + std::to_string(id);
  return out;
}

class GgufVocabConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufVocabConformance, EncodesLikeLlamaCpp) {
  const fs::path gguf = vocab_dir() / ("ggml-vocab-" + GetParam() + ".gguf");
  ASSERT_TRUE(fs::is_regular_file(gguf)) << gguf << " is missing (../shared/data/llama.cpp-vocab)";
  const TensorStore store = TensorStore::open(gguf);
  const auto tokenizer = GgufTokenizer::from_vocab(read_gguf_vocab(store.metadata(), gguf.string()), gguf.string());
  const std::vector<std::string> inputs = read_inputs(fs::path(gguf.string() + ".inp"));
  const std::vector<std::vector<int>> expected = read_outputs(fs::path(gguf.string() + ".out"));
  ASSERT_EQ(inputs.size(), expected.size());
  ASSERT_GE(inputs.size(), 40U);
  int passed = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int> ids = tokenizer->encode(inputs[i], /*parse_control=*/false);
    EXPECT_EQ(ids, expected[i]) << "input " << i << ": \"" << inputs[i] << "\"\n  helix:    " << show(ids)
                                << "\n  llama.cpp:" << show(expected[i]);
    if (ids == expected[i]) ++passed;
    // Decoding gives the text back (SentencePiece's dummy prefix aside).
    if (ids == expected[i] && is_valid_utf8(inputs[i])) {
      std::string decoded = tokenizer->decode(ids);
      EXPECT_EQ(decoded, inputs[i]) << "decode of input " << i;
    }
  }
  RecordProperty("passed", passed);
}

INSTANTIATE_TEST_SUITE_P(Families, GgufVocabConformance,
                         ::testing::Values("llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "deepseek-llm",
                                           "deepseek-coder", "falcon", "starcoder", "mpt", "refact", "command-r"),
                         [](const auto& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace helix
