// What one engine step executes: a mixed batch of prefill chunks and decode tokens
// of many sequences (continuous batching). The caller (a worker's scheduler, or the
// single-process generator) chooses the composition; the engine only executes it.
//
// A chunk appends `length` tokens to a sequence whose first `position` tokens are
// already in this stage's KV cache: a prompt may arrive in several chunks, and a
// decode step is a chunk of length 1. Chunks are laid out back to back: the first
// stage reads their token ids, the others the previous stage's hidden states
// (one row of hidden_size floats per token, in the same order).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "helix/engine/kv_cache.h"

namespace helix {

struct SequenceChunk {
  SequenceId sequence = 0;
  int position = 0;   // first position of the chunk = tokens already cached
  int length = 0;     // tokens in the chunk (> 0)
  bool want_logits = false;  // last stage: return logits of the chunk's last token
};

struct StepInput {
  std::vector<SequenceChunk> chunks;
  std::span<const std::int32_t> tokens;  // first stage: one id per token of all chunks
  std::span<const float> hidden;         // other stages: tokens x hidden_size
  // Partial inference (planner spec §4.2): the request's previous node already ran
  // this stage's first `skip_layers` layers, so the step starts after them and
  // reads hidden states even on a first stage. The same for every chunk of a step.
  int skip_layers = 0;
};

struct StepOutput {
  // Not the last stage: the hidden states to send on, tokens x hidden_size.
  std::vector<float> hidden;
  // Last stage: one row of vocab_size logits per chunk with want_logits, in chunk order.
  std::vector<float> logits;
  int logit_rows = 0;
};

}  // namespace helix
