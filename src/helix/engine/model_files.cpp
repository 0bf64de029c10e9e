#include "helix/engine/model_files.h"

#include <fmt/format.h>

#include "helix/core/error.h"

namespace helix {
namespace {

const char* hf_suffix(LayerTensor t) {
  switch (t) {
    case LayerTensor::kAttnNorm: return "input_layernorm.weight";
    case LayerTensor::kQ: return "self_attn.q_proj.weight";
    case LayerTensor::kK: return "self_attn.k_proj.weight";
    case LayerTensor::kV: return "self_attn.v_proj.weight";
    case LayerTensor::kO: return "self_attn.o_proj.weight";
    case LayerTensor::kQBias: return "self_attn.q_proj.bias";
    case LayerTensor::kKBias: return "self_attn.k_proj.bias";
    case LayerTensor::kVBias: return "self_attn.v_proj.bias";
    case LayerTensor::kFfnNorm: return "post_attention_layernorm.weight";
    case LayerTensor::kGate: return "mlp.gate_proj.weight";
    case LayerTensor::kUp: return "mlp.up_proj.weight";
    case LayerTensor::kDown: return "mlp.down_proj.weight";
  }
  return "";
}

const char* gguf_suffix(LayerTensor t) {
  switch (t) {
    case LayerTensor::kAttnNorm: return "attn_norm.weight";
    case LayerTensor::kQ: return "attn_q.weight";
    case LayerTensor::kK: return "attn_k.weight";
    case LayerTensor::kV: return "attn_v.weight";
    case LayerTensor::kO: return "attn_output.weight";
    case LayerTensor::kQBias: return "attn_q.bias";
    case LayerTensor::kKBias: return "attn_k.bias";
    case LayerTensor::kVBias: return "attn_v.bias";
    case LayerTensor::kFfnNorm: return "ffn_norm.weight";
    case LayerTensor::kGate: return "ffn_gate.weight";
    case LayerTensor::kUp: return "ffn_up.weight";
    case LayerTensor::kDown: return "ffn_down.weight";
  }
  return "";
}

bool is_gguf_file(const std::filesystem::path& p) { return p.extension() == ".gguf"; }

ModelFiles open_gguf(const std::filesystem::path& file) {
  ModelFiles m;
  m.path = file;
  m.naming = TensorNaming::kGguf;
  m.store = std::make_shared<const TensorStore>(TensorStore::open(file));
  m.config = llama_config_from_gguf(m.store->metadata(), file.string());
  m.config.tie_word_embeddings = !m.store->contains("output.weight");
  return m;
}

ModelFiles open_hf(const std::filesystem::path& dir) {
  ModelFiles m;
  m.path = dir;
  m.naming = TensorNaming::kHuggingFace;
  m.config = llama_config_from_hf_file((dir / "config.json").string());
  m.store = std::make_shared<const TensorStore>(TensorStore::open(dir));
  // Some checkpoints tie without saying so: no lm_head means the embedding is reused.
  if (!m.store->contains("lm_head.weight")) m.config.tie_word_embeddings = true;
  return m;
}

}  // namespace

std::string ModelFiles::layer_tensor(int layer, LayerTensor t) const {
  return naming == TensorNaming::kGguf ? fmt::format("blk.{}.{}", layer, gguf_suffix(t))
                                       : fmt::format("model.layers.{}.{}", layer, hf_suffix(t));
}
std::string ModelFiles::embedding_tensor() const {
  return naming == TensorNaming::kGguf ? "token_embd.weight" : "model.embed_tokens.weight";
}
std::string ModelFiles::final_norm_tensor() const {
  return naming == TensorNaming::kGguf ? "output_norm.weight" : "model.norm.weight";
}
std::string ModelFiles::lm_head_tensor() const {
  return naming == TensorNaming::kGguf ? "output.weight" : "lm_head.weight";
}
std::string ModelFiles::rope_freqs_tensor() const {
  return naming == TensorNaming::kGguf ? "rope_freqs.weight" : "";
}

ModelFiles open_model(const std::filesystem::path& given) {
  // Messages name the path as the user meant it: "x//model.gguf" -> "x/model.gguf".
  const std::filesystem::path path = given.lexically_normal();
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    if (is_gguf_file(path)) return open_gguf(path);
    fail("{}: not a model: expected a directory with config.json, or a .gguf file", path.string());
  }
  if (!std::filesystem::is_directory(path, ec)) fail("{}: no such model file or directory", path.string());
  if (std::filesystem::exists(path / "config.json")) return open_hf(path);
  std::vector<std::filesystem::path> ggufs;
  for (const auto& e : std::filesystem::directory_iterator(path)) {
    if (e.is_regular_file() && is_gguf_file(e.path())) ggufs.push_back(e.path());
  }
  if (ggufs.size() == 1) return open_gguf(ggufs.front());
  if (ggufs.empty()) fail("{}: no config.json and no .gguf file in this directory", path.string());
  fail("{}: {} .gguf files and no config.json; name the file to use", path.string(), ggufs.size());
}

bool holds_model_weights(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return is_gguf_file(path);
  if (!std::filesystem::is_directory(path, ec)) return false;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    if (e.is_regular_file() && (is_gguf_file(e.path()) || e.path().extension() == ".safetensors")) return true;
  }
  return false;
}

}  // namespace helix
