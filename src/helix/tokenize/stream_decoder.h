// Incremental detokenization for streaming responses. Decoding one token at a
// time is wrong in two ways: a token may hold only part of a UTF-8 character
// (byte-level BPE, SentencePiece byte fallback), and SentencePiece drops the
// leading space of the first piece of whatever it decodes. StreamDecoder keeps a
// short window of tokens, decodes the window and emits what is new, holding back
// an unfinished character until it completes. Everything push() returns is
// valid UTF-8; for valid text the concatenation of all push() results and
// finish() equals decode(all ids).
//
// Not thread-safe (one decoder per stream); the tokenizer must outlive it.
#pragma once

#include <string>
#include <vector>

#include "helix/tokenize/tokenizer.h"

namespace helix {

class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

  // The text that token `id` completes (possibly ""). Throws Error on a bad id.
  std::string push(int id);
  // Whatever is held back, with invalid or unfinished bytes as U+FFFD; the
  // decoder is then empty (a new stream may follow).
  std::string finish();

 private:
  const Tokenizer* tokenizer_;
  std::vector<int> window_;       // tokens from the anchor on
  std::size_t emitted_bytes_ = 0; // bytes of decode(window_) already returned
};

}  // namespace helix
