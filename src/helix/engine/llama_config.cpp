#include "helix/engine/llama_config.h"

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "helix/core/error.h"

namespace helix {
namespace {

using nlohmann::json;

int positive_int(const json& j, const std::string& key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) fail("{}: missing field '{}'", where, key);
  if (!it->is_number_integer() || it->get<long long>() <= 0 || it->get<long long>() > (1LL << 30)) {
    fail("{}: field '{}' must be a positive integer, got {}", where, key, it->dump());
  }
  return it->get<int>();
}

double positive_number(const json& j, const std::string& key, double fallback,
                       const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number() || !(it->get<double>() > 0) || !std::isfinite(it->get<double>())) {
    fail("{}: field '{}' must be a positive number, got {}", where, key, it->dump());
  }
  return it->get<double>();
}

bool optional_bool(const json& j, const std::string& key, bool fallback, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail("{}: field '{}' must be true or false, got {}", where, key, it->dump());
  return it->get<bool>();
}

// eos_token_id is an int or a list of ints (LLaMA-3 instruct lists several).
std::vector<int> token_ids(const json& j, const std::string& key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  std::vector<int> ids;
  auto add = [&](const json& v) {
    if (!v.is_number_integer() || v.get<long long>() < 0) {
      fail("{}: field '{}' must hold non-negative token ids, got {}", where, key, it->dump());
    }
    ids.push_back(v.get<int>());
  };
  if (it->is_array()) {
    for (const json& v : *it) add(v);
  } else {
    add(*it);
  }
  return ids;
}

RopeScaling rope_scaling_from_hf(const json& config, const std::string& where) {
  RopeScaling s;
  auto it = config.find("rope_scaling");
  if (it == config.end() || it->is_null()) return s;
  if (!it->is_object()) fail("{}: field 'rope_scaling' must be an object or null", where);
  std::string field = where + ": rope_scaling";
  std::string type = it->value("rope_type", it->value("type", std::string("default")));
  if (type == "default") return s;
  s.factor = positive_number(*it, "factor", 1.0, field);
  if (type == "linear") {
    s.kind = RopeScaling::Kind::kLinear;
  } else if (type == "llama3") {
    s.kind = RopeScaling::Kind::kLlama3;
    s.low_freq_factor = positive_number(*it, "low_freq_factor", 1.0, field);
    s.high_freq_factor = positive_number(*it, "high_freq_factor", 4.0, field);
    s.original_max_position = positive_int(*it, "original_max_position_embeddings", field);
    if (!(s.high_freq_factor > s.low_freq_factor)) {
      fail("{}: high_freq_factor must exceed low_freq_factor", field);
    }
  } else {
    fail("{}: rope type '{}' is not supported (supported: default, linear, llama3)", field, type);
  }
  return s;
}

}  // namespace

void LlamaConfig::validate(const std::string& where) const {
  if (hidden_size <= 0 || intermediate_size <= 0 || num_layers <= 0 || num_heads <= 0 ||
      num_kv_heads <= 0 || head_dim <= 0 || vocab_size <= 0) {
    fail("{}: every size (hidden, intermediate, layers, heads, kv heads, head dim, vocab) must be positive",
         where);
  }
  if (num_heads % num_kv_heads != 0) {
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", where, num_heads,
         num_kv_heads);
  }
  if (head_dim % 2 != 0) fail("{}: head_dim {} must be even for RoPE", where, head_dim);
  if (sliding_window < 0) fail("{}: sliding_window must not be negative", where);
  // Products used as sizes must fit in int.
  if (static_cast<long long>(num_heads) * head_dim > (1LL << 30) ||
      static_cast<long long>(hidden_size) * intermediate_size > (1LL << 40)) {
    fail("{}: heads x head_dim or hidden x intermediate is too large", where);
  }
  if (max_position_embeddings <= 0) fail("{}: max_position_embeddings must be positive", where);
}

