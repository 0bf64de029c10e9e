// Sampler: turns one row of logits into the next token for one request —
// greedy (temperature 0), or temperature with top-k and top-p (nucleus) filtering —
// drawing from the request's own seeded generator, so a request's output depends
// only on its seed and its logits, not on what else is in the batch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace helix {

struct SamplingParams {
  double temperature = 0.0;  // 0: greedy (argmax, lowest id on ties)
  int top_k = 0;             // 0: off
  double top_p = 1.0;        // 1: off; keep the smallest set whose probability reaches top_p
  std::uint64_t seed = 0;
  int max_tokens = 16;       // generated tokens at most
  std::vector<int> stop_tokens;  // generation ends after emitting one of these
};

// Throws Error naming the field for a negative temperature, top_p outside (0, 1],
// negative top_k or max_tokens.
void validate(const SamplingParams& params);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // `allowed` limits the choice to ids < allowed (a model's padded vocabulary can be
  // larger than its tokenizer's); 0 = the whole row.
  int sample(std::span<const float> logits, int allowed = 0);
  bool is_stop(int token) const;
  // The generator's state: a Sampler made with this as its seed (and the same
  // other parameters) draws exactly what this one would draw next.
  std::uint64_t state() const { return state_; }

 private:
  double uniform();  // [0, 1) with 53 random bits

  SamplingParams params_;
  std::uint64_t state_;
  std::vector<std::pair<float, int>> candidates_;
  std::vector<double> probs_;
};

}  // namespace helix
