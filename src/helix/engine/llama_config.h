// LlamaConfig: the architecture of a LLaMA-family decoder (LLaMA 1/2/3, Mistral,
// Qwen2) as the engine executes it — sizes, RMSNorm epsilon, RoPE (theta, scaling,
// and which dimension pairs rotate), GQA, SwiGLU, tied embeddings, attention bias,
// sliding window.
//
// Read from a Hugging Face config.json or from GGUF metadata; written back as a
// config.json by `helix model init`. Unsupported options (another activation, an
// unknown rope_scaling type, MLP bias) are refused with the field named, never
// silently ignored: a wrong architecture gives plausible-looking wrong text.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace helix {

struct RopeScaling {
  enum class Kind { kNone, kLinear, kLlama3 };
  Kind kind = Kind::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;        // llama3
  double high_freq_factor = 4.0;       // llama3
  int original_max_position = 8192;    // llama3
};

// Which dimensions of a head form a rotated pair. Hugging Face checkpoints rotate
// (i, i + d/2) ("rotate_half"); GGUF files of the llama architecture have the Q/K
// rows permuted by llama.cpp's converter so that (2i, 2i + 1) rotate.
enum class RopePairing { kHalfSplit, kInterleaved };

struct LlamaConfig {
  std::string model_type = "llama";  // "llama", "mistral", "qwen2"
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int max_position_embeddings = 4096;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  RopePairing rope_pairing = RopePairing::kHalfSplit;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // biases on the Q, K, V projections (Qwen2)
  int sliding_window = 0;       // 0: full attention; else keys within the last W positions
  int bos_token_id = -1;
  std::vector<int> eos_token_ids;
  std::string torch_dtype = "float32";

  int q_dim() const { return num_heads * head_dim; }
  int kv_dim() const { return num_kv_heads * head_dim; }
  // Throws Error naming `where` when sizes are missing or inconsistent.
  void validate(const std::string& where) const;
};

// From a Hugging Face config.json object; `where` names the source in errors.
LlamaConfig llama_config_from_hf(const nlohmann::json& config, const std::string& where);
LlamaConfig llama_config_from_hf_file(const std::string& path);
// From GGUF key/value metadata (as TensorStore::metadata() gives it).
LlamaConfig llama_config_from_gguf(const nlohmann::json& metadata, const std::string& where);
// The config.json a Hugging Face loader (and llama_config_from_hf) reads back.
nlohmann::json to_hf_json(const LlamaConfig& config);

}  // namespace helix
