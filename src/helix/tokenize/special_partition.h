// Splitting text around special tokens the way llama.cpp does before it
// tokenizes: the special tokens are taken longest first, and each is cut out of
// every stretch of plain text left, left to right. (Hugging Face's added-token
// matcher instead takes the leftmost-longest match; the two differ only when
// special tokens overlap, but GGUF models must tokenize as llama.cpp does.)
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace helix {

struct SpecialText {
  std::string text;
  int id = -1;
};

// A stretch of the input: plain text (id < 0) or one special token.
struct TextFragment {
  std::string_view text;
  int id = -1;
};

class SpecialPartition {
 public:
  // Empty texts are ignored.
  explicit SpecialPartition(std::vector<SpecialText> tokens);

  std::vector<TextFragment> split(std::string_view text) const;
  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<SpecialText> tokens_;  // longest first, then by id
};

}  // namespace helix
