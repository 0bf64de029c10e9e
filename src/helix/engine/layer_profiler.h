// LayerProfiler: measures how long one layer of a model takes on this machine, for
// prompt batches of N tokens and decode batches of B sequences — the two tables the
// paper's planner and simulator read per GPU type (prompt_bs2time.csv and
// decode_bs2time.csv: batch size, milliseconds per layer). With them a cluster of
// CPU machines can be planned and simulated like the paper's GPUs.
//
// Each point runs the whole stage (all its layers, no LM head) on fresh sequences
// and divides by the layer count; the median of `repeats` runs after one warm-up.
#pragma once

#include <string>
#include <vector>

#include "helix/engine/stage_engine.h"

namespace helix {

struct ProfileOptions {
  std::vector<int> prompt_tokens = {16, 32, 64, 128, 256, 512};
  std::vector<int> decode_batches = {1, 2, 4, 8, 16, 32, 64};
  int decode_context = 128;  // tokens already cached per decode sequence
  int repeats = 3;
};

struct ProfilePoint {
  int batch = 0;             // prompt tokens, or decode sequences
  double ms_per_layer = 0;
};

struct LayerProfile {
  std::vector<ProfilePoint> prompt, decode;
};

// KV tokens a profile needs: the longest prompt, or the largest decode batch with
// each sequence's context + 1 tokens rounded up to whole blocks.
std::int64_t profile_kv_tokens(const ProfileOptions& options, int block_tokens);

// `engine` must be the first stage (it is fed token ids). Its KV cache must hold
// max(prompt) and max(batch) * (context + 1) tokens; throws Error otherwise.
LayerProfile profile_layers(Stage& engine, const ProfileOptions& options);

// "batch_tokens,time_ms_per_layer" rows starting with "0,0.0", as data/profiles/ holds.
std::string to_profile_csv(const std::vector<ProfilePoint>& points);

}  // namespace helix
