// What a stage does with a step before running it, whatever device runs it (the
// CPU's StageEngine, cuda/'s stage): count its tokens, validate it whole against the
// stage and its KV ledger, and lay out each token's position, sequence and RoPE
// angles in step order.
#pragma once

#include <vector>

#include "helix/engine/kv_ledger.h"
#include "helix/engine/llama_config.h"
#include "helix/engine/rope.h"
#include "helix/engine/stage_batch.h"

namespace helix {

// The step's tokens (its chunks' lengths added); fails beyond 2^30.
int step_tokens(const StepInput& input);

// Throws Error naming what is wrong, before anything runs: unknown or duplicated
// sequences, positions that do not continue the cache, token ids outside the
// vocabulary, sequences past the context length, skipped layers beyond the stage's
// `stage_layers`, hidden states of the wrong size. `embeds`: the stage reads token
// ids (a first stage skipping no layers), else hidden states.
void validate_step(const StepInput& input, int tokens, const LlamaConfig& config, const KvBlockLedger& kv,
                   int stage_layers, bool embeds);

// Token t of the step (chunks back to back): its position, its sequence, and the cos
// and sin of its RoPE angles (head_dim / 2 each, at cos[t * head_dim / 2]).
struct StepPositions {
  std::vector<int> positions;
  std::vector<SequenceId> sequences;
  std::vector<float> cos, sin;
  void prepare(const StepInput& input, int tokens, const Rope& rope);
};

}  // namespace helix
