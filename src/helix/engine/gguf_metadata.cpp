#include "helix/engine/gguf_metadata.h"

#include <nlohmann/json.hpp>

#include "helix/core/error.h"
#include "helix/tokenize/gguf_pre_tokenizers.h"
#include "helix/tokenize/hf_bpe_tokenizer.h"

namespace helix {
namespace {

auto u32(int v) { return static_cast<std::uint32_t>(v); }

void add_tokenizer(std::vector<GgufEntry>& m, const nlohmann::json& tok, int vocab) {
  std::vector<std::string> tokens(static_cast<std::size_t>(vocab));
  std::vector<std::int32_t> types(static_cast<std::size_t>(vocab), 5);  // 5 = unused
  for (const auto& [piece, id] : tok.at("model").at("vocab").items()) {
    auto i = id.get<std::size_t>();
    if (i < tokens.size()) tokens[i] = piece, types[i] = 1;  // normal
  }
  for (const auto& added : tok.value("added_tokens", nlohmann::json::array())) {
    auto i = added.at("id").get<std::size_t>();
    if (i >= tokens.size()) continue;
    tokens[i] = added.at("content").get<std::string>();
    types[i] = added.value("special", true) ? 3 : 4;  // control : user-defined
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) tokens[i] = "[PAD" + std::to_string(i) + "]";
  }
  std::vector<std::string> merges;
  for (const auto& mg : tok.at("model").value("merges", nlohmann::json::array())) {
    merges.push_back(mg.is_string() ? mg.get<std::string>()
                                    : mg.at(0).get<std::string>() + " " + mg.at(1).get<std::string>());
  }
  m.push_back({"tokenizer.ggml.model", std::string("gpt2")});
  // The pre-tokenizer by its llama.cpp name: with "default" llama.cpp would split
  // digits and punctuation differently from the tokenizer the model was made with.
  m.push_back({"tokenizer.ggml.pre", gguf_pre_name(tok.value("pre_tokenizer", nlohmann::json()))});
  m.push_back({"tokenizer.ggml.tokens", tokens});
  m.push_back({"tokenizer.ggml.token_type", types});
  m.push_back({"tokenizer.ggml.merges", merges});
  // Whether encoding starts with the bos, as the tokenizer's post-processor says
  // (llama.cpp's default for "gpt-2" is no bos).
  const auto parsed = HfBpeTokenizer::from_json(tok);
  m.push_back({"tokenizer.ggml.add_bos_token", parsed->add_bos()});
  m.push_back({"tokenizer.ggml.add_eos_token", false});
}

// llama.cpp's llama_ftype: what most of the tensors are.
std::uint32_t file_type_of(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return 0;
    case DType::F16:
      return 1;
    case DType::Q8_0:
      return 7;
    case DType::BF16:
      return 32;
    case DType::Q4_0:
      return 2;
    case DType::Q4_1:
      return 3;
    case DType::Q5_0:
      return 8;
    case DType::Q5_1:
      return 9;
    case DType::Q4_K:
      return 15;  // Q4_K_M
    case DType::Q5_K:
      return 17;  // Q5_K_M
    case DType::Q6_K:
      return 18;
  }
  fail("GGUF export: no llama.cpp file type for this dtype");
}

}  // namespace

std::vector<GgufEntry> gguf_metadata_for(const LlamaConfig& c, const nlohmann::json& tokenizer_json, DType dtype) {
  std::string arch = c.model_type == "qwen2" ? "qwen2" : "llama";
  // llama3 rope scaling travels as the rope_freqs.weight tensor, not as keys.
  if (c.sliding_window > 0) {
    fail("GGUF export of a sliding-window model is not supported (llama.cpp's llama architecture has no window key)");
  }
  std::vector<GgufEntry> m;
  m.push_back({"general.architecture", arch});
  m.push_back({"general.name", std::string("helix random ") + c.model_type});
  m.push_back({"general.file_type", file_type_of(dtype)});
  m.push_back({arch + ".block_count", u32(c.num_layers)});
  m.push_back({arch + ".context_length", u32(c.max_position_embeddings)});
  m.push_back({arch + ".embedding_length", u32(c.hidden_size)});
  m.push_back({arch + ".feed_forward_length", u32(c.intermediate_size)});
  m.push_back({arch + ".attention.head_count", u32(c.num_heads)});
  m.push_back({arch + ".attention.head_count_kv", u32(c.num_kv_heads)});
  m.push_back({arch + ".attention.key_length", u32(c.head_dim)});
  m.push_back({arch + ".attention.value_length", u32(c.head_dim)});
  m.push_back({arch + ".rope.dimension_count", u32(c.head_dim)});
  m.push_back({arch + ".rope.freq_base", static_cast<float>(c.rope_theta)});
  m.push_back({arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps)});
  m.push_back({arch + ".vocab_size", u32(c.vocab_size)});
  if (c.rope_scaling.kind == RopeScaling::Kind::kLinear) {
    m.push_back({arch + ".rope.scaling.type", std::string("linear")});
    m.push_back({arch + ".rope.scaling.factor", static_cast<float>(c.rope_scaling.factor)});
  }
  if (c.bos_token_id >= 0) m.push_back({"tokenizer.ggml.bos_token_id", u32(c.bos_token_id)});
  if (!c.eos_token_ids.empty()) m.push_back({"tokenizer.ggml.eos_token_id", u32(c.eos_token_ids.front())});
  add_tokenizer(m, tokenizer_json, c.vocab_size);
  return m;
}

}  // namespace helix
