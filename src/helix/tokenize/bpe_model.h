// The model of a byte-level BPE tokenizer (tokenizer.json "model", type BPE):
// a vocabulary of byte strings and a ranked list of merges. A pre-token is
// encoded by starting from its single bytes and repeatedly merging the adjacent
// pair with the lowest rank (leftmost first among equal ranks) until no pair
// merges. That takes O(n log n) for n bytes with a heap over a linked list of
// symbols; results are cached per word.
//
// Vocabulary entries are stored in the byte-level alphabet in the file; here
// they are raw bytes. With byte_fallback (SentencePiece-style tokenizer.json of
// LLaMA-2 and Mistral) the vocabulary is plain text, a word starts as its
// characters, and a character outside the vocabulary becomes its byte tokens
// <0xAB>. With ignore_merges (LLaMA-3), a pre-token that is itself
// in the vocabulary is one token without merging.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "helix/tokenize/word_cache.h"

namespace helix {

// Ids at or above this are refused as corrupt (real vocabularies stay < 1M).
inline constexpr int kMaxTokenId = 1 << 24;

class BpeModel {
 public:
  // From tokenizer.json's "model" object; errors name fields under `path`.
  static BpeModel from_json(const nlohmann::json& model, std::string_view path = "model");
  // From a GGUF vocabulary (tokenizer.ggml.tokens / merges): the byte-level text
  // of each id and "left right" merges, best first. As in llama.cpp, a text given
  // to several ids maps to the last one; a merge whose halves or result are not
  // tokens is skipped, and a byte without a token is dropped. Errors name `tokens_key` / `merges_key`.
  static BpeModel from_token_list(const std::vector<std::string>& byte_level_texts,
                                  const std::vector<std::string>& merges, bool ignore_merges,
                                  std::string_view tokens_key, std::string_view merges_key);

  // Appends the ids of one pre-token (raw bytes) to `out`.
  void encode_word(std::string_view word, std::vector<int>& out) const;

  // One past the largest id of the vocabulary.
  int id_end() const { return static_cast<int>(id_bytes_.size()); }
  // The bytes of `id` (a vocabulary entry outside the byte-level alphabet, or
  // of a character BPE: its text as is; a byte token: its byte; an unused id: ""). Requires 0 <= id < id_end().
  const std::string& id_bytes(int id) const { return id_bytes_[static_cast<std::size_t>(id)]; }
  // The id of a vocabulary entry given in byte-level text (as in the file).
  std::optional<int> find_text(std::string_view byte_level_text) const;
  std::size_t merge_count() const { return merges_.size(); }
  bool is_byte_level() const { return !characters_; }
  // Whether `id` is a byte token <0xAB> of a character BPE.
  bool is_byte_token(int id) const;

 private:
  struct Merge {
    int rank;
    int merged_id;
  };
  static std::uint64_t pair_key(int left, int right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
  }
  void read_vocab(const nlohmann::json& vocab, std::string_view path);
  void read_merges(const nlohmann::json& merges, std::string_view path);
  // allow_missing: a byte without a token gets id -1 (dropped when encoding).
  void index_bytes(std::string_view path, bool allow_missing);
  void index_byte_tokens(std::string_view path);
  // The symbols a word starts as: its bytes, or (characters_) its characters
  // with unknown ones as byte tokens.
  std::vector<int> initial_ids(std::string_view word) const;
  void merge_word(std::string_view word, std::vector<int>& out) const;

  std::unordered_map<std::string, int> ids_;   // raw bytes -> id
  std::unordered_map<std::string, int> other_; // entries outside the alphabet, by their text
  std::vector<std::string> id_bytes_;
  std::array<int, 256> byte_ids_{};
  std::unordered_map<std::uint64_t, Merge> merges_;
  bool ignore_merges_ = false;
  bool characters_ = false;  // a character BPE with byte fallback (else byte-level)
  std::unique_ptr<WordCache> cache_ = std::make_unique<WordCache>();
};

}  // namespace helix
