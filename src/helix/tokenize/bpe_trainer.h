// Training byte-level BPE tokenizers, so that `helix model init` can write a real
// tokenizer.json next to a random-weight model without any download.
//
// The corpus is pre-tokenized with the GPT-2 pattern, then merges are learned the
// classic way: repeatedly merge the most frequent adjacent pair of symbols (ties
// broken by the pair's bytes, so the result depends only on the corpus). The
// vocabulary is the 256 byte symbols (id = byte value), then the learned tokens,
// then -- should the corpus run out of pairs first -- "<|reserved_N|>" special
// tokens, then `special_tokens` as special added tokens at the very end; it has
// exactly `vocab_size` entries. A special token named like a bos
// (<|begin_of_text|>, <s>, <bos>) becomes the bos that the post-processor puts in
// front (a LLaMA-3 style TemplateProcessing), so encode_with_bos adds it.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "helix/tokenize/training_corpus.h"

namespace helix {

// A complete tokenizer.json (ByteLevel pre-tokenizer and decoder, BPE model).
// Throws Error when vocab_size < 256 + the number of special tokens, or a special
// token is empty or repeated.
nlohmann::json train_byte_level_bpe(std::string_view corpus, int vocab_size,
                                    std::span<const std::string> special_tokens);

}  // namespace helix
