// SentencePiece-style encoding of a GGUF "llama" vocabulary, as llama.cpp does it
// (no sentencepiece library: the GGUF carries only pieces and scores).
//
// The text (spaces already written as U+2581) starts as one symbol per UTF-8
// character. Repeatedly, of all adjacent pairs whose concatenation is a piece,
// the one with the highest score is merged (the leftmost on ties). Each final
// symbol is then a piece (merges only ever form pieces) or a single character
// that is none, which becomes byte pieces <0xAB>.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "helix/tokenize/gguf_vocab.h"

namespace helix {

class SpmEncoder {
 public:
  // Throws Error when the vocabulary cannot encode every byte (no <0xAB> pieces,
  // no single-byte pieces and no unknown token).
  explicit SpmEncoder(const GgufVocab& vocab);

  // Appends the ids of `escaped` to `out`.
  void encode(std::string_view escaped, std::vector<int>& out) const;

  // The id of a piece's exact text, or -1.
  int find(std::string_view text) const;

 private:
  struct Symbol {
    int prev;
    int next;
    std::size_t begin;
    std::size_t size;  // 0: merged into its left neighbour
  };

  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, int, TextHash, std::equal_to<>> ids_;
  std::vector<float> scores_;
  std::array<int, 256> byte_ids_{};
};

}  // namespace helix
