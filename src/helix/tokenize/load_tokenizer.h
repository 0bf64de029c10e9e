// Finding and loading the tokenizer of a model directory (a GGUF file's own
// vocabulary: engine/model_tokenizer.h).
//
// tokenizer.json (Hugging Face byte-level BPE) is used when present -- unless it
// is not byte-level (LLaMA-2/Mistral ship a SentencePiece-style tokenizer.json
// next to tokenizer.model) and tokenizer.model exists, which is then used; else
// tokenizer.model (SentencePiece). Then the directory's configs refine the
// special tokens, each only where it says something:
//   tokenizer_config.json: add_bos_token, bos_token, eos_token (text or {content})
//   config.json:           bos_token_id, eos_token_id (an id or a list)
//   generation_config.json: eos_token_id (an id or a list)
// Every eos id becomes a stop id, and so do end-of-turn special tokens the
// vocabulary has (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, ...).
#pragma once

#include <filesystem>
#include <memory>

#include "helix/tokenize/byte_tokenizer.h"
#include "helix/tokenize/tokenizer.h"

namespace helix {

// Throws Error naming the directory and what it looked for.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir);


// Applies the directory's config files (above) to `tokenizer`; missing files are
// fine, malformed ones are errors naming the file and field.
void apply_model_configs(Tokenizer& tokenizer, const std::filesystem::path& model_dir);

}  // namespace helix
