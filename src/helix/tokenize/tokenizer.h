// Tokenizer: text <-> token ids, the interface the engine and the HTTP server use.
//
// Three implementations: byte-level (tests), SentencePiece (tokenizer.model of
// LLaMA-1/2, Mistral) and Hugging Face byte-level BPE (tokenizer.json of GPT-2,
// LLaMA-3, Qwen2); load_tokenizer.h picks one for a model directory.
//
// Text is bytes: encode takes any byte string, decode returns the bytes the
// tokens stand for, which may end (or, for byte-level tokens, even be) in the
// middle of a UTF-8 character; StreamDecoder turns a token stream into valid
// text. Special tokens (bos, eos, <|im_end|>...) stand for no bytes.
//
// A Tokenizer is immutable once loaded and shared by threads: every const
// method may be called concurrently.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace helix {

// Texts of special tokens that end a turn in the chat formats of common model
// families; a vocabulary's special token with one of these names stops generation.
inline constexpr std::array<std::string_view, 8> kEndOfTurnTokenNames = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|eom_id|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "</s>"};

// The special ids a tokenizer knows about; the loader fills them from the
// tokenizer file and then from tokenizer_config.json / config.json.
struct SpecialTokenIds {
  int bos_id = -1;              // -1: none
  int eos_id = -1;              // -1: none
  bool add_bos = false;         // encode_with_bos prepends bos_id
  std::vector<int> stop_ids;    // eos plus end-of-turn tokens; generation ends on any
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // The ids of `text`; adds no bos. Throws Error on input it cannot encode.
  virtual std::vector<int> encode(std::string_view text) const = 0;
  // The bytes the ids stand for (special tokens: none). Throws Error on an id
  // outside [0, vocab_size()).
  virtual std::string decode(std::span<const int> ids) const = 0;
  // The raw bytes one token stands for ("" for special/control tokens).
  virtual std::string token_bytes(int id) const = 0;
  virtual int vocab_size() const = 0;
  // "byte", "sentencepiece" or "bpe".
  virtual std::string_view kind() const = 0;

  int bos_id() const { return special_.bos_id; }
  int eos_id() const { return special_.eos_id; }
  bool add_bos() const { return special_.add_bos; }
  const std::vector<int>& stop_ids() const { return special_.stop_ids; }
  bool is_stop(int id) const;
  // The id of a special/added token (or any piece) by its text, e.g. "<|im_end|>".
  std::optional<int> token_id(std::string_view piece) const { return find_piece(piece); }
  // bos (when there is one and add_bos()) followed by encode(text).
  std::vector<int> encode_with_bos(std::string_view text) const;

  const SpecialTokenIds& special_tokens() const { return special_; }
  // Replaces the special ids (the loader does this before sharing the tokenizer).
  // Throws Error if an id is outside the vocabulary; eos joins stop_ids.
  void set_special_tokens(SpecialTokenIds special);

 protected:
  virtual std::optional<int> find_piece(std::string_view piece) const = 0;
  // Throws Error naming `id` unless 0 <= id < vocab_size().
  void check_id(int id) const;

 private:
  SpecialTokenIds special_;
};

}  // namespace helix
