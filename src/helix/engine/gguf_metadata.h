// The GGUF key/values llama.cpp expects for a LLaMA-family model: the
// architecture block (llama.* or qwen2.*) from a LlamaConfig and, from a
// byte-level BPE tokenizer.json, the tokenizer.ggml.* vocabulary, so a GGUF file
// written by helix is self-describing.
#pragma once

#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "helix/engine/llama_config.h"
#include "helix/weights/gguf_writer.h"

namespace helix {

// `dtype` is what the weight matrices are stored as (general.file_type).
std::vector<GgufEntry> gguf_metadata_for(const LlamaConfig& config, const nlohmann::json& tokenizer_json, DType dtype);

}  // namespace helix
