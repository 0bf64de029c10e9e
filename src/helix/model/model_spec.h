// ModelSpec: what the planner, simulator and runtime need to know about a model —
// how many layers it has, how many bytes a layer's weights take, and how many bytes
// cross the network per token. Built from a preset (the paper's two models, with the
// paper's constants) or from a Hugging Face config.json (LLaMA / Mistral / Qwen2).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace helix {

struct ModelSpec {
  std::string name;                         // "llama2-70b", or the config's model name
  int num_layers = 0;                       // transformer blocks
  double layer_param_bytes = 0;             // weight bytes of one block (VRAM and disk)
  double layer_params = 0;                  // parameters of one block (0: layer_param_bytes / dtype_bytes)
  double token_size_bytes = 2;              // one token id on the wire (coordinator hops)
  double activation_bytes_per_token = 0;    // hidden state per token between stages
  double kv_bytes_per_token_per_layer = 0;  // K and V of one token in one block (0: unknown)

  // Architecture; zero where a preset does not carry it.
  int hidden_size = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int intermediate_size = 0;
  int vocab_size = 0;
  std::string dtype = "float16";  // weight/activation dtype
  int dtype_bytes = 2;

  // Key of the paper's measured GPU profiles ("llama2_70b", "llama1_30b"), or empty
  // when no GPU was profiled for this model (then perf/ derives times from first
  // principles).
  std::string profile_key;

  double total_param_bytes() const { return layer_param_bytes * num_layers; }
};

// Names accepted by model_preset(), for help texts.
std::vector<std::string> model_preset_names();

// The paper's models with the paper's constants (planner spec §1.3), plus common
// open models described by their published architectures. Throws Error for an
// unknown name, listing the known ones.
ModelSpec model_preset(const std::string& name);

// From a Hugging Face config.json object. `where` names the source in errors.
ModelSpec model_from_hf_config(const nlohmann::json& config, const std::string& where);
ModelSpec model_from_hf_config_file(const std::filesystem::path& path);

// A preset name, a path to config.json, or a directory holding one.
ModelSpec resolve_model(const std::string& name_or_path);

}  // namespace helix
