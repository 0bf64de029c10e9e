// Training a real SentencePiece model (tokenizer.model) with the library's own
// trainer: BPE with byte fallback, identity normalization and no whitespace
// squeezing (so decode(encode(text)) == text for any UTF-8), digits split, bos
// <s> = 1, eos </s> = 2, unk = 0. Used by tests and by tools that need a
// LLaMA-2 style tokenizer without downloading one.
#pragma once

#include <filesystem>
#include <string_view>

namespace helix {

// Writes the model to `out_path`. `vocab_size` must leave room for the 256 byte
// pieces, the 3 control pieces and the corpus' characters (the trainer may
// produce fewer pieces when the corpus is small). Throws Error with the
// trainer's message on failure.
void train_sentencepiece_model(std::string_view corpus, int vocab_size, const std::filesystem::path& out_path);

}  // namespace helix