LlamaConfig llama_config_from_hf(const json& config, const std::string& where) {
  if (!config.is_object()) fail("{}: expected a JSON object", where);
  LlamaConfig c;
  c.model_type = config.value("model_type", std::string("llama"));
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2") {
    fail("{}: model_type '{}' is not supported (supported: llama, mistral, qwen2)", where, c.model_type);
  }
  std::string act = config.value("hidden_act", std::string("silu"));
  if (act != "silu") fail("{}: hidden_act '{}' is not supported (SwiGLU needs 'silu')", where, act);
  if (optional_bool(config, "mlp_bias", false, where)) fail("{}: mlp_bias true is not supported", where);
  c.hidden_size = positive_int(config, "hidden_size", where);
  c.intermediate_size = positive_int(config, "intermediate_size", where);
  c.num_layers = positive_int(config, "num_hidden_layers", where);
  c.num_heads = positive_int(config, "num_attention_heads", where);
  c.num_kv_heads = config.contains("num_key_value_heads") && !config["num_key_value_heads"].is_null()
                       ? positive_int(config, "num_key_value_heads", where)
                       : c.num_heads;
  c.head_dim = config.contains("head_dim") && !config["head_dim"].is_null()
                   ? positive_int(config, "head_dim", where)
                   : c.hidden_size / c.num_heads;
  if (!config.contains("head_dim") && c.hidden_size % c.num_heads != 0) {
    fail("{}: hidden_size {} is not a multiple of num_attention_heads {}", where, c.hidden_size,
         c.num_heads);
  }
  c.vocab_size = positive_int(config, "vocab_size", where);
  if (config.contains("max_position_embeddings")) {
    c.max_position_embeddings = positive_int(config, "max_position_embeddings", where);
  }
  c.rms_norm_eps = positive_number(config, "rms_norm_eps", 1e-6, where);
  c.rope_theta = positive_number(config, "rope_theta", 10000.0, where);
  c.rope_scaling = rope_scaling_from_hf(config, where);
  c.tie_word_embeddings = optional_bool(config, "tie_word_embeddings", false, where);
  // Qwen2 has Q/K/V biases; LLaMA's attention_bias also biases o_proj, which the
  // engine does not implement — refused rather than silently dropped.
  c.attention_bias = c.model_type == "qwen2";
  if (c.model_type == "llama" && optional_bool(config, "attention_bias", false, where)) {
    fail("{}: attention_bias true (biases on q/k/v/o_proj) is not supported for model_type llama", where);
  }
  // Only Mistral has a window on every layer (default 4096 when the key is absent,
  // none when it is null). Qwen2 windows only layers >= max_window_layers: not
  // implemented, so refused. LLaMA has no window, whatever the file says.
  if (c.model_type == "mistral") {
    auto sw = config.find("sliding_window");
    if (sw == config.end()) {
      c.sliding_window = 4096;
    } else if (!sw->is_null()) {
      c.sliding_window = positive_int(config, "sliding_window", where);
    }
  }
  if (c.model_type == "qwen2" && optional_bool(config, "use_sliding_window", false, where)) {
    fail("{}: use_sliding_window true (Qwen2's per-layer window) is not supported", where);
  }
  auto bos = token_ids(config, "bos_token_id", where);
  if (!bos.empty()) c.bos_token_id = bos.front();
  c.eos_token_ids = token_ids(config, "eos_token_id", where);
  c.torch_dtype = config.value("torch_dtype", std::string("float32"));
  c.validate(where);
  return c;
}

LlamaConfig llama_config_from_hf_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open file", path);
  json config;
  try {
    config = json::parse(in);
  } catch (const json::parse_error& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  return llama_config_from_hf(config, path);
}

namespace {

const json& gguf_key(const json& meta, const std::string& key, const std::string& where) {
  auto it = meta.find(key);
  if (it == meta.end()) fail("{}: missing GGUF key '{}'", where, key);
  return *it;
}

int gguf_int(const json& meta, const std::string& key, const std::string& where) {
  const json& v = gguf_key(meta, key, where);
  if (!v.is_number_integer() || v.get<long long>() <= 0 || v.get<long long>() > (1LL << 30)) {
    fail("{}: GGUF key '{}' must be a positive integer, got {}", where, key, v.dump());
  }
  return v.get<int>();
}

}  // namespace

