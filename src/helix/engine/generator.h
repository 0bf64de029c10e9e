// Generator: one request end to end on a stage that holds the whole model —
// prefill the prompt (in chunks), then decode token by token with the request's
// sampler until a stop token, max_tokens or the context limit. This is what
// `helix generate` runs, and the single-process reference the distributed runtime
// must match token for token.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "helix/engine/sampler.h"
#include "helix/engine/stage.h"

namespace helix {

struct GenerationResult {
  std::vector<int> tokens;         // generated ids, the stop token excluded
  std::string finish_reason;       // "stop", "length" (max_tokens or context), "cancelled"
  int prompt_tokens = 0;
  double prefill_s = 0, decode_s = 0;  // wall time
};

class Generator {
 public:
  static constexpr int kDefaultPrefillChunk = 512;  // tokens per prefill step: its largest step

  // `allowed_vocab`: sample only ids below this (the tokenizer's size); 0 = all.
  Generator(Stage& engine, int allowed_vocab = 0, int prefill_chunk = kDefaultPrefillChunk);

  // on_token(id) is called for every generated token (not the stop token); returning
  // false cancels. Throws Error for an empty prompt or one longer than the context.
  GenerationResult generate(std::span<const int> prompt, const SamplingParams& params,
                            const std::function<bool(int)>& on_token = {});

 private:
  Stage& engine_;
  int allowed_vocab_, prefill_chunk_;
  SequenceId next_id_ = 1;
};

}  // namespace helix
