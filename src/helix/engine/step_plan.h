// What a stage does with a step before running it, whatever device runs it (the
// CPU's StageEngine, cuda/'s stage): count its tokens, validate it whole against the
// stage and its KV ledger, and lay out each token's position, sequence and RoPE
// angles in step order.
#pragma once

#include <utility>
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

// Runs a validated step: reserves its KV blocks (KvCacheFull, changing nothing,
// when they do not fit), calls execute() for its StepOutput, then records each
// sequence's new length. If execute throws, the sequences the step created give
// their blocks back, so nothing is half-applied.
template <typename Execute>
StepOutput run_reserved(KvBlockLedger& kv, const StepInput& input, Execute&& execute) {
  std::vector<std::pair<SequenceId, int>> growth;
  growth.reserve(input.chunks.size());
  for (const SequenceChunk& ch : input.chunks) growth.emplace_back(ch.sequence, ch.position + ch.length);
  kv.reserve(growth);
  try {
    StepOutput out = execute();
    for (const auto& [id, length] : growth) kv.set_length(id, length);
    return out;
  } catch (...) {
    for (const SequenceChunk& ch : input.chunks) {
      if (ch.position == 0) kv.release(ch.sequence);
    }
    throw;
  }
}

// Token t of the step (chunks back to back): its position, its sequence, and the cos
// and sin of its RoPE angles (head_dim / 2 each, at cos[t * head_dim / 2]).
struct StepPositions {
  std::vector<int> positions;
  std::vector<SequenceId> sequences;
  std::vector<float> cos, sin;
  void prepare(const StepInput& input, int tokens, const Rope& rope);
};

}  // namespace helix