LlamaConfig llama_config_from_gguf(const json& meta, const std::string& where) {
  LlamaConfig c;
  const json& arch_value = gguf_key(meta, "general.architecture", where);
  if (!arch_value.is_string()) fail("{}: GGUF key 'general.architecture' must be a string", where);
  std::string arch = arch_value.get<std::string>();
  if (arch != "llama" && arch != "qwen2") {
    fail("{}: GGUF architecture '{}' is not supported (supported: llama, qwen2)", where, arch);
  }
  c.model_type = arch;
  // llama.cpp's converter permutes Q/K rows of the llama architecture (interleaved
  // pairs); Qwen2 keeps Hugging Face's layout and rotates halves ("NEOX").
  c.rope_pairing = arch == "llama" ? RopePairing::kInterleaved : RopePairing::kHalfSplit;
  c.attention_bias = arch == "qwen2";
  c.num_layers = gguf_int(meta, arch + ".block_count", where);
  c.hidden_size = gguf_int(meta, arch + ".embedding_length", where);
  c.intermediate_size = gguf_int(meta, arch + ".feed_forward_length", where);
  c.num_heads = gguf_int(meta, arch + ".attention.head_count", where);
  c.num_kv_heads = meta.contains(arch + ".attention.head_count_kv")
                       ? gguf_int(meta, arch + ".attention.head_count_kv", where)
                       : c.num_heads;
  c.head_dim = meta.contains(arch + ".attention.key_length")
                   ? gguf_int(meta, arch + ".attention.key_length", where)
                   : c.hidden_size / c.num_heads;
  if (meta.contains(arch + ".context_length")) {
    c.max_position_embeddings = gguf_int(meta, arch + ".context_length", where);
  }
  if (meta.contains(arch + ".vocab_size")) {
    c.vocab_size = gguf_int(meta, arch + ".vocab_size", where);
  } else if (meta.contains("tokenizer.ggml.tokens") && meta["tokenizer.ggml.tokens"].is_array()) {
    c.vocab_size = static_cast<int>(meta["tokenizer.ggml.tokens"].size());
  } else {
    fail("{}: GGUF has neither '{}.vocab_size' nor 'tokenizer.ggml.tokens'", where, arch);
  }
  c.rms_norm_eps = positive_number(meta, arch + ".attention.layer_norm_rms_epsilon", 1e-5, where);
  c.rope_theta = positive_number(meta, arch + ".rope.freq_base", 10000.0, where);
  std::string scaling = meta.value(arch + ".rope.scaling.type", std::string("none"));
  if (scaling == "linear") {
    c.rope_scaling.kind = RopeScaling::Kind::kLinear;
    c.rope_scaling.factor = positive_number(meta, arch + ".rope.scaling.factor", 1.0, where);
  } else if (scaling != "none") {
    fail("{}: GGUF rope scaling '{}' is not supported (supported: none, linear; llama3 comes as rope_freqs.weight)",
         where, scaling);
  }
  auto token_key = [&](const std::string& key) {
    const json& v = meta[key];
    if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > (1LL << 30)) {
      fail("{}: GGUF key '{}' must be a token id, got {}", where, key, v.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return v.get<int>();
  };
  if (meta.contains("tokenizer.ggml.bos_token_id")) c.bos_token_id = token_key("tokenizer.ggml.bos_token_id");
  if (meta.contains("tokenizer.ggml.eos_token_id")) c.eos_token_ids = {token_key("tokenizer.ggml.eos_token_id")};
  if (meta.contains(arch + ".rope.dimension_count") &&
      gguf_int(meta, arch + ".rope.dimension_count", where) != c.head_dim) {
    fail("{}: partial rotary embeddings ({}.rope.dimension_count != head dim) are not supported", where, arch);
  }
  c.validate(where);
  return c;
}

json to_hf_json(const LlamaConfig& c) {
  json j;
  j["model_type"] = c.model_type;
  const char* arch = c.model_type == "qwen2"     ? "Qwen2ForCausalLM"
                     : c.model_type == "mistral" ? "MistralForCausalLM"
                                                 : "LlamaForCausalLM";
  j["architectures"] = json::array({arch});
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.model_type == "llama") j["attention_bias"] = false;
  switch (c.rope_scaling.kind) {
    case RopeScaling::Kind::kNone: j["rope_scaling"] = nullptr; break;
    case RopeScaling::Kind::kLinear:
      j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope_scaling.factor}};
      break;
    case RopeScaling::Kind::kLlama3:
      j["rope_scaling"] = {{"rope_type", "llama3"},
                           {"factor", c.rope_scaling.factor},
                           {"low_freq_factor", c.rope_scaling.low_freq_factor},
                           {"high_freq_factor", c.rope_scaling.high_freq_factor},
                           {"original_max_position_embeddings", c.rope_scaling.original_max_position}};
      break;
  }
  if (c.model_type == "mistral") {
    j["sliding_window"] = c.sliding_window > 0 ? nlohmann::json(c.sliding_window) : nlohmann::json(nullptr);
  }
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_ids.size() == 1) {
    j["eos_token_id"] = c.eos_token_ids.front();
  } else if (!c.eos_token_ids.empty()) {
    j["eos_token_id"] = c.eos_token_ids;
  }
  j["torch_dtype"] = c.torch_dtype;
  return j;
}

}  // namespace helix
