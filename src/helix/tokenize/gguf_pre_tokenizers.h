// The pre-tokenizers of GGUF "gpt2" vocabularies, by tokenizer.ggml.pre: the
// split regexes llama.cpp applies in order (each one isolates its matches), and
// the two flags that come with the name. The patterns are facts of these
// models' tokenizers as llama.cpp (MIT, src/llama-vocab.cpp) writes them down;
// helix runs them with PCRE2.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace helix {

struct GgufPreTokenizer {
  std::vector<std::string> patterns;
  bool ignore_merges = false;  // a pre-token that is a token is not merged (LLaMA-3)
  bool add_bos = false;        // the default when the file says nothing
};

// Throws Error naming the value and listing the known names when `pre` is unknown.
GgufPreTokenizer gguf_pre_tokenizer(std::string_view pre);

// The tokenizer.ggml.pre name of a Hugging Face tokenizer.json "pre_tokenizer"
// (for writing GGUF files): "gpt-2" for ByteLevel with its regex, "llama-bpe" /
// "qwen2" for a Split by LLaMA-3's / Qwen2's pattern before a regex-free
// ByteLevel. Throws Error naming the field for any other pre-tokenizer.
std::string gguf_pre_name(const nlohmann::json& pre_tokenizer);

}  // namespace helix
