// ModelFiles: an opened model — its architecture and its memory-mapped weight
// files — and the names its tensors go by.
//
// Two layouts are accepted: a Hugging Face directory (config.json plus
// model.safetensors or a sharded model.safetensors.index.json) and a GGUF file (or
// a directory holding exactly one). Opening maps the files but reads no weight
// bytes; a stage later touches only the tensors of its own layers.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "helix/engine/llama_config.h"
#include "helix/weights/tensor_store.h"

namespace helix {

enum class TensorNaming { kHuggingFace, kGguf };

// The tensors of one transformer block.
enum class LayerTensor { kAttnNorm, kQ, kK, kV, kO, kQBias, kKBias, kVBias, kFfnNorm, kGate, kUp, kDown };
// Every LayerTensor, for code that visits a block's tensors (a new one goes here too).
inline constexpr LayerTensor kAllLayerTensors[] = {
    LayerTensor::kAttnNorm, LayerTensor::kQ,      LayerTensor::kK,       LayerTensor::kV,
    LayerTensor::kO,        LayerTensor::kQBias,  LayerTensor::kKBias,   LayerTensor::kVBias,
    LayerTensor::kFfnNorm,  LayerTensor::kGate,   LayerTensor::kUp,      LayerTensor::kDown};

struct ModelFiles {
  std::filesystem::path path;
  LlamaConfig config;
  std::shared_ptr<const TensorStore> store;
  TensorNaming naming = TensorNaming::kHuggingFace;

  std::string layer_tensor(int layer, LayerTensor t) const;
  std::string embedding_tensor() const;   // token embedding table [vocab, hidden]
  std::string final_norm_tensor() const;  // [hidden]
  std::string lm_head_tensor() const;     // [vocab, hidden]; absent when tied
  std::string rope_freqs_tensor() const;  // GGUF llama3 frequency factors; "" for HF
};

// A model directory (HF or GGUF) or a .gguf file. Throws Error naming the path and
// what was missing or inconsistent.
ModelFiles open_model(const std::filesystem::path& path);

// Whether `path` holds weights open_model would read: a .gguf file, or a directory
// with a .gguf or .safetensors file (a directory with only config.json does not).
bool holds_model_weights(const std::filesystem::path& path);

}  // namespace helix
