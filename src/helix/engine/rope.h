// Rotary position embedding: the per-pair frequencies of a LlamaConfig (theta,
// linear or llama3 scaling, or GGUF's explicit rope_freqs factors) and the rotation
// of Q/K heads at a position.
//
// Angles are computed in double (position * frequency exceeds float's exact range
// for long contexts) and rounded once to float cos/sin.
#pragma once

#include <span>
#include <vector>

#include "helix/engine/llama_config.h"

namespace helix {

class Rope {
 public:
  // `freq_factors` (GGUF rope_freqs.weight, llama3 models): divides each pair's
  // frequency; empty = derive scaling from the config.
  Rope(const LlamaConfig& config, std::span<const float> freq_factors = {});

  int head_dim() const { return head_dim_; }
  // cos/sin of every pair at `position`: out has head_dim/2 entries each.
  void angles(int position, float* cos_out, float* sin_out) const;
  // Rotates `heads` consecutive heads of x in place with precomputed angles.
  void rotate(float* x, int heads, const float* cos_v, const float* sin_v) const;
  const std::vector<double>& inv_freq() const { return inv_freq_; }

 private:
  int head_dim_;
  RopePairing pairing_;
  std::vector<double> inv_freq_;
};

}  // namespace helix
