// Random-weight models in the formats users have, so that tests, benchmarks and the
// demo exercise the real loading path (`helix model init`). A preset (or a given
// config.json) fixes the architecture; weights are drawn from a seeded generator
// (each tensor from its own stream, keyed by name, so a tensor's values do not
// depend on the file layout); a byte-level BPE tokenizer trained on a built-in
// corpus is written beside them.
//
// Scales are chosen so activations stay O(1) through the layers and logits spread
// over a few units: greedy decoding is then well separated and not decided by
// rounding noise.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "helix/engine/llama_config.h"
#include "helix/weights/dtype.h"

namespace helix {

std::vector<std::string> random_model_preset_names();
// Throws Error listing the known names.
LlamaConfig random_model_preset(const std::string& name);

enum class WeightFormat { kSafetensors, kGguf };

struct RandomModelOptions {
  LlamaConfig config;
  std::uint64_t seed = 0;
  DType dtype = DType::BF16;
  WeightFormat format = WeightFormat::kSafetensors;
  std::size_t max_shard_bytes = 0;  // safetensors: > 0 writes a sharded checkpoint
};

// Writes config.json (safetensors) or model.gguf, plus tokenizer.json, into `out`
// (created; must be empty or absent). Q8_0 needs the GGUF format.
void write_random_model(const RandomModelOptions& options, const std::filesystem::path& out);

// One tensor's deterministic values (for tests that need the original f32 data).
std::vector<float> random_tensor_values(const LlamaConfig& config, std::uint64_t seed, const std::string& hf_name,
                                        std::int64_t elements);

}  // namespace helix
