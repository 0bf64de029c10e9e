// The tokenizer a GGUF file carries in its metadata (llama.cpp's tokenizer.ggml.*
// keys), read into plain vectors. Every GGUF model on the hub is distributed this
// way: the vocabulary is the model's, no tokenizer.json sits beside it.
//
//   tokenizer.ggml.model        "llama" (SentencePiece-style) or "gpt2" (byte-level BPE)
//   tokenizer.ggml.pre          the pre-tokenizer of a "gpt2" vocabulary ("llama-bpe", "qwen2", ...)
//   tokenizer.ggml.tokens       the token texts, by id (byte-level text for normal BPE tokens)
//   tokenizer.ggml.scores       per token (SentencePiece merge priority); optional for gpt2
//   tokenizer.ggml.token_type   per token: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
//   tokenizer.ggml.merges       "left right" pairs, best first (gpt2)
//   tokenizer.ggml.{bos,eos,eot,eom,unknown,padding}_token_id, add_bos_token, add_eos_token,
//   tokenizer.ggml.add_space_prefix, tokenizer.chat_template
//
// Errors name the key and the index ("tokenizer.ggml.token_type[12]: ...").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace helix {

// llama.cpp's token types (llama_token_type).
enum class GgufTokenType : std::uint8_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct GgufVocab {
  std::string model;  // "llama" or "gpt2"
  std::string pre;    // "" when absent
  std::vector<std::string> tokens;
  std::vector<float> scores;  // empty when absent
  std::vector<GgufTokenType> types;
  std::vector<std::string> merges;
  int bos_id = -1;
  int eos_id = -1;
  int eot_id = -1;
  int eom_id = -1;
  int unknown_id = -1;
  int padding_id = -1;
  std::optional<bool> add_bos;
  std::optional<bool> add_eos;
  std::optional<bool> add_space_prefix;
  std::string chat_template;  // "" when absent

  int size() const { return static_cast<int>(tokens.size()); }
  GgufTokenType type(int id) const { return types[static_cast<std::size_t>(id)]; }
};

// Whether `metadata` (a GGUF file's key/values as JSON) carries a tokenizer.
bool has_gguf_vocab(const nlohmann::json& metadata);

// Reads the tokenizer; `source` (the file) prefixes errors.
GgufVocab read_gguf_vocab(const nlohmann::json& metadata, std::string_view source);

}  // namespace helix
