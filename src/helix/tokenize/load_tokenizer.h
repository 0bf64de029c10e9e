// Finding and loading the tokenizer of a model directory or GGUF file.
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

// The tokenizer of a model as `--model` names it: a GGUF file's own vocabulary
// (tokenizer.ggml.*, see gguf_tokenizer.h) when it has one -- the way GGUF
// models are distributed, with nothing beside them -- else the tokenizer files
// of the file's directory (load_tokenizer). For a directory: its tokenizer
// files, else the vocabulary of the one .gguf file in it.
std::unique_ptr<Tokenizer> load_model_tokenizer(const std::filesystem::path& model);

// Applies the directory's config files (above) to `tokenizer`; missing files are
// fine, malformed ones are errors naming the file and field.
void apply_model_configs(Tokenizer& tokenizer, const std::filesystem::path& model_dir);

}  // namespace helix
