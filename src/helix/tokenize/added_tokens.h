// The added tokens of a Hugging Face tokenizer (tokenizer.json "added_tokens":
// <|begin_of_text|>, <|im_end|>, ...). They are found in the input before any
// other processing (longest match first, leftmost first) and map straight to
// their ids; the text between them goes through normalizer, pre-tokenizer and
// BPE. lstrip/rstrip make a token swallow the whitespace beside it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace helix {

struct AddedToken {
  int id = -1;
  std::string content;
  bool special = false;  // special tokens stand for no bytes in decode
  bool lstrip = false;
  bool rstrip = false;
};

class AddedTokenMatcher {
 public:
  // A part of the input: plain text (token_id < 0) or one added token.
  struct Segment {
    std::string_view text;
    int token_id = -1;
  };

  void add(const AddedToken& token);
  std::vector<Segment> split(std::string_view text) const;
  bool empty() const { return tokens_.empty(); }

 private:
  // The longest added token starting at `pos`: (token index, length).
  std::optional<std::pair<std::size_t, std::size_t>> longest_at(std::string_view text, std::size_t pos) const;

  // A byte trie of the token contents; node 0 is the root.
  struct Node {
    int token = -1;  // index into tokens_ of the token ending here
  };
  std::vector<Node> nodes_{Node{}};
  std::unordered_map<std::uint64_t, int> children_;  // (node << 8 | byte) -> child node
  std::vector<AddedToken> tokens_;
};

}  // namespace helix
