// GpuProfile: everything the performance model and the simulator need about one
// model on one machine type — per-layer prompt and decode times, how many layers
// fit, and per k (layers held) the vLLM KV blocks and the batch admission limits.
//
// Measured profiles are the paper's (planner spec §1.3–1.4), compiled into the
// binary from data/profiles/<model>/ (model.json plus <gpu>/{prompt,decode}_bs2time.csv).
// Synthetic ones come from first_principles.h and have the same shape.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "helix/perf/layer_time_table.h"

namespace helix {

// Constants of the paper's simulator (§0.1).
inline constexpr int kVllmBlockSize = 16;              // tokens per vLLM KV block
inline constexpr int kMaxInputLen = 2048;              // prompt_max_tokens = requests * this
inline constexpr int kDecodePerTokenMaxContext = 1000;  // decode_max_context = tokens * this

// Batch admission limits of a node holding k layers: the paper's
// InferenceSettings minus the "typical" fields (those are in throughput_model.h).
struct InferenceLimits {
  int prompt_max_requests = 0;
  long long prompt_max_tokens = 0;   // prompt_max_requests * 2048
  int decode_max_tokens = 0;         // most sequences in one decode batch
  long long decode_max_context = 0;  // decode_max_tokens * 1000
};

struct GpuProfile {
  std::string gpu;        // the paper's profile name ("A100") or the machine type's name
  bool measured = false;  // true: the paper's tables; false: first-principles estimate
  LayerTimeTable prompt;  // seconds per layer vs prompt tokens in the batch
  LayerTimeTable decode;  // seconds per layer vs sequences in the decode batch
  int max_layers = 0;     // K: the most layers the machine holds (§1.6)
  // Index k-1 for k = 1..max_layers:
  std::vector<long long> vllm_blocks;
  std::vector<int> prompt_max_requests;
  std::vector<int> decode_max_tokens;

  // KV slots in token x layer units: 16 * blocks[k] * k (§1.4). 1 <= k <= K.
  long long kv_cache_capacity(int k) const;
  // Admission limits for k layers, 1 <= k <= K. (The paper's "force set" uses
  // min(k, K) for an over-full node; callers clamp.)
  InferenceLimits limits(int k) const;
  // Throws Error unless every per-k table has max_layers positive entries.
  void validate() const;
};

// The model-level constants of a paper model (model.json) and its measured GPUs.
struct PaperModelProfile {
  std::string key;  // "llama2_70b", "llama1_30b"
  int num_layers = 0;
  double layer_param_bytes = 0;
  double token_size_bytes = 0;
  double activation_bytes_per_token = 0;
  // §1.5 step 0: typical layers per machine type, the default dict and the one
  // used when the cluster's typical capacity is below 1.2 L; the seed perf⁰.
  std::map<std::string, int> typical_layers;
  std::map<std::string, int> typical_layers_small;
  std::map<std::string, double> initial_perf;
  std::map<std::string, GpuProfile> gpus;  // by profile name ("A100", "T4x2", ...)

  // nullptr when the paper did not measure this GPU for this model.
  const GpuProfile* find(const std::string& gpu) const;
};

// Keys of the embedded paper models ("llama1_30b", "llama2_70b").
std::vector<std::string> paper_model_keys();
bool has_paper_model(const std::string& key);
// Parses the embedded files of one paper model. Throws Error for an unknown key
// or malformed data.
PaperModelProfile load_paper_profile(const std::string& key);

}  // namespace helix
